//! A multimodal model through the same code a real LLaVA uses: the tests write a tiny
//! random-weight LLaVA-1.5 in the Hugging Face layout, and docent loads it from the folder
//! with mistral.rs. Its answers are noise, so the tests check what reached the model: each
//! image adds exactly `NUM_IMAGE_TOKENS` prompt tokens, and generation runs.

mod common;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use common::tiny_clip::write_tiny_clip;
use common::tiny_llava::{write_tiny_llava, CHAT_TEMPLATE, NUM_IMAGE_TOKENS};
use common::server::Server;
use common::{describe, png_bytes, stderr, test_venv_python, TestEnv};

/// Room for docent's prompt: the tiny tokenizer spends one token on every byte.
const ROOMY_PROMPT: [&str; 4] = ["--context-tokens", "3000", "--max-tokens", "3"];

struct LlavaEnv {
    env: TestEnv,
    model: PathBuf,
}

/// Writes a knowledge base with a text page and an image file, and the tiny LLaVA beside it.
fn llava_env() -> LlavaEnv {
    let env = TestEnv::new();
    env.write("pump.md", "# Pump\n\nThe intake valve sits under the blue cover.\n");
    env.write("valve-diagram.png", png_bytes(48, 32));
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);
    let model = env.root.path().join("tiny-llava");
    std::fs::create_dir_all(&model).unwrap();
    write_tiny_llava(&model);
    LlavaEnv { env, model }
}

impl LlavaEnv {
    fn picture(&self, name: &str) -> PathBuf {
        let path = self.env.root.path().join(name);
        std::fs::write(&path, png_bytes(40, 30)).unwrap();
        path
    }

    /// Runs `docent ask --json` with the tiny model and returns its output.
    fn ask(&self, extra: &[&str], question: &str) -> Value {
        let model = self.model.to_str().unwrap();
        let mut args = vec!["ask", "--json", "--model", model, "--isq", "none"];
        args.extend(ROOMY_PROMPT);
        args.extend(extra);
        args.push(question);
        let stdout = self.env.run_ok(&args);
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"))
    }
}

fn prompt_tokens(output: &Value) -> u64 {
    output["usage"]["prompt_tokens"].as_u64().unwrap_or_else(|| panic!("no prompt_tokens: {output}"))
}

