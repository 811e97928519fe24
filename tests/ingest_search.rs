//! Ingest and search through the `docent` binary, on PDFs, Markdown and text that the
//! tests write, with a real index on disk.

mod common;

use common::pdf::{build_pdf, pdf_from_lines, PdfOptions, TextRun};
use common::{describe, file_name, stderr, TestEnv};

fn manual_pdf() -> Vec<u8> {
    pdf_from_lines(&[
        &["Pump XR-2000 operating manual", "Chapter 1: Safety"],
        &["Error E-102 means the intake filter is blocked.", "Clean the filter and restart."],
        &["水泵维护说明", "更换密封圈之前必须关闭电源。"],
    ])
}

#[test]
fn ingest_reports_each_file_and_search_finds_pages() {
    let env = TestEnv::new();
    env.write("manual.pdf", manual_pdf());
    env.write("notes/setup.md", "# Setup\n\n## Network\n\nSet the gateway address to 10.0.0.1 in the router menu.\n");
    env.write("notes/readme.txt", "Warranty claims go to the service desk within 30 days.\n");
    env.write("notes/drawing.svg", b"<svg/>");

    let output = env.run(&["ingest", "docs"]);
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(stdout.contains("docs/manual.pdf: ingested (3 pages"), "{stdout}");
    assert!(stdout.contains("docs/notes/setup.md: ingested"), "{stdout}");
    assert!(stdout.contains("docs/notes/readme.txt: ingested"), "{stdout}");
    assert!(!stdout.contains("drawing.svg"), "unsupported files in folders are skipped: {stdout}");
    assert!(
        stderr(&output).contains("note: skipped 1 file(s) of unsupported types in the folders (.svg 1)"),
        "{}",
        describe(&output)
    );

    let results = env.search_json("default", "what does error E-102 mean?");
    let top = &results["results"][0];
    assert_eq!(top["kind"], "text");
    assert_eq!(top["doc"], "docs/manual.pdf");
    assert_eq!(top["pages"], serde_json::json!([2]));
    assert!(top["text"].as_str().unwrap().contains("intake filter is blocked"), "{top}");
    assert!(top["score"].as_f64().unwrap() > 0.0);

    let chinese = env.search_json("default", "如何更换密封圈？");
    let top = &chinese["results"][0];
    assert_eq!(top["doc"], "docs/manual.pdf");
    assert_eq!(top["pages"], serde_json::json!([3]));
    assert!(top["text"].as_str().unwrap().contains("关闭电源"), "{top}");

    let markdown = env.search_json("default", "gateway address");
    let top = &markdown["results"][0];
    assert_eq!(top["doc"], "docs/notes/setup.md");
    assert_eq!(top["pages"], serde_json::json!([]));
    assert_eq!(top["heading"], "Setup > Network");
}

#[test]
fn reingest_is_idempotent_and_edits_replace() {
    let env = TestEnv::new();
    let guide = env.write("guide.md", "# Guide\n\nThe blue lever opens the hatch.\n");
    env.write("manual.pdf", manual_pdf());
    env.run_ok(&["ingest", "docs"]);

    let again = env.run_ok(&["ingest", "docs"]);
    assert!(again.contains("docs/guide.md: unchanged"), "{again}");
    assert!(again.contains("docs/manual.pdf: unchanged"), "{again}");
    assert_eq!(env.search_json("default", "blue lever hatch")["results"].as_array().unwrap().len(), 1);

    std::fs::write(&guide, "# Guide\n\nThe green switch resets the counter.\n").unwrap();
    let edited = env.run_ok(&["ingest", "docs"]);
    assert!(edited.contains("docs/guide.md: ingested"), "{edited}");
    assert!(edited.contains("docs/manual.pdf: unchanged"), "{edited}");
    assert!(env.search_json("default", "blue lever hatch")["results"].as_array().unwrap().is_empty());
    let replaced = env.search_json("default", "green switch counter");
    assert_eq!(replaced["results"].as_array().unwrap().len(), 1);

    // The same file given by another path is the same document.
    let absolute = env.docs().join("guide.md");
    let by_absolute = env.run_ok(&["ingest", absolute.to_str().unwrap()]);
    assert!(by_absolute.contains(": unchanged"), "{by_absolute}");
}

