//! Dense and hybrid retrieval through the `docent` binary, with the real all-MiniLM-L6-v2
//! encoder that `make setup` installs, vectors in the catalog and an HNSW graph.

mod common;

use common::{describe, TestEnv};
use serde_json::Value;

const ROUTER: &str = "# Router\n\n## Restoring defaults\n\n\
    Press and hold the pinhole button on the back panel for ten seconds. \
    All lights blink twice and every setting returns to the state it had when it left the factory.\n";
const CANTEEN: &str = "# Canteen\n\nLunch is served from noon until two in the afternoon, \
    with a vegetarian menu on Fridays.\n";
const PRINTER: &str = "# Printer\n\n## Paper jams\n\n\
    Open cover B, pull the stuck sheet out slowly with both hands and close the cover.\n";

fn write_manuals(env: &TestEnv) {
    env.write("router.md", ROUTER);
    env.write("canteen.md", CANTEEN);
    env.write("printer.md", PRINTER);
}

fn search(env: &TestEnv, query: &str, retriever: &str) -> Vec<Value> {
    let stdout = env.run_ok(&["search", "--json", "--top-k", "3", "--retriever", retriever, query]);
    let parsed: Value = serde_json::from_str(&stdout).unwrap();
    parsed["results"].as_array().unwrap().clone()
}

fn stats(env: &TestEnv) -> Value {
    serde_json::from_str(&env.run_ok(&["kb", "stats", "--json"])).unwrap()
}

fn cached_vector_count(env: &TestEnv) -> i64 {
    let connection = rusqlite::Connection::open(env.vector_cache()).unwrap();
    connection.query_row("SELECT COUNT(*) FROM text_vectors", [], |row| row.get(0)).unwrap()
}

/// A paraphrase that shares almost no word with the answer.
const PARAPHRASE: &str = "restore modem out-of-box configuration";

#[test]
fn dense_ranks_paraphrase_first() {
    let env = TestEnv::new();
    write_manuals(&env);
    env.run_ok(&["ingest", "docs"]);

    let dense = search(&env, PARAPHRASE, "dense");
    assert_eq!(dense[0]["doc"], "docs/router.md", "{dense:#?}");
    assert_eq!(dense[0]["heading"], "Router > Restoring defaults");
    assert_eq!(dense[0]["retrievers"], serde_json::json!(["dense"]));
    assert!(dense[0]["score"].as_f64().unwrap() > 0.4, "cosine similarity: {dense:#?}");
    assert_eq!(dense.len(), 1, "less similar manuals are dropped: {dense:#?}");

    let hybrid = search(&env, PARAPHRASE, "hybrid");
    assert_eq!(hybrid[0]["doc"], "docs/router.md", "{hybrid:#?}");
    assert!(hybrid[0]["retrievers"].as_array().unwrap().contains(&"dense".into()));
}

/// A query typed in full-width letters gets the vector of its ASCII spelling, as full text
/// folds it too.
#[test]
fn full_width_query_gets_same_vector() {
    let env = TestEnv::new();
    write_manuals(&env);
    env.run_ok(&["ingest", "docs"]);

    let ascii = search(&env, PARAPHRASE, "dense");
    let full_width = search(&env, "ｒｅｓｔｏｒｅ ｍｏｄｅｍ ｏｕｔ－ｏｆ－ｂｏｘ ｃｏｎｆｉｇｕｒａｔｉｏｎ", "dense");
    assert_eq!(full_width.len(), ascii.len(), "{full_width:#?}");
    assert_eq!(full_width[0]["doc"], "docs/router.md", "{full_width:#?}");
    assert_eq!(full_width[0]["score"], ascii[0]["score"], "{full_width:#?} {ascii:#?}");
}

#[test]
fn hybrid_marks_results_both_retrievers_found() {
    let env = TestEnv::new();
    write_manuals(&env);
    env.run_ok(&["ingest", "docs"]);

    let hits = search(&env, "paper jam in the printer", "hybrid");
    assert_eq!(hits[0]["doc"], "docs/printer.md", "{hits:#?}");
    assert_eq!(hits[0]["retrievers"], serde_json::json!(["full_text", "dense"]));
    let fused = hits[0]["score"].as_f64().unwrap();
    assert!((fused - 2.0 / 11.0).abs() < 1e-6, "rank 1 in both rankings fuses to 2/11, got {fused}");
}