fn assert_generated(output: &Value) {
    let completion = output["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((1..=3).contains(&completion), "generation ran: {output}");
}

#[test]
fn question_images_reach_the_model() {
    let llava = llava_env();
    let picture = llava.picture("photo.png");
    let picture = picture.to_str().unwrap();
    let question = "What does this photo show?";

    let text_only = llava.ask(&["--top-k", "0"], question);
    let one_image = llava.ask(&["--top-k", "0", "--image", picture], question);
    let two_images = llava.ask(&["--top-k", "0", "--image", picture, "--image", picture], question);
    for output in [&text_only, &one_image, &two_images] {
        assert_generated(output);
    }
    let per_image = NUM_IMAGE_TOKENS as u64;
    assert_eq!(prompt_tokens(&one_image), prompt_tokens(&text_only) + per_image, "{one_image}");
    assert_eq!(prompt_tokens(&two_images), prompt_tokens(&text_only) + 2 * per_image, "{two_images}");
}

#[test]
fn question_image_retrieves_similar_figure() {
    let llava = llava_env();
    let question = "这是什么？";
    let picture = llava.env.root.path().join("screenshot.png");
    std::fs::write(&picture, png_bytes(48, 32)).unwrap();
    let picture = picture.to_str().unwrap();
    let image_sources = |output: &Value| -> Vec<String> {
        let sources = output["sources"].as_array().unwrap();
        sources.iter().filter(|source| source["kind"] == "image").map(|source| source["doc"].as_str().unwrap().to_string()).collect()
    };

    // Without image vectors, the question's words match nothing.
    let without_vectors = llava.ask(&["--image", picture], question);
    assert!(image_sources(&without_vectors).is_empty(), "{without_vectors}");

    // With CLIP image vectors, the question image finds the stored picture it shows.
    let clip = llava.env.root.path().join("tiny-clip");
    write_tiny_clip(&clip);
    llava.env.run_ok(&["ingest", "--text-encoder", "none", "--image-encoder", clip.to_str().unwrap(), "docs"]);
    let with_vectors = llava.ask(&["--image", picture], question);
    assert_eq!(image_sources(&with_vectors), ["docs/valve-diagram.png"], "{with_vectors}");
    assert_generated(&with_vectors);
}

#[test]
fn source_images_reach_the_model() {
    let llava = llava_env();
    let question = "Show the valve diagram.";

    // A local multimodal model gets up to two source images by default.
    let with_image = llava.ask(&[], question);
    let image_source = with_image["sources"].as_array().unwrap().iter().find(|source| source["kind"] == "image");
    let image_source = image_source.unwrap_or_else(|| panic!("no image source: {with_image}"));
    assert_eq!(image_source["doc"], "docs/valve-diagram.png", "{with_image}");
    assert_eq!(image_source["image_seen"], true, "{with_image}");
    assert_generated(&with_image);

    let captions_only = llava.ask(&["--source-images", "0"], question);
    let image_source = captions_only["sources"].as_array().unwrap().iter().find(|source| source["kind"] == "image").unwrap();
    assert_eq!(image_source["image_seen"], false, "{captions_only}");

    // The image's tokens, and the note in the prompt that the image is attached.
    let attached_note = " (image attached)".len() as u64;
    assert_eq!(
        prompt_tokens(&with_image),
        prompt_tokens(&captions_only) + NUM_IMAGE_TOKENS as u64 + attached_note,
        "{with_image}\n{captions_only}"
    );
}

#[test]
fn in_situ_quantization_loads_and_answers() {
    let llava = llava_env();
    let picture = llava.picture("photo.png");
    let model = llava.model.to_str().unwrap();
    let args = ["ask", "--json", "--model", model, "--isq", "q4k", "--top-k", "0", "--max-tokens", "3", "--context-tokens", "3000",
        "--image", picture.to_str().unwrap(), "Describe it."];
    let output: Value = serde_json::from_str(&llava.env.run_ok(&args)).unwrap();
    assert_generated(&output);

    let bad = llava.env.run(&["ask", "--model", model, "--isq", "q3_bogus", "Describe it."]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("invalid value 'q3_bogus' for '--isq"), "{}", describe(&bad));
}

#[test]
fn chat_template_file_replaces_the_shipped_one() {
    let llava = llava_env();
    let question = "What is the intake valve under?";
    let shipped = llava.ask(&["--top-k", "0"], question);

    let template = llava.env.root.path().join("template.jinja");
    std::fs::write(&template, CHAT_TEMPLATE.replace("{{ bos_token }}", "{{ bos_token }}Manual assistant. ")).unwrap();
    let replaced = llava.ask(&["--top-k", "0", "--chat-template", template.to_str().unwrap()], question);
    assert_eq!(prompt_tokens(&replaced), prompt_tokens(&shipped) + "Manual assistant. ".len() as u64, "{replaced}");

    let text_file = llava.env.root.path().join("template.txt");
    std::fs::write(&text_file, CHAT_TEMPLATE).unwrap();
    let model = llava.model.to_str().unwrap();
    let output = llava.env.run(&["ask", "--model", model, "--chat-template", text_file.to_str().unwrap(), question]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("must be a .jinja file"), "{}", describe(&output));
}

#[test]
fn broken_model_folder_is_a_clear_error() {
    let llava = llava_env();
    let model = llava.model.to_str().unwrap();
    std::fs::write(llava.model.join("model.safetensors"), b"not safetensors").unwrap();
    let output = llava.env.run(&["ask", "--model", model, "--isq", "none", "--top-k", "0", "Describe it."]);
    assert!(!output.status.success(), "{}", describe(&output));
    let message = stderr(&output);
    assert!(message.contains(&format!("could not load model `{model}`")), "{message}");
    assert!(!message.contains("panicked"), "{message}");

    std::fs::remove_file(llava.model.join("model.safetensors")).unwrap();
    let output = llava.env.run(&["ask", "--model", model, "--isq", "none", "--top-k", "0", "Describe it."]);
    assert!(!output.status.success(), "{}", describe(&output));
    let message = stderr(&output);
    assert!(message.contains("model*.safetensors"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn quantization_bench_compares_levels() {
    let llava = llava_env();
    let model = llava.model.to_str().unwrap();
    let stdout = llava.env.run_ok(&["bench", "quant", "--model", model, "--isq", "none,q8_0", "--max-tokens", "2", "--json"]);
    let rows: Value = serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert_eq!(rows[0]["level"], "ISQ none");
    assert_eq!(rows[1]["level"], "ISQ q8_0");
    // The reference agrees with itself; every level was loaded and generated.
    assert_eq!(rows[0]["same_answers"], rows[0]["prompts"], "{stdout}");
    assert_eq!(rows[0]["shared_prefix"], 1.0, "{stdout}");
    for row in rows {
        assert_eq!(row["prompts"], 6, "{row}");
        assert!(row["peak_rss_mib"].as_f64().unwrap() > 1.0, "{row}");
        assert!(row["decode_tokens_per_second"].as_f64().unwrap() > 0.0, "{row}");
    }

    let one_level = llava.env.run(&["bench", "quant", "--model", model, "--isq", "none"]);
    assert!(!one_level.status.success());
    assert!(stderr(&one_level).contains("give at least two variants"), "{}", describe(&one_level));
}

/// `docent serve` with the tiny LLaVA: an `image_url` part reaches the model over the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_image_parts_reach_the_model() {
    use base64::Engine as _;

    let llava = llava_env();
    let mut server = start_llava_server(&llava.env, &llava.model);
    let http = reqwest::Client::new();
    server.wait_ready(&http).await;

    let data_url = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png_bytes(40, 30)));
    let text_part = json!({ "type": "text", "text": "What does this photo show?" });
    let image_part = json!({ "type": "image_url", "image_url": { "url": data_url } });
    let engine_model = llava.model.to_str().unwrap().trim_end_matches('/').to_string();
    let ask = |content: Value| {
        let body = json!({ "model": engine_model, "max_tokens": 3, "messages": [{ "role": "user", "content": content }] });
        let request = http.post(format!("{}/v1/chat/completions", server.base)).json(&body).send();
        async move {
            let response = request.await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            assert_eq!(status, 200, "{body}");
            body
        }
    };

    let text_only = ask(json!([text_part])).await;
    let with_image = ask(json!([text_part, image_part])).await;
    let completion = with_image["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((1..=3).contains(&completion), "{with_image}");
    assert_eq!(
        with_image["usage"]["prompt_tokens"].as_u64().unwrap(),
        text_only["usage"]["prompt_tokens"].as_u64().unwrap() + NUM_IMAGE_TOKENS as u64,
        "{with_image}\n{text_only}"
    );
}

/// The official `openai` Python package sends an image part that reaches the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_openai_client_sends_images() {
    let llava = llava_env();
    let mut server = start_llava_server(&llava.env, &llava.model);
    server.wait_ready(&reqwest::Client::new()).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/openai_images.py");
    let engine_model = llava.model.to_str().unwrap().trim_end_matches('/');
    let output = std::process::Command::new(test_venv_python())
        .args([script, &format!("{}/v1", server.base), engine_model])
        .output()
        .expect("python runs");
    assert!(output.status.success(), "the openai client failed\n{}", describe(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    let text_only = report["text_only"]["usage"]["prompt_tokens"].as_u64().unwrap();
    let with_image = report["with_image"]["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(with_image, text_only + NUM_IMAGE_TOKENS as u64, "{report}");
    assert!(report["with_image"]["usage"]["completion_tokens"].as_u64().unwrap() >= 1, "{report}");
}

/// Starts `docent serve` with the tiny LLaVA and room for its byte-level prompts.
fn start_llava_server(env: &TestEnv, model: &Path) -> Server {
    let mut args = vec!["--model", model.to_str().unwrap(), "--isq", "none"];
    args.extend(ROOMY_PROMPT);
    Server::spawn(env, &args, &[])
}
