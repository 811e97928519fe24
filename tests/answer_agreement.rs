//! Greedy answers of the default model with docent's f32 prompt path against the quantized
//! path that unpatched candle and llama.cpp use, where activations are rounded to 8 bits. The
//! patched candle takes the f32 path (dequantized weights, f32 matmuls) for prompts of 96
//! tokens or more. The two differ only by rounding, so nearly all answers must start alike;
//! later tokens may drift apart, as any change of float arithmetic makes a 135M-parameter
//! model's greedy answer do.

mod common;

use common::TestEnv;
use docent::cli::bench_quant::shared_prefix;
use serde_json::Value;

/// Questions in both languages about the manual that the test writes.
const QUESTIONS: [&str; 6] = [
    "How do I replace the intake filter?",
    "What does error E-102 mean?",
    "如何更换密封圈？",
    "How often should the pump be serviced?",
    "What is the warranty period?",
    "水泵漏水怎么办？",
];

const MANUAL_EN: &str = "# Pump XR-2000 manual\n\n## Intake filter\n\nSwitch the pump off, open cover A, \
    pull the old filter out and push the new one in until it clicks. Error E-102 means the intake filter \
    is blocked: clean or replace it, then restart the pump.\n\n## Service\n\nService the pump every \
    500 operating hours or once a year, whichever comes first.\n\n## Warranty\n\nThe warranty lasts two \
    years from the date of purchase and covers the motor and the housing.\n";

const MANUAL_ZH: &str = "# 水泵维护手册\n\n## 密封圈\n\n更换密封圈之前必须关闭电源。拆下泵盖，取出旧密封圈，\
    装入新密封圈后拧紧螺丝。\n\n## 漏水\n\n水泵漏水时，先关闭电源和进水阀，再检查密封圈和管道接头。\n";

/// Input rows from which the patched matmul takes the f32 path; above any prompt length,
/// it turns the fast path off.
const QUANTIZED_PATH: (&str, &str) = ("CANDLE_DEQUANTIZE_MIN_ROWS", "1000000000");

/// Makes every prompt take the f32 path, which by default only prompts of 96 tokens or more take.
const F32_PROMPT_PATH: (&str, &str) = ("CANDLE_DEQUANTIZE_MIN_ROWS", "1");

fn answer(env: &TestEnv, question: &str, quantized: bool) -> String {
    let path = if quantized { QUANTIZED_PATH } else { F32_PROMPT_PATH };
    let parsed = ask_json(env, &["--max-tokens", "24", question], path, true, &[]);
    parsed["answer"].as_str().unwrap().to_string()
}

/// Runs `docent ask --json ARGS` with the environment variable `(name, value)` set when `set`
/// is true and removed otherwise, and the `fixed` variables set, and returns the parsed output.
fn ask_json(env: &TestEnv, args: &[&str], variable: (&str, &str), set: bool, fixed: &[(&str, &str)]) -> Value {
    let mut command = env.docent();
    command.args(["ask", "--json"]).args(args).envs(fixed.iter().copied());
    if set {
        command.env(variable.0, variable.1);
    } else {
        command.env_remove(variable.0);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", common::describe(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn fast_prompt_path_agrees_with_quantized() {
    let env = TestEnv::new();
    env.write("pump.md", MANUAL_EN);
    env.write("pump.zh.md", MANUAL_ZH);
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let mut shares = Vec::new();
    for question in QUESTIONS {
        let fast = answer(&env, question, false);
        let quantized = answer(&env, question, true);
        let share = shared_prefix(&fast, &quantized);
        eprintln!("{question}\n  fast:      {fast:?}\n  quantized: {quantized:?}\n  shared: {share:.2}");
        shares.push(share);
    }
    let starting_alike = shares.iter().filter(|share| **share > 0.0).count();
    assert!(starting_alike >= 5, "only {starting_alike} of 6 answers share their first character: {shares:?}");
    // Measured on 2026-12-04 (2-core x86-64 VM): 1.00, 0.65, 0.71, 1.00, 0.72, 0.89, mean 0.83.
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    assert!(mean >= 0.4, "answers agree on {mean:.2} of their length on average: {shares:?}");
}

/// Chunk size that turns query chunking off, so that every query attends to every key.
const WHOLE_ATTENTION: (&str, &str) = ("MISTRALRS_CPU_ATTENTION_CHUNK_SIZE", "1000000000");

// The prompt matmuls run in f32 (`F32_PROMPT_PATH`). Parts of a prompt under 96 tokens
// otherwise take the quantized path. Its 8-bit rounding of activations turns the last-digit
// differences between the two attentions into different answers, which would hide a real fault.

/// On the CPU, prompt attention runs in chunks of 256 queries that leave out the keys the
/// causal mask hides from them. That drops only zero terms, so greedy answers to a prompt of
/// several chunks must agree with those of attention over all keys, up to float rounding.
#[test]
fn chunked_prompt_attention_agrees_with_whole() {
    let env = TestEnv::new();
    let mut manual = String::from("# Pump XR-2000 service guide\n\n");
    for number in 1..=12 {
        manual.push_str(&format!(
            "## Valve V-{number}\n\nValve V-{number} sits on line {number} of the pump housing. Close it \
             before removing filter F-{number}, then turn screw S-{number} a quarter turn and wait \
             {number} minutes before opening it again. Replace its seal every {number}00 hours.\n\n"
        ));
    }
    env.write("service.md", manual);
    env.run_ok(&["ingest", "--text-encoder", "none", "docs"]);

    let answer_with = |question: &str, whole: bool| -> (String, u64) {
        let args = ["--max-tokens", "16", "--top-k", "8", "--context-tokens", "1024", question];
        let parsed = ask_json(&env, &args, WHOLE_ATTENTION, whole, &[F32_PROMPT_PATH]);
        (parsed["answer"].as_str().unwrap().to_string(), parsed["usage"]["prompt_tokens"].as_u64().unwrap())
    };
    // The prompt names the files by their temporary paths, so it differs from run to run. Where
    // the model's two best next tokens are nearly tied, rounding can pick either, so one answer
    // of four may differ. Keys read from the wrong head made two of four differ at once.
    let questions = [
        "How long do I wait after turning screw S-7 on valve V-7?",
        "Which filter do I remove after closing valve V-3?",
        "How often is the seal of valve V-9 replaced?",
        "Where does valve V-5 sit?",
    ];
    let mut shares = Vec::new();
    for question in questions {
        let (chunked, prompt_tokens) = answer_with(question, false);
        let (whole, _) = answer_with(question, true);
        assert!(prompt_tokens > 512, "the prompt has {prompt_tokens} tokens, fewer than three chunks");
        let share = shared_prefix(&chunked, &whole);
        eprintln!("{question}\n  chunked: {chunked:?}\n  whole:   {whole:?}\n  shared: {share:.2}");
        shares.push(share);
    }
    let identical = shares.iter().filter(|share| **share == 1.0).count();
    assert!(identical >= 3, "only {identical} of 4 answers are identical: {shares:?}");
}
