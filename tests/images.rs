//! Images through the `docent` binary: pictures inside PDFs with their captions, pages
//! without a text layer, and image files as documents of their own.

mod common;

use common::pdf::{build_pdf, PdfImage, PdfOptions, TextRun};
use common::{describe, TestEnv};
use serde_json::Value;

fn run(text: &str, x: u32, y: u32) -> TextRun<'_> {
    TextRun { text, x, y }
}

/// Page 1: text with a figure and its caption below it. Page 2: a scan, an image without text.
fn manual_with_figures() -> Vec<u8> {
    let pages = vec![
        vec![
            run("Pump XR-2000 maintenance", 72, 740),
            run("The drawing below shows where the intake filter sits.", 72, 720),
            run("Figure 3. Exploded view of the intake filter housing", 72, 480),
            // A body line just below the caption band: only its ascenders reach into it.
            run("bold kit: hold the flat ball valve lid", 72, 446),
            run("Tighten the housing by hand only.", 72, 300),
        ],
        Vec::new(),
    ];
    let options = PdfOptions {
        images: vec![
            PdfImage::gradient(0, 160, 120, 72, 500),
            // A spacer: too small to be a picture.
            PdfImage::gradient(0, 8, 8, 400, 600),
            PdfImage { display_width: 612, display_height: 792, x: 0, y: 0, ..PdfImage::gradient(1, 300, 400, 0, 0) },
        ],
        ..PdfOptions::default()
    };
    build_pdf(&pages, &options)
}

fn search(env: &TestEnv, query: &str) -> Vec<Value> {
    let stdout = env.run_ok(&["search", "--json", "--retriever", "full-text", query]);
    let parsed: Value = serde_json::from_str(&stdout).unwrap();
    parsed["results"].as_array().unwrap().clone()
}

fn image_file(env: &TestEnv, id: &str) -> std::path::PathBuf {
    env.home().join("kb/default/images").join(format!("{id}.png"))
}

fn ingest_json(env: &TestEnv, args: &[&str]) -> Value {
    let mut all = vec!["ingest", "--json", "--text-encoder", "none"];
    all.extend(args);
    serde_json::from_str(&env.run_ok(&all)).unwrap()
}

#[test]
fn pdf_figure_found_by_caption() {
    let env = TestEnv::new();
    env.write("manual.pdf", manual_with_figures());
    let report = ingest_json(&env, &["docs"]);
    let file = &report["files"][0];
    assert_eq!(file["outcome"], "ingested", "{report}");
    assert_eq!(file["images"], 2, "the figure and the scanned page, not the spacer: {report}");
    assert_eq!(file["pages_without_text"], 1, "{report}");

    let hits = search(&env, "exploded view intake filter housing");
    let image = hits.iter().find(|hit| hit["kind"] == "image").unwrap_or_else(|| panic!("no image result: {hits:#?}"));
    assert_eq!(image["pages"], serde_json::json!([1]));
    assert_eq!(image["text"], "Figure 3. Exploded view of the intake filter housing", "whole caption lines only");

    let id = image["image"].as_str().unwrap();
    let stored = image::open(image_file(&env, id)).unwrap();
    assert_eq!((stored.width(), stored.height()), (160, 120));
    let pixel = stored.to_rgb8().get_pixel(159, 0).0;
    assert!(pixel[0] > 200, "red rises to the right: {pixel:?}");
    assert!(pixel[1] < 40, "green is low in the top row: {pixel:?}");
}

#[test]
fn scanned_page_kept_as_image() {
    let env = TestEnv::new();
    env.write("manual.pdf", manual_with_figures());
    ingest_json(&env, &["docs"]);

    let hits = search(&env, "scanned page without text");
    let scan = hits.iter().find(|hit| hit["pages"] == serde_json::json!([2])).unwrap_or_else(|| panic!("{hits:#?}"));
    assert_eq!(scan["kind"], "image");
    // The text leaves out the file's name and its folders, whose words would match unrelated
    // questions.
    assert_eq!(scan["text"], "page 2: scanned page without text", "{scan}");
    assert!(search(&env, "docs").is_empty(), "the folder name is not indexed");
    let images_by_name: Vec<Value> = search(&env, "manual").into_iter().filter(|hit| hit["kind"] == "image").collect();
    assert!(images_by_name.is_empty(), "the file name is not indexed with images: {images_by_name:#?}");
    let stored = image::open(image_file(&env, scan["image"].as_str().unwrap())).unwrap();
    assert_eq!(stored.height(), 1024, "the page is rendered to fit 1024 pixels");

    let stats: Value = serde_json::from_str(&env.run_ok(&["kb", "stats", "--json"])).unwrap();
    assert_eq!(stats["images"], 2, "{stats}");
    assert_eq!(stats["pages_without_text"], 1, "{stats}");
}