#[test]
fn stats_count_vectors_and_name_encoder() {
    let env = TestEnv::new();
    write_manuals(&env);
    env.run_ok(&["ingest", "docs"]);

    let stats = stats(&env);
    assert_eq!(stats["text_encoder"], "all-MiniLM-L6-v2");
    assert_eq!(stats["vectors"], stats["chunks"], "{stats}");
    assert_eq!(stats["vectors"], 3);
}

#[test]
fn edits_and_deletes_replace_vectors() {
    let env = TestEnv::new();
    write_manuals(&env);
    env.run_ok(&["ingest", "docs"]);

    env.write("router.md", "# Router\n\n## Antenna\n\nScrew the antenna onto the gold connector.\n");
    env.run_ok(&["ingest", "docs"]);
    let dense = search(&env, PARAPHRASE, "dense");
    assert!(
        dense.iter().all(|hit| !hit["text"].as_str().unwrap().contains("pinhole")),
        "the old text is gone from the dense index: {dense:#?}"
    );
    assert_eq!(stats(&env)["vectors"], 3);

    std::fs::remove_file(env.docs().join("printer.md")).unwrap();
    env.run_ok(&["ingest", "--prune", "docs"]);
    assert_eq!(stats(&env)["vectors"], 2);
    let hits = search(&env, "paper jam in the printer", "dense");
    assert!(hits.iter().all(|hit| hit["doc"] != "docs/printer.md"), "{hits:#?}");
}

#[test]
fn copies_reuse_cached_vectors() {
    let env = TestEnv::new();
    write_manuals(&env);
    env.run_ok(&["ingest", "docs"]);
    let cached = cached_vector_count(&env);
    assert_eq!(cached, 3);

    env.write("copy/router-copy.md", ROUTER);
    env.run_ok(&["ingest", "docs"]);
    assert_eq!(cached_vector_count(&env), cached, "a copy's chunks come from the cache");
    assert_eq!(stats(&env)["vectors"], 4);
}

#[test]
fn full_text_only_knowledge_base_still_searches() {
    let env = TestEnv::new();
    write_manuals(&env);
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let stats = stats(&env);
    assert_eq!(stats["vectors"], 0);
    assert_eq!(stats["text_encoder"], Value::Null);
    let hits = search(&env, "paper jam", "hybrid");
    assert_eq!(hits[0]["doc"], "docs/printer.md");
    assert_eq!(hits[0]["retrievers"], serde_json::json!(["full_text"]));
}

#[test]
fn encoder_change_is_rejected() {
    let env = TestEnv::new();
    write_manuals(&env);
    env.run_ok(&["ingest", "docs"]);

    let output = env.run(&["ingest", "--text-encoder", "none", "docs"]);
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("has vectors from text encoder `all-MiniLM-L6-v2`"), "{stderr}");

    let missing = env.root.path().join("no-such-encoder");
    let output = env.run(&["ingest", "--text-encoder", missing.to_str().unwrap(), "docs"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("has no `config.json`"), "{stderr}");
}

#[test]
fn rename_is_recognized_by_hash() {
    let env = TestEnv::new();
    write_manuals(&env);
    env.run_ok(&["ingest", "docs"]);
    let cached = cached_vector_count(&env);

    std::fs::create_dir_all(env.docs().join("moved")).unwrap();
    std::fs::rename(env.docs().join("router.md"), env.docs().join("moved/router.md")).unwrap();
    let stdout = env.run_ok(&["ingest", "docs"]);
    assert!(stdout.contains("docs/moved/router.md: renamed from docs/router.md"), "{stdout}");

    let stats = stats(&env);
    assert_eq!(stats["documents"], 3, "{stats}");
    assert_eq!(stats["vectors"], 3, "{stats}");
    assert_eq!(cached_vector_count(&env), cached, "a renamed file costs no encoder time");
    let hits = search(&env, PARAPHRASE, "hybrid");
    assert_eq!(hits[0]["doc"], "docs/moved/router.md", "{hits:#?}");
}
