//! Image vectors through the `docent` binary, with a tiny random-weight CLIP written in the
//! real file formats. Ingest encodes every stored image, and the image retriever ranks images
//! by their similarity to the query's text. Fusion adds that ranking, and the vectors follow
//! renames, deletions and a change of encoder.

mod common;

use std::path::{Path, PathBuf};

use common::pdf::{build_pdf, PdfImage, PdfOptions, TextRun};
use common::tiny_clip::write_tiny_clip;
use common::{describe, stderr, TestEnv};
use docent::rag::clip::{flatten_on_white, ClipEncoder, ImageEncoder};
use serde_json::Value;

/// Options that show every image the image retriever finds: random weights give arbitrary
/// similarities, so the default floor would hide some.
const ALL_IMAGES: [&str; 2] = ["--min-image-similarity", "-1"];

fn png(image: image::RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    bytes
}

/// Writes the tiny CLIP to `ROOT/clip` and three picture files and a manual with a figure to
/// the documents folder. Returns the model folder.
fn setup(env: &TestEnv) -> PathBuf {
    let model = env.root.path().join("clip");
    write_tiny_clip(&model);
    env.write("red.png", png(image::RgbImage::from_pixel(40, 30, image::Rgb([220, 30, 30]))));
    env.write(
        "stripes.png",
        png(image::RgbImage::from_fn(64, 64, |x, _| if x / 8 % 2 == 0 { image::Rgb([0, 0, 0]) } else { image::Rgb([255, 255, 255]) })),
    );
    env.write("gradient.png", common::png_bytes(50, 50));
    let page = vec![
        TextRun { text: "Pump XR-2000 maintenance", x: 72, y: 740 },
        TextRun { text: "Figure 3. Exploded view of the intake filter housing", x: 72, y: 480 },
    ];
    let options = PdfOptions { images: vec![PdfImage::gradient(0, 160, 120, 72, 500)], ..PdfOptions::default() };
    env.write("manual.pdf", build_pdf(&[page], &options));
    model
}

fn ingest(env: &TestEnv, args: &[&str]) -> Value {
    let mut all = vec!["ingest", "--json", "--text-encoder", "none"];
    all.extend(args);
    serde_json::from_str(&env.run_ok(&all)).unwrap()
}

fn stats(env: &TestEnv) -> Value {
    serde_json::from_str(&env.run_ok(&["kb", "stats", "--json"])).unwrap()
}