#[test]
fn image_files_are_documents() {
    let env = TestEnv::new();
    let picture = image::RgbImage::from_fn(2400, 1200, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 40]));
    picture.save(env.docs().join("pump-exploded_view.png")).unwrap();
    picture.save(env.docs().join("wiring diagram.jpg")).unwrap();

    let report = ingest_json(&env, &["docs"]);
    assert_eq!(report["ingested"], 2, "{report}");
    let hits = search(&env, "pump exploded view");
    assert_eq!(hits[0]["kind"], "image", "{hits:#?}");
    assert_eq!(hits[0]["doc"], "docs/pump-exploded_view.png");
    assert_eq!(hits[0]["pages"], serde_json::json!([]));
    let stored = image::open(image_file(&env, hits[0]["image"].as_str().unwrap())).unwrap();
    assert_eq!((stored.width(), stored.height()), (1024, 512), "downscaled to 1024 pixels a side");
}

#[test]
fn bad_images_fail_alone() {
    let env = TestEnv::new();
    env.write("broken.png", b"\x89PNG\r\n\x1a\nnot really");
    // A valid PNG header that claims 100,000 x 100,000 pixels: rejected before decoding.
    let mut header = b"IHDR".to_vec();
    header.extend(100_000u32.to_be_bytes());
    header.extend(100_000u32.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]);
    let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    for chunk in [header, b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01".to_vec(), b"IEND".to_vec()] {
        bomb.extend((chunk.len() as u32 - 4).to_be_bytes());
        bomb.extend(&chunk);
        bomb.extend(crc32(&chunk).to_be_bytes());
    }
    env.write("bomb.png", bomb);
    env.write("notes.md", "# Notes\n\nThe valve is blue.\n");

    let output = env.run(&["ingest", "--text-encoder", "none", "docs"]);
    assert!(!output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("docs/broken.png: failed: image could not be decoded"), "{stdout}");
    assert!(stdout.contains("docs/bomb.png: failed: image is 100000x100000 pixels"), "{stdout}");
    assert!(stdout.contains("docs/notes.md: ingested"), "{stdout}");
}

#[test]
fn prune_deletes_unused_image_files() {
    let env = TestEnv::new();
    let manual = env.write("manual.pdf", manual_with_figures());
    ingest_json(&env, &["docs"]);
    let images_dir = env.home().join("kb/default/images");
    assert_eq!(std::fs::read_dir(&images_dir).unwrap().count(), 2);

    std::fs::remove_file(manual).unwrap();
    env.run_ok(&["ingest", "--prune", "--text-encoder", "none", "docs"]);
    assert_eq!(std::fs::read_dir(&images_dir).unwrap().count(), 0);
}

/// CRC-32 as PNG chunks use it (ISO 3309, reflected, polynomial 0xEDB88320).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A question about a screenshot finds the figure before the passages that share its other
/// words, although the caption does not contain the word "screenshot".
#[test]
fn screenshot_question_prefers_the_figure() {
    let env = TestEnv::new();
    let topics = ["valve", "filter", "seal", "motor", "cable", "switch", "hose", "gasket", "bearing", "fuse"];
    // Pages of manual-sized passages, so that word weights are like those of a real manual.
    let filler = [
        "Check the {} every month and replace a worn {} before the season starts.",
        "Keep a spare {} in the service kit, and note each change in the log book.",
        "A {} that leaks, hums or runs hot needs a technician; do not open it yourself.",
        "Order parts by the number printed on the {}, and quote the serial number too.",
    ];
    let mut lines: Vec<Vec<String>> = topics
        .iter()
        .map(|topic| filler.iter().map(|line| line.replace("{}", topic)).collect())
        .collect();
    lines.push(vec![
        "While the base system installs, a progress bar shows the installer's work.".into(),
        "安装基本系统时会显示进度条。".into(),
        "The installer asks no questions in this step, which takes a few minutes.".into(),
        "A slow mirror makes this step longer; choose a closer one if it drags on.".into(),
    ]);
    let mut pages: Vec<Vec<TextRun>> = lines
        .iter()
        .map(|page| page.iter().enumerate().map(|(index, line)| run(line, 72, 740 - 20 * index as u32)).collect())
        .collect();
    pages.push(vec![run("Figure 12. Installing the base system", 72, 480), run("图 12. 安装基本系统", 72, 460)]);
    let figure_page = pages.len();
    let options =
        PdfOptions { images: vec![PdfImage::gradient(figure_page - 1, 160, 120, 72, 500)], ..PdfOptions::default() };
    env.write("manual.pdf", build_pdf(&pages, &options));
    ingest_json(&env, &["docs"]);

    for question in [
        "Show me the screenshot of installing the base system",
        "安装基本系统的截图",
    ] {
        let hits = search(&env, question);
        assert_eq!(hits[0]["kind"], "image", "{question}: {hits:#?}");
        assert_eq!(hits[0]["pages"], serde_json::json!([figure_page]), "{question}: {hits:#?}");
    }
}