#[test]
fn broken_pdfs_fail_alone() {
    let env = TestEnv::new();
    env.write("good.pdf", manual_pdf());
    env.run_ok(&["ingest", "docs"]);

    let encrypted = build_pdf(&[vec![TextRun { text: "secret text", x: 72, y: 700 }]], &PdfOptions { encrypted: true, ..PdfOptions::default() });
    env.write("encrypted.pdf", encrypted);
    let valid = manual_pdf();
    env.write("truncated.pdf", &valid[..valid.len() / 2]);
    env.write("empty.pdf", b"");
    env.write("not-a-pdf.pdf", b"<html>this is a web page</html>");
    env.write("later.md", "# Later\n\nThe spare fuse is under the lid.\n");

    let output = env.run(&["ingest", "docs"]);
    assert!(!output.status.success(), "failures give a non-zero status\n{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("docs/encrypted.pdf: failed: PDF is encrypted"), "{stdout}");
    assert!(stdout.contains("docs/truncated.pdf: failed:"), "{stdout}");
    assert!(stdout.contains("docs/empty.pdf: failed: file is empty"), "{stdout}");
    assert!(stdout.contains("docs/not-a-pdf.pdf: failed: not a valid PDF"), "{stdout}");
    assert!(stdout.contains("docs/later.md: ingested"), "files after failures are ingested: {stdout}");
    assert!(stdout.contains("docs/good.pdf: unchanged"), "{stdout}");
    assert!(stderr(&output).contains("4 file(s) failed"), "{}", stderr(&output));

    // The good file from before is still searchable, and the later file too.
    assert_eq!(file_name(&env.search_json("default", "E-102 intake filter")["results"][0]["doc"]), "good.pdf");
    assert_eq!(file_name(&env.search_json("default", "spare fuse")["results"][0]["doc"]), "later.md");
}

#[test]
fn hostile_queries_never_fail() {
    let env = TestEnv::new();
    env.write("a.md", "# Title\n\nSome text about field: values (and more).\n");
    env.run_ok(&["ingest", "docs"]);
    let long_query = "field ".repeat(2_000);
    let queries = [
        "\"unbalanced quote",
        "field:value",
        "text:(a OR b) AND -",
        "-",
        "((((",
        "*",
        "~2^3",
        "\\",
        "NOT",
        "：“”（）",
        " ",
        long_query.as_str(),
    ];
    for query in queries {
        let output = env.run(&["search", "--json", "--", query]);
        assert!(output.status.success(), "query {query:?} failed\n{}", describe(&output));
        let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
        assert!(parsed["results"].is_array(), "query {query:?}: {parsed}");
    }
    let hits = env.search_json("default", "field:");
    assert_eq!(hits["results"].as_array().unwrap().len(), 1, "`field:` is searched as a word");
}

#[test]
fn unknown_kb_says_what_to_do() {
    let env = TestEnv::new();
    let output = env.run(&["search", "--kb", "nosuch", "anything"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.contains("knowledge base `nosuch` not found"), "{message}");
    assert!(message.contains("docent ingest --kb nosuch"), "{message}");

    // A name close to an existing one is taken for a typo.
    env.write("a.md", "alpha\n");
    env.run_ok(&["ingest", "--kb", "manuals", "--text-encoder", "none", "docs"]);
    let output = env.run(&["search", "--kb", "manulas", "alpha"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("knowledge base `manulas` not found"), "{message}");
    assert!(message.contains("did you mean `manuals`?"), "{message}");

    // Without a similar name, the message lists the existing ones.
    let output = env.run(&["search", "--kb", "default", "alpha"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.contains("choose an existing one with `--kb NAME` (`manuals`)"), "{message}");
    assert!(message.contains("docent ingest --kb default"), "{message}");

    // An existing knowledge base given no supported file prints a note that nothing was added.
    std::fs::create_dir_all(env.docs().join("empty")).unwrap();
    let output = env.run(&["ingest", "--kb", "manuals", "--text-encoder", "none", "docs/empty"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(stderr(&output).contains("no supported file was found"), "{}", describe(&output));

    // Ingest creates the misspelled one, and its note names the existing one.
    let output = env.run(&["ingest", "--kb", "manulas", "--text-encoder", "none", "docs"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(stderr(&output).contains("an existing one is named `manuals`"), "{}", describe(&output));
}

#[test]
fn missing_paths_and_types_are_reported() {
    let env = TestEnv::new();
    env.write("slides.pptx", b"binary");
    env.write("ok.txt", "plain text file");
    let output = env.run(&["ingest", "docs/missing.pdf", "docs/slides.pptx", "docs/ok.txt"]);
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("docs/missing.pdf: failed: no such file or folder"), "{stdout}");
    assert!(stdout.contains("docs/slides.pptx: failed: unsupported file type"), "{stdout}");
    assert!(stdout.contains("docs/ok.txt: ingested"), "{stdout}");
}

#[test]
fn eval_reports_metrics_json() {
    let env = TestEnv::new();
    env.write("manual.pdf", manual_pdf());
    env.run_ok(&["ingest", "docs"]);
    let questions = [
        r#"{"question":"What does E-102 mean?","doc":"manual.pdf","pages":[2],"lang":"en","kind":"lexical"}"#,
        r#"{"question":"更换密封圈要注意什么？","doc":"manual.pdf","pages":[3],"lang":"zh","kind":"lexical"}"#,
        r#"{"question":"Where is the safety chapter?","doc":"other.pdf","pages":[1],"lang":"en"}"#,
    ];
    let file = env.write("dev.jsonl", questions.join("\n"));
    let stdout = env.run_ok(&["eval", "--json", file.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["questions"], 3);
    assert!((report["hit_at_1"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9, "{report}");
    assert!((report["mrr"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9, "{report}");
    assert_eq!(report["by_lang"]["zh"]["hit_at_5"], 1.0);
    assert_eq!(report["by_lang"]["en"]["questions"], 2);
    assert_eq!(report["by_kind"]["lexical"]["questions"], 2);

    let bad = env.write("bad.jsonl", "{\"question\": \"no doc\"}\n");
    let output = env.run(&["eval", bad.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("line 1"), "{}", stderr(&output));
}

#[test]
fn prune_removes_deleted_files() {
    let env = TestEnv::new();
    let doomed = env.write("old.md", "# Old\n\nThe obsolete valve is red.\n");
    env.write("keep.md", "# Keep\n\nThe current valve is blue.\n");
    env.write("broken.pdf", b"");
    let _ = env.run(&["ingest", "docs"]);
    std::fs::remove_file(&doomed).unwrap();
    std::fs::remove_file(env.docs().join("broken.pdf")).unwrap();

    let without_prune = env.run_ok(&["ingest", "docs"]);
    assert!(!without_prune.contains("removed"), "{without_prune}");
    assert_eq!(env.search_json("default", "obsolete")["results"].as_array().unwrap().len(), 1);

    let pruned = env.run_ok(&["ingest", "--prune", "docs"]);
    assert!(pruned.contains("docs/old.md: removed (the file no longer exists)"), "{pruned}");
    assert!(pruned.contains("docs/broken.pdf: removed"), "{pruned}");
    assert!(pruned.contains("0 failed, 2 removed"), "{pruned}");
    assert!(env.search_json("default", "obsolete")["results"].as_array().unwrap().is_empty());
    assert_eq!(env.search_json("default", "current")["results"].as_array().unwrap().len(), 1);

    let stats: serde_json::Value = serde_json::from_str(&env.run_ok(&["kb", "stats", "--json"])).unwrap();
    assert_eq!(stats["documents"], 1);
    assert_eq!(stats["failed_files"], serde_json::json!([]));
}

#[test]
fn kb_commands_list_stats_remove() {
    let env = TestEnv::new();
    env.write("a.md", "# A\n\nalpha text\n");
    env.write("empty.pdf", b"");
    let _ = env.run(&["ingest", "--kb", "team", "docs"]);

    assert_eq!(env.run_ok(&["kb", "list"]).trim(), "team");
    let stats: serde_json::Value = serde_json::from_str(&env.run_ok(&["kb", "stats", "--kb", "team", "--json"])).unwrap();
    assert_eq!(stats["documents"], 2);
    assert_eq!(stats["ready"], 1);
    assert_eq!(stats["failed"], 1);
    assert_eq!(stats["failed_files"][0]["path"], "docs/empty.pdf");
    assert_eq!(stats["failed_files"][0]["error"], "file is empty");

    let unconfirmed = env.docent().args(["kb", "remove", "team"]).stdin(std::process::Stdio::null()).output().unwrap();
    assert!(!unconfirmed.status.success());
    assert!(stderr(&unconfirmed).contains("pass --yes"), "{}", stderr(&unconfirmed));
    assert_eq!(env.run_ok(&["kb", "list"]).trim(), "team", "nothing deleted without confirmation");

    let missing = env.run(&["kb", "remove", "--yes", "nosuch"]);
    assert!(stderr(&missing).contains("`docent kb list` shows the existing ones"), "{}", stderr(&missing));

    let removed = env.run_ok(&["kb", "remove", "--yes", "team"]);
    assert!(removed.contains("removed knowledge base `team`"), "{removed}");
    assert!(env.run_ok(&["kb", "list"]).trim().is_empty());
}

#[test]
fn search_rejects_zero_top_k() {
    let env = TestEnv::new();
    env.write("a.md", "alpha\n");
    env.run_ok(&["ingest", "docs"]);
    let output = env.run(&["search", "--top-k", "0", "alpha"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--top-k"), "{}", stderr(&output));
}

#[test]
fn full_width_text_is_found_and_kept() {
    let env = TestEnv::new();
    env.write("spec.md", "# 规格\n\n接口：ＵＳＢ－Ｃ，电压２２０Ｖ。\n");
    env.run_ok(&["ingest", "docs"]);
    let results = env.search_json("default", "USB-C 220V");
    let top = &results["results"][0];
    assert_eq!(top["doc"], "docs/spec.md");
    assert_eq!(top["text"], "接口：ＵＳＢ－Ｃ，电压２２０Ｖ。", "stored text keeps its full-width forms");
}

#[test]
fn ingest_json_reports_each_file() {
    let env = TestEnv::new();
    env.write("manual.pdf", manual_pdf());
    env.write("empty.pdf", b"");
    let output = env.run(&["ingest", "--json", "docs"]);
    assert!(!output.status.success(), "a failed file still means exit status 1");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    assert_eq!(report["kb"], "default");
    assert_eq!(report["ingested"], 1);
    assert_eq!(report["failed"], 1);
    let files = report["files"].as_array().unwrap();
    let empty = files.iter().find(|file| file["path"] == "docs/empty.pdf").unwrap();
    assert_eq!(empty["outcome"], "failed");
    assert_eq!(empty["error"], "file is empty");
    let manual = files.iter().find(|file| file["path"] == "docs/manual.pdf").unwrap();
    assert_eq!(manual["outcome"], "ingested");
    assert_eq!(manual["pages"], 3);
}

#[test]
fn nothing_to_ingest_creates_no_kb() {
    let env = TestEnv::new();
    let output = env.run(&["ingest", "--kb", "typo", "docs/missing-folder"]);
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("docs/missing-folder: failed: no such file or folder"), "{stdout}");
    assert!(stderr(&output).contains("knowledge base `typo` was not created"), "{}", describe(&output));

    let listed = env.run(&["kb", "list"]);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("typo"), "{}", describe(&listed));
    let search = env.run(&["search", "--kb", "typo", "anything"]);
    assert!(!search.status.success(), "searching a knowledge base that was never created fails");
}

/// An ingest killed midway leaves nothing half done: searches work while it runs, and the
/// next run completes it to the same index as an uninterrupted ingest.
#[test]
fn killed_ingest_resumes_without_duplicates() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    const FILES: usize = 40;
    let env = TestEnv::new();
    for number in 0..FILES {
        let body = format!("Valve code QX{number:02}7 is set on unit {number}. ").repeat(30);
        env.write(&format!("notes/note-{number:02}.md"), format!("# Note {number}\n\n{body}\n\n## Care\n\n{body}\n"));
    }
    env.write("first.md", "# First\n\nThe pump manual starts here.\n");
    env.run_ok(&["ingest", "docs/first.md"]);

    // Every file is encoded into vectors, so the ingest runs for seconds, not milliseconds.
    let mut ingest = env.docent().args(["ingest", "docs/notes"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(ingest.stdout.take().unwrap()).lines();
    let mut done_before_kill = 0;
    while done_before_kill < 3 {
        let line = lines.next().expect("ingest reports files").unwrap();
        if line.contains(": ingested") {
            done_before_kill += 1;
        }
    }
    let during = env.search_json("default", "QX007");
    assert_eq!(file_name(&during["results"][0]["doc"]), "note-00.md", "{during}");
    ingest.kill().unwrap();
    ingest.wait().unwrap();
    done_before_kill += lines.map_while(Result::ok).filter(|line| line.contains(": ingested")).count();
    assert!(done_before_kill < FILES, "the ingest finished before it was killed");

    // A file whose catalog row was written just before the kill may not have had its line
    // printed yet, so the next run can find one more file unchanged than were reported.
    let resumed: serde_json::Value = serde_json::from_str(&env.run_ok(&["ingest", "--json", "docs/notes"])).unwrap();
    assert_eq!(resumed["failed"], 0, "{resumed}");
    let unchanged = resumed["unchanged"].as_u64().unwrap() as usize;
    assert!((done_before_kill..=done_before_kill + 1).contains(&unchanged), "{done_before_kill} reported: {resumed}");

    env.run_ok(&["ingest", "--kb", "uninterrupted", "docs/first.md", "docs/notes"]);
    let stats = |kb: &str| -> serde_json::Value { serde_json::from_str(&env.run_ok(&["kb", "stats", "--kb", kb, "--json"])).unwrap() };
    let (killed, uninterrupted) = (stats("default"), stats("uninterrupted"));
    assert_eq!(killed["documents"], FILES + 1, "{killed}");
    for field in ["documents", "chunks", "vectors", "pages"] {
        assert_eq!(killed[field], uninterrupted[field], "{field}: {killed} vs {uninterrupted}");
    }
    // The chunks of one file, as a sorted list: a duplicate would appear twice. Whole rankings
    // are not compared, because the vector index's approximate search may order near ties
    // differently in two indexes.
    for number in [0, done_before_kill, FILES - 1] {
        let query = format!("QX{number:02}7");
        let expected = format!("note-{number:02}.md");
        let chunks_of_file = |kb: &str| -> Vec<String> {
            let hits = env.search_json_top_k(kb, &query, 20);
            let mut texts: Vec<String> = hits["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|hit| file_name(&hit["doc"]) == expected)
                .map(|hit| hit["text"].to_string())
                .collect();
            texts.sort();
            texts
        };
        let found = chunks_of_file("default");
        assert!(!found.is_empty(), "{query} finds nothing in {expected}");
        assert_eq!(found, chunks_of_file("uninterrupted"), "{query}");
    }
}

/// A table longer than a chunk is split between rows, and every piece keeps the header, so
/// a search for one row returns that row under its column names.
#[test]
fn long_table_rows_keep_their_header() {
    let env = TestEnv::new();
    let mut table = String::from("| code | meaning | action |\n|---|---|---|\n");
    for number in 100..160 {
        table.push_str(&format!("| E-{number} | sensor {number} reports a fault | replace part P-{number} |\n"));
    }
    env.write("codes.md", format!("# Error codes\n\nThe pump display shows these codes.\n\n{table}"));
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "E-137");
    let top = &results["results"][0];
    let text = top["text"].as_str().unwrap();
    assert_eq!(top["heading"], "Error codes", "{results}");
    assert!(text.starts_with("| code | meaning | action |\n|---|---|---|\n"), "{text}");
    assert!(text.contains("| E-137 | sensor 137 reports a fault | replace part P-137 |"), "{text}");
    for line in text.lines() {
        assert!(line.starts_with('|'), "a row was cut at its start: {line}");
        assert!(line.ends_with('|'), "a row was cut at its end: {line}");
    }
}

/// A PDF table longer than a chunk, drawn as positioned cells without any markup, is read
/// as a table: split between rows, with the header row on top of every piece.
#[test]
fn long_pdf_table_rows_keep_their_header() {
    let env = TestEnv::new();
    let rows: Vec<[String; 3]> = std::iter::once(["Code".to_string(), "Meaning".to_string(), "Action".to_string()])
        .chain((100..140).map(|number| {
            [format!("E-{number}"), format!("Sensor {number} reports a fault"), format!("Replace part P-{number}")]
        }))
        .collect();
    let mut runs = vec![TextRun { text: "Error codes of the pump display.", x: 72, y: 740 }];
    for (index, row) in rows.iter().enumerate() {
        let y = 710 - 15 * index as u32;
        runs.push(TextRun { text: &row[0], x: 72, y });
        runs.push(TextRun { text: &row[1], x: 150, y });
        runs.push(TextRun { text: &row[2], x: 360, y });
    }
    env.write("codes.pdf", build_pdf(&[runs], &PdfOptions::default()));
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "E-137");
    let top = &results["results"][0];
    let text = top["text"].as_str().unwrap();
    assert_eq!(top["pages"], serde_json::json!([1]), "{results}");
    assert!(text.starts_with("| Code | Meaning | Action |\n|---|---|---|\n"), "{text}");
    assert!(text.contains("| E-137 | Sensor 137 reports a fault | Replace part P-137 |"), "{text}");
    for line in text.lines() {
        assert!(line.starts_with('|'), "a row was cut at its start: {line}");
        assert!(line.ends_with('|'), "a row was cut at its end: {line}");
    }
    let first = env.search_json("default", "E-100");
    let first_text = first["results"][0]["text"].as_str().unwrap();
    assert!(first_text.starts_with("| Code | Meaning | Action |\n|---|---|---|\n| E-100 |"), "{first}");
}

/// Results give the characters of the page text they cover.
#[test]
fn results_carry_character_ranges() {
    let env = TestEnv::new();
    let text = "# Valves\n\nThe blue valve opens the intake.\n\n## 阀门\n\n蓝色阀门打开进水口。\n";
    env.write("valves.md", text);
    env.write("manual.pdf", manual_pdf());
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let slice = |range: &serde_json::Value| -> String {
        let start = range[0].as_u64().unwrap() as usize;
        let end = range[1].as_u64().unwrap() as usize;
        text.chars().skip(start).take(end - start).collect()
    };
    let english = env.search_json("default", "blue valve");
    assert_eq!(english["results"][0]["chars"], serde_json::json!([10, 42]), "{english}");
    assert_eq!(slice(&english["results"][0]["chars"]), "The blue valve opens the intake.");
    let chinese = env.search_json("default", "蓝色阀门");
    assert_eq!(slice(&chinese["results"][0]["chars"]), "蓝色阀门打开进水口。", "{chinese}");

    let pdf = env.search_json("default", "E-102 intake filter blocked");
    let top = &pdf["results"][0];
    assert_eq!(top["pages"], serde_json::json!([2]), "{pdf}");
    let range = top["chars"].as_array().unwrap();
    let covered = range[1].as_u64().unwrap() - range[0].as_u64().unwrap();
    assert_eq!(covered as usize, top["text"].as_str().unwrap().chars().count(), "{pdf}");
}


/// A page of two columns, written line by line across the page as many PDF producers do, is
/// read column by column: a passage's text follows one column.
#[test]
fn two_column_page_read_by_column() {
    let env = TestEnv::new();
    let left = ["Valve care starts with the intake side of", "the pump: close the intake valve first,", "then drain the housing fully and dry it."];
    let right = ["Motor care is a separate task that needs", "tools: check the motor brushes yearly and", "replace worn brushes in pairs, not singly."];
    let mut runs = vec![TextRun { text: "Maintenance guide", x: 240, y: 740 }];
    for (index, (left_line, right_line)) in left.iter().zip(right.iter()).enumerate() {
        let y = 700 - 14 * index as u32;
        runs.push(TextRun { text: left_line, x: 72, y });
        runs.push(TextRun { text: right_line, x: 318, y });
    }
    let one_column = pdf_from_lines(&[&["Error E-102 means the intake filter is blocked.", "Clean the filter."]]);
    env.write("columns.pdf", build_pdf(&[runs], &PdfOptions::default()));
    env.write("plain.pdf", one_column);
    // A table of codes and descriptions has two columns too, but is read row by row.
    let codes = ["E-301", "E-302", "E-303", "E-304"];
    let meanings = ["Outlet valve stuck, free it by hand.", "Outlet sensor wet, dry it.", "Outlet pipe frozen, thaw it.", "Outlet cover open, close it."];
    let table_runs: Vec<TextRun> = codes
        .iter()
        .zip(meanings.iter())
        .enumerate()
        .flat_map(|(index, (code, meaning))| {
            let y = 700 - 14 * index as u32;
            [TextRun { text: code, x: 72, y }, TextRun { text: meaning, x: 330, y }]
        })
        .collect();
    env.write("codes.pdf", build_pdf(&[table_runs], &PdfOptions::default()));
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "motor brushes");
    let text = results["results"][0]["text"].as_str().unwrap();
    let expected = format!("Maintenance guide\n{}\n{}", left.join("\n"), right.join("\n"));
    assert_eq!(text, expected, "{results}");

    let table = env.search_json("default", "E-303 outlet pipe frozen");
    let table_text = table["results"][0]["text"].as_str().unwrap();
    assert!(table_text.contains("| E-303 | Outlet pipe frozen, thaw it. |"), "{table}");

    let plain = env.search_json("default", "E-102");
    assert_eq!(plain["results"][0]["text"], "Error E-102 means the intake filter is blocked.\nClean the filter.", "{plain}");
}

/// A landscape page, stored turned with `/Rotate 90`, keeps its words and lines whole and in
/// reading order.
#[test]
fn rotated_page_keeps_words_whole() {
    let env = TestEnv::new();
    let pages = vec![
        vec![TextRun { text: "Wiring diagram overview", x: 72, y: 720 }],
        vec![
            TextRun { text: "Connect the brown wire to terminal L1.", x: 72, y: 540 },
            TextRun { text: "Connect the blue wire to terminal N.", x: 72, y: 520 },
        ],
    ];
    let options = PdfOptions { rotated_pages: vec![1], ..PdfOptions::default() };
    env.write("wiring.pdf", build_pdf(&pages, &options));
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "brown wire terminal");
    let top = &results["results"][0];
    assert_eq!(top["pages"], serde_json::json!([2]), "{results}");
    let lines: Vec<&str> = top["text"].as_str().unwrap().lines().collect();
    assert_eq!(lines, ["Connect the brown wire to terminal L1.", "Connect the blue wire to terminal N."], "{results}");
}

/// Ligatures and full-width forms in a PDF are found by plain letters. pdfium writes the `ﬁ`
/// ligature out as `fi`; docent folds full-width `ＵＳＢ` for search and shows it as extracted.
#[test]
fn ligature_page_found_by_plain_letters() {
    let env = TestEnv::new();
    let pdf = pdf_from_lines(&[&["Replace the ﬁlter cartridge every ﬁfty hours.", "Use the ＵＳＢ port for updates."]]);
    env.write("ligatures.pdf", pdf);
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    for query in ["filter cartridge", "fifty hours", "USB port"] {
        let results = env.search_json("default", query);
        let top = &results["results"][0];
        assert_eq!(file_name(&top["doc"]), "ligatures.pdf", "{query}: {results}");
        let text = top["text"].as_str().unwrap();
        assert!(text.contains("filter cartridge every fifty hours"), "{query}: {results}");
        assert!(text.contains("the ＵＳＢ port"), "{query}: {results}");
    }
}

/// The title and page number a PDF repeats on every page stay out of its passages.
#[test]
fn running_headers_are_dropped() {
    let env = TestEnv::new();
    let bodies = [
        "Safety comes first: unplug the pump.",
        "Error E-102 means the intake filter is blocked.",
        "Replace the seal ring every spring.",
        "Store the pump dry in winter.",
    ];
    let pages: Vec<Vec<String>> = bodies
        .iter()
        .enumerate()
        .map(|(index, body)| vec!["Pump XR-2000 manual".to_string(), body.to_string(), format!("{}", index + 1)])
        .collect();
    let pages: Vec<Vec<&str>> = pages.iter().map(|lines| lines.iter().map(String::as_str).collect()).collect();
    let pages: Vec<&[&str]> = pages.iter().map(Vec::as_slice).collect();
    env.write("manual.pdf", pdf_from_lines(&pages));
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "intake filter");
    assert_eq!(results["results"][0]["pages"], serde_json::json!([2]), "{results}");
    assert_eq!(results["results"][0]["text"], bodies[1], "{results}");
}

/// A catalog written before documents recorded the version of docent's ingest (it lacks the
/// `ingest_version` column) gets its files read again, once.
#[test]
fn older_catalog_files_are_read_again() {
    let env = TestEnv::new();
    env.write("manual.pdf", manual_pdf());
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);
    let catalog = env.home().join("kb/default/catalog.sqlite3");
    let connection = rusqlite::Connection::open(&catalog).unwrap();
    connection.execute("ALTER TABLE documents DROP COLUMN ingest_version", []).unwrap();
    drop(connection);

    let upgraded = env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);
    assert!(upgraded.contains("docs/manual.pdf: ingested (3 pages"), "{upgraded}");
    let again = env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);
    assert!(again.contains("docs/manual.pdf: unchanged"), "{again}");
    let results = env.search_json("default", "E-102");
    assert_eq!(results["results"].as_array().unwrap().len(), 1, "{results}");
}

/// Function words of a question (的, 是, 什么, what, the) do not decide the ranking: a passage
/// full of them loses to the one that shares the question's content words.
#[test]
fn question_words_do_not_outrank_content() {
    let env = TestEnv::new();
    let chatter = "这是什么？你可以在这里看到的是什么，我们要怎么做才可以有一个好的开始，这个时候应该是什么样的。";
    env.write("faq.md", format!("# 常见问题\n\n{}\n", chatter.repeat(3)));
    env.write("pump.md", "# 水泵\n\n关闭电源后更换密封圈，再拧紧螺丝。\n");
    for index in 0..8 {
        env.write(&format!("other{index}.md"), format!("# 附录 {index}\n\n型号 XR-{index} 的保修期为两年。\n"));
    }
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "我应该怎么更换密封圈？可以是什么样的步骤？");
    assert_eq!(results["results"][0]["doc"], "docs/pump.md", "{results}");
}

/// A PDF's outline splits its pages at the sections it names. Every passage gets its
/// section's heading path and is found by the section's title too.
#[test]
fn pdf_outline_gives_sections_and_headings() {
    let env = TestEnv::new();
    let pages: [&[&str]; 2] = [
        &["1 Installing the pump", "Bolt the pump to a level floor.", "1.1 Priming", "Fill the casing with water before the first start."],
        &[
            "Keep the vent valve open until water runs out of it.",
            "1.2 Troubleshooting",
            "1.2.1 Clearing a blocked intake",
            "Stop the motor, open the strainer lid and lift out the basket.",
            "2 保养",
            "每年春天更换密封圈。",
        ],
    ];
    let runs: Vec<Vec<TextRun>> = pages
        .iter()
        .map(|lines| lines.iter().enumerate().map(|(index, text)| TextRun { text, x: 72, y: 720 - 18 * index as u32 }).collect())
        .collect();
    let outline = vec![
        (0, "Installing the pump", 0),
        (1, "Priming", 0),
        (1, "Troubleshooting", 1),
        (2, "Clearing a blocked intake", 1),
        (0, "保养", 1),
    ];
    env.write("pump.pdf", build_pdf(&runs, &PdfOptions { outline, ..PdfOptions::default() }));
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "strainer basket");
    let top = &results["results"][0];
    assert_eq!(top["pages"], serde_json::json!([2]), "{results}");
    assert_eq!(top["heading"], "Installing the pump > Troubleshooting > Clearing a blocked intake", "{results}");
    // The one-line section "1.2 Troubleshooting" joins the section below it.
    assert_eq!(
        top["text"],
        "1.2 Troubleshooting\n1.2.1 Clearing a blocked intake\nStop the motor, open the strainer lid and lift out the basket.",
        "{results}"
    );

    // Text at the top of a page stays under the section that began on the page before, and
    // is found by the words of that section's title too.
    let results = env.search_json("default", "priming");
    let continued = results["results"].as_array().unwrap().iter().find(|hit| hit["pages"] == serde_json::json!([2]));
    let continued = continued.unwrap_or_else(|| panic!("no page 2 passage: {results}"));
    assert_eq!(continued["heading"], "Installing the pump > Priming", "{results}");
    assert_eq!(continued["text"], "Keep the vent valve open until water runs out of it.", "{results}");

    let results = env.search_json("default", "密封圈");
    assert_eq!(results["results"][0]["heading"], "保养", "{results}");
    assert_eq!(results["results"][0]["text"], "2 保养\n每年春天更换密封圈。", "{results}");
}

/// An outline whose bookmarks link back to each other still ingests, with its headings.
#[test]
fn spaced_chinese_lines_are_joined() {
    let env = TestEnv::new();
    // Justified lines: a gap of 0.3 em after each character, which pdfium reads as a space
    // between every two characters.
    let lines = ["对于一个物理设备，没有特定的目录路径名。", "波浪号扩展为当前用户的主目录。"];
    let runs: Vec<TextRun> =
        lines.iter().enumerate().map(|(index, text)| TextRun { text, x: 72, y: 720 - 18 * index as u32 }).collect();
    env.write("spaced.pdf", build_pdf(&[runs], &PdfOptions { char_gap: 300, ..PdfOptions::default() }));
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "物理设备的目录");
    let top = &results["results"][0];
    assert_eq!(top["pages"], serde_json::json!([1]), "{results}");
    assert_eq!(top["text"], "对于一个物理设备，没有特定的目录路径名。\n波浪号扩展为当前用户的主目录。", "{results}");
}

#[test]
fn looping_outline_still_ingests() {
    let env = TestEnv::new();
    let runs = vec![vec![
        TextRun { text: "1 Safety", x: 72, y: 720 },
        TextRun { text: "Unplug the pump first.", x: 72, y: 702 },
        TextRun { text: "2 Cleaning", x: 72, y: 684 },
        TextRun { text: "Rinse the filter.", x: 72, y: 666 },
    ]];
    let outline = vec![(0, "Safety", 0), (0, "Cleaning", 0)];
    let pdf = String::from_utf8(build_pdf(&runs, &PdfOptions { outline, ..PdfOptions::default() })).unwrap();
    // Objects 1 to 9 are the catalog, fonts, page and content, 10 is the outline's root, and 11
    // and 12 are its bookmarks. The second's "previous" link becomes a "next" link of the same
    // length, so the siblings loop.
    assert!(pdf.contains("/Prev 11 0 R"), "{pdf}");
    env.write("pump.pdf", pdf.replace("/Prev 11 0 R", "/Next 11 0 R"));
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "rinse filter");
    assert_eq!(results["results"][0]["heading"], "Cleaning", "{results}");
    assert_eq!(results["results"][0]["text"], "2 Cleaning\nRinse the filter.", "{results}");
}

/// A question that requests one language's edition gets that edition's passages first. The
/// Chinese passage that corresponds to the best English one shares its section number,
/// acronyms and commands, and no retriever needs to find it.
#[test]
fn edition_request_puts_its_language_first() {
    let env = TestEnv::new();
    env.write(
        "install.en.md",
        "# Installation\n\n\
         ## 4.2.11 Configuring the Clock\n\n\
         If the network is available, the clock is updated once from an NTP server. Set up an NTP \
         daemon after installation to keep it accurate (see Section 8.9.2).\n\n\
         ## 4.2.13.5 Encrypted Partitions\n\n\
         Linux uses the dm-crypt driver with the Device Mapper, and LUKS is the standard format of \
         the encrypted data.\n",
    );
    env.write(
        "install.zh-CN.md",
        "# 安装\n\n\
         ## 4.2.11 配置时钟\n\n\
         如果网络正常，系统时钟会从网络时间服务器更新一次。为了一直保持精确的时间，需要在安装后设置 NTP \
         守护程序（参看第 8.9.2 节）。\n\n\
         ## 4.2.13.5 设置加密分区\n\n\
         Linux 使用 dm-crypt 驱动和 Device Mapper 创建虚拟分区，LUKS 是加密数据的标准格式。\n",
    );
    env.write("network.zh-CN.md", "# 网络\n\n## 时间服务器\n\n在路由器的设置页面里填写 NTP 服务器的地址。\n");
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let question = "According to the Chinese edition of the installation guide, how is the clock set?";
    let plain = env.run_ok(&["search", "--json", "--ignore-edition-requests", question]);
    let plain: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(plain["results"][0]["doc"], "docs/install.en.md", "{plain}");
    assert!(plain["results"].as_array().unwrap().iter().all(|hit| hit["doc"] != "docs/install.zh-CN.md"), "{plain}");

    let results = env.search_json("default", question);
    let top = &results["results"][0];
    assert_eq!(top["doc"], "docs/install.zh-CN.md", "{results}");
    assert_eq!(top["heading"], "安装 > 4.2.11 配置时钟", "{results}");
    assert_eq!(top["retrievers"], serde_json::json!(["counterpart"]), "{results}");
    assert_eq!(results["results"][1]["doc"], "docs/install.en.md", "{results}");

    let results = env.search_json("default", "英文版手册里，加密分区用的是什么驱动？");
    let top = &results["results"][0];
    assert_eq!(top["doc"], "docs/install.en.md", "{results}");
    assert_eq!(top["heading"], "Installation > 4.2.13.5 Encrypted Partitions", "{results}");
}

/// A passage of a manual that exists in one language only has no counterpart in another
/// manual's table of contents, although the contents list its section numbers too.
#[test]
fn counterpart_stays_within_translations() {
    let env = TestEnv::new();
    env.write(
        "guide.en.md",
        "# Guide\n\n## Contents\n\n4.2.11 Clock, 4.2.12 Disks, 4.2.13 Partitions, 5.1 Network, 5.2 Proxy\n\n\
         ## 4.2.11 Configuring the Clock\n\nThe clock is set from an NTP server.\n",
    );
    env.write(
        "guide.zh-CN.md",
        "# 指南\n\n## 目录\n\n4.2.11 时钟、4.2.12 磁盘、4.2.13 分区、5.1 网络、5.2 代理\n\n\
         ## 4.2.11 配置时钟\n\n系统时钟从 NTP 服务器获取时间。\n",
    );
    env.write("router.zh-CN.md", "# 路由器\n\n## 网络设置\n\n路由器的网络设置分为 5.1 和 5.2 两步，先设置地址，再设置代理服务器。\n");
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let results = env.search_json("default", "英文版手册里路由器的网络怎么设置？");
    let hits = results["results"].as_array().unwrap();
    assert_eq!(hits[0]["doc"], "docs/router.zh-CN.md", "{results}");
    assert!(hits.iter().all(|hit| hit["doc"] != "docs/guide.en.md"), "{results}");
}