fn search(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["search", "--json", "--top-k", "20"];
    all.extend(args);
    let parsed: Value = serde_json::from_str(&env.run_ok(&all)).unwrap();
    parsed["results"].as_array().unwrap().clone()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn retrievers(hit: &Value) -> Vec<&str> {
    hit["retrievers"].as_array().unwrap().iter().map(|name| name.as_str().unwrap()).collect()
}

/// Ranks the stored images by cosine similarity to `query`, computed here with the encoder
/// loaded as a library: (image id, similarity), best first.
fn brute_force_ranking(model: &Path, images_dir: &Path, query: &str) -> Vec<(String, f32)> {
    let encoder = ClipEncoder::load(model, "clip").unwrap();
    let query_vector = encoder.encode_query(query).unwrap();
    let mut ranking = Vec::new();
    for entry in std::fs::read_dir(images_dir).unwrap() {
        let path = entry.unwrap().path();
        let id = path.file_stem().unwrap().to_string_lossy().into_owned();
        let image = flatten_on_white(&image::open(&path).unwrap());
        let vector = encoder.encode_images(&[&image]).unwrap().remove(0);
        ranking.push((id, cosine(&query_vector, &vector)));
    }
    ranking.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranking
}

#[test]
fn image_retriever_ranks_by_clip_similarity() {
    let env = TestEnv::new();
    let model = setup(&env);
    let model_arg = model.to_str().unwrap();

    let report = ingest(&env, &["--image-encoder", model_arg, "docs"]);
    assert_eq!(report["ingested"], 4, "{report}");
    let stats = stats(&env);
    assert_eq!(stats["images"], 4, "{stats}");
    assert_eq!(stats["image_vectors"], 4, "{stats}");
    assert_eq!(stats["image_encoder"], "clip", "{stats}");

    let query = "exploded view of the intake filter";
    let hits = search(&env, &["--retriever", "image", ALL_IMAGES[0], ALL_IMAGES[1], query]);
    let expected = brute_force_ranking(&model, &env.home().join("kb/default/images"), query);
    assert_eq!(hits.len(), expected.len(), "every image once: {hits:#?}");
    for (hit, (id, similarity)) in hits.iter().zip(&expected) {
        assert_eq!(hit["kind"], "image", "{hit}");
        assert_eq!(retrievers(hit), ["image"], "{hit}");
        assert_eq!(hit["image"], id.as_str(), "order differs from brute force {expected:?}: {hits:#?}");
        let found = hit["image_similarity"].as_f64().unwrap() as f32;
        assert!((found - similarity).abs() < 1e-4, "similarity {found}, brute force {similarity}");
        assert!(hit.get("similarity").is_none(), "no text-vector similarity: {hit}");
    }
    let spread = expected[0].1 - expected[expected.len() - 1].1;
    assert!(spread > 0.1, "the tiny model tells the images apart: {expected:?}");

    // The default floor drops what is less similar than 0.2.
    let floored = search(&env, &["--retriever", "image", query]);
    let above_floor = expected.iter().filter(|(_, similarity)| *similarity >= 0.2).count();
    assert_eq!(floored.len(), above_floor, "{floored:#?}");
}

#[test]
fn hybrid_search_fuses_image_ranking() {
    let env = TestEnv::new();
    let model = setup(&env);
    ingest(&env, &["--image-encoder", model.to_str().unwrap(), "docs"]);

    let hits = search(&env, &[ALL_IMAGES[0], ALL_IMAGES[1], "exploded view intake filter housing"]);
    let figure = hits
        .iter()
        .find(|hit| hit["kind"] == "image" && hit["pages"] == serde_json::json!([1]))
        .unwrap_or_else(|| panic!("no figure: {hits:#?}"));
    assert_eq!(retrievers(figure), ["full_text", "image"], "caption and image vector: {figure}");
    assert!(figure["image_similarity"].is_number(), "{figure}");
    let images_found = hits.iter().filter(|hit| retrievers(hit).contains(&"image")).count();
    assert_eq!(images_found, 4, "every image through its vector: {hits:#?}");
    // The figure is found by two retrievers, so it outranks images found by one.
    assert_eq!(hits[0]["image"], figure["image"], "{hits:#?}");

    // Chinese queries skip the English-only image encoder by default.
    let chinese = search(&env, &[ALL_IMAGES[0], ALL_IMAGES[1], "滤清器 XR-2000"]);
    assert!(!chinese.is_empty());
    assert!(chinese.iter().all(|hit| !retrievers(hit).contains(&"image")), "{chinese:#?}");
    let weighted = search(&env, &[ALL_IMAGES[0], ALL_IMAGES[1], "--image-vector-weight-cjk", "1", "滤清器 XR-2000"]);
    assert!(weighted.iter().any(|hit| retrievers(hit).contains(&"image")), "{weighted:#?}");

    // Turned off by weight: full text alone keeps its BM25 order and scores.
    let off = search(&env, &[ALL_IMAGES[0], ALL_IMAGES[1], "--image-vector-weight", "0", "exploded view"]);
    assert!(off.iter().all(|hit| retrievers(hit) == ["full_text"]), "{off:#?}");
}

#[test]
fn image_vectors_follow_file_changes() {
    let env = TestEnv::new();
    let model = setup(&env);
    let model_arg = model.to_str().unwrap();

    // Without an image encoder first: the ingest prints how images are found.
    let output = env.run(&["ingest", "--text-encoder", "none", "docs"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(stderr(&output).contains("no image encoder is configured, so the images this ingest stored (4)"), "{}", describe(&output));
    let again = env.run(&["ingest", "--text-encoder", "none", "docs"]);
    assert!(!stderr(&again).contains("no image encoder"), "nothing was stored: {}", describe(&again));
    assert_eq!(stats(&env)["image_encoder"], Value::Null);

    // Gaining an encoder encodes the unchanged files' images.
    let report = ingest(&env, &["--image-encoder", model_arg, "docs"]);
    assert_eq!(report["ingested"], 4, "{report}");
    assert_eq!(stats(&env)["image_vectors"], 4);

    // Later ingests use the recorded encoder, and skip unchanged files.
    let report = ingest(&env, &["docs"]);
    assert_eq!(report["unchanged"], 4, "{report}");

    // A rename keeps the vector; a deletion removes it from the image search.
    std::fs::rename(env.docs().join("red.png"), env.docs().join("crimson.png")).unwrap();
    std::fs::remove_file(env.docs().join("stripes.png")).unwrap();
    let output = env.run(&["ingest", "--text-encoder", "none", "docs"]);
    assert!(output.status.success(), "{}", describe(&output));
    let hint = "the files of 1 document(s) no longer exist; `docent ingest --prune` removes them";
    assert!(stderr(&output).contains(hint), "{}", describe(&output));
    let report = ingest(&env, &["--prune", "docs"]);
    assert_eq!(report["removed"], 1, "{report}");
    let stats = stats(&env);
    assert_eq!(stats["images"], 3, "{stats}");
    assert_eq!(stats["image_vectors"], 3, "{stats}");
    let hits = search(&env, &["--retriever", "image", ALL_IMAGES[0], ALL_IMAGES[1], "stripes"]);
    let docs: Vec<String> = hits.iter().map(|hit| common::file_name(&hit["doc"])).collect();
    assert_eq!(docs.len(), 3, "{docs:?}");
    assert!(docs.contains(&"crimson.png".to_string()), "{docs:?}");
    assert!(!docs.iter().any(|doc| doc == "stripes.png" || doc == "red.png"), "{docs:?}");

    // Another encoder's vectors cannot be mixed in.
    let other = env.root.path().join("other-clip");
    write_tiny_clip(&other);
    let output = env.run(&["ingest", "--text-encoder", "none", "--image-encoder", other.to_str().unwrap(), "docs"]);
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(stderr(&output).contains("image vectors from image encoder `clip`, not `other-clip`"), "{}", describe(&output));
}

#[test]
fn bad_image_encoder_is_a_clear_error() {
    let env = TestEnv::new();
    let model = setup(&env);
    let cases: Vec<(String, &str)> = {
        let missing = env.root.path().join("no-such-model");
        let gelu = env.root.path().join("gelu-clip");
        write_tiny_clip(&gelu);
        let config = std::fs::read_to_string(gelu.join("config.json")).unwrap().replace("quick_gelu", "gelu");
        std::fs::write(gelu.join("config.json"), config).unwrap();
        let no_weights = env.root.path().join("no-weights");
        write_tiny_clip(&no_weights);
        std::fs::remove_file(no_weights.join("model.safetensors")).unwrap();
        vec![
            (missing.display().to_string(), "not found"),
            ("example/not-downloaded-clip".to_string(), "docent models pull example/not-downloaded-clip"),
            (gelu.display().to_string(), "uses the `gelu` activation"),
            (no_weights.display().to_string(), "has no `model.safetensors`"),
        ]
    };
    for (location, expected) in cases {
        let output = env
            .docent()
            .env("HF_HOME", env.root.path().join("hf"))
            .args(["ingest", "--text-encoder", "none", "--image-encoder", &location, "docs"])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{location}: {}", describe(&output));
        let message = stderr(&output);
        assert!(message.contains(expected), "{location}: expected `{expected}` in\n{}", describe(&output));
        assert!(!message.contains("panicked"), "{}", describe(&output));
    }
    assert!(model.is_dir());
    assert!(!env.home().join("kb/default").exists(), "a failed ingest leaves no empty knowledge base");
}

#[test]
fn question_image_finds_same_picture() {
    let env = TestEnv::new();
    let model = setup(&env);
    ingest(&env, &["--image-encoder", model.to_str().unwrap(), "docs"]);

    // The stripes at twice the size: after resizing, the encoder gets nearly the same input.
    let screenshot = env.root.path().join("screenshot.png");
    let stripes = image::RgbImage::from_fn(128, 128, |x, _| if x / 16 % 2 == 0 { image::Rgb([0, 0, 0]) } else { image::Rgb([255, 255, 255]) });
    std::fs::write(&screenshot, png(stripes)).unwrap();
    let screenshot_arg = screenshot.to_str().unwrap();

    let hits = search(&env, &["--retriever", "image", "--image", screenshot_arg, ALL_IMAGES[0], ALL_IMAGES[1]]);
    assert_eq!(common::file_name(&hits[0]["doc"]), "stripes.png", "{hits:#?}");
    let similarity = hits[0]["image_similarity"].as_f64().unwrap();
    assert!(similarity > 0.99, "similarity to itself: {similarity}");

    // With a Chinese question the image still counts, though the question's text does not reach
    // the English-only image encoder.
    let hits = search(&env, &["--image", screenshot_arg, ALL_IMAGES[0], ALL_IMAGES[1], "这张图是什么"]);
    assert_eq!(common::file_name(&hits[0]["doc"]), "stripes.png", "{hits:#?}");
    assert_eq!(retrievers(&hits[0]), ["image"], "{hits:#?}");

    // A knowledge base without image vectors cannot be searched with an image.
    env.run_ok(&["ingest", "--kb", "plain", "--text-encoder", "none", "docs"]);
    for args in [["--image", screenshot_arg], ["--retriever", "image"]] {
        let output = env.run(&["search", "--kb", "plain", args[0], args[1], "stripes"]);
        assert!(!output.status.success(), "{args:?}: {}", describe(&output));
        assert!(stderr(&output).contains("has no image vectors"), "{args:?}: {}", describe(&output));
    }
    let questions = env.write("questions.jsonl", r#"{"question": "stripes", "doc": "stripes.png", "pages": []}"#);
    let output = env.run(&["eval", "--kb", "plain", "--retriever", "image", questions.to_str().unwrap()]);
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(stderr(&output).contains("has no image vectors"), "{}", describe(&output));
}

#[test]
fn image_batches_match_single_images() {
    let env = TestEnv::new();
    let model = env.root.path().join("clip");
    write_tiny_clip(&model);
    let encoder = ClipEncoder::load(&model, "clip").unwrap();
    // Enough images for two batches, each a different colour.
    let images: Vec<image::RgbImage> =
        (0..11u8).map(|i| image::RgbImage::from_pixel(20, 20, image::Rgb([i * 20, 255 - i * 20, 90]))).collect();
    let references: Vec<&image::RgbImage> = images.iter().collect();
    let together = encoder.encode_images(&references).unwrap();
    assert_eq!(together.len(), images.len());
    for (index, image) in images.iter().enumerate() {
        let alone = encoder.encode_images(&[image]).unwrap().remove(0);
        let similarity = cosine(&alone, &together[index]);
        assert!(similarity > 0.9999, "image {index}: batched and single vectors differ ({similarity})");
    }
}
