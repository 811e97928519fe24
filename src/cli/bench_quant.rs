//! `docent bench quant`: one model at several quantization levels, side by side. Each level
//! runs in a fresh `docent` process, so that its load time and peak memory are its own.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::answer::{build_messages, AnswerOptions, Source};
use crate::models::local::{LoadOptions, Quantization};
use crate::models::{ChatEngine, EngineEvent, GenerationParams, LocalEngine, ModelSpec};
use crate::rag::{HitKind, SearchHit};

/// The manual passage every prompt cites, in English and in Chinese.
const PASSAGE_EN: &str = "Pump XR-2000. Switch the pump off, open cover A, pull the old intake filter out and push \
    the new one in until it clicks. Error E-102 means the intake filter is blocked: clean or replace it, then \
    restart the pump. Service the pump every 500 operating hours or once a year, whichever comes first. The \
    warranty lasts two years from the date of purchase and covers the motor and the housing.";
const PASSAGE_ZH: &str = "水泵维护手册。更换密封圈之前必须关闭电源。拆下泵盖，取出旧密封圈，装入新密封圈后拧紧螺丝。\
    水泵漏水时，先关闭电源和进水阀，再检查密封圈和管道接头。每运行500小时或每年保养一次。";

/// Questions answered at every level, with the passage each cites.
const PROMPTS: [(&str, &str); 6] = [
    ("How do I replace the intake filter?", PASSAGE_EN),
    ("What does error E-102 mean?", PASSAGE_EN),
    ("How often should the pump be serviced?", PASSAGE_EN),
    ("What does the warranty cover?", PASSAGE_EN),
    ("如何更换密封圈？", PASSAGE_ZH),
    ("水泵漏水怎么办？", PASSAGE_ZH),
];

/// One model at one level, as measured by a `bench quant-run` process.
#[derive(Debug, Serialize, Deserialize)]
pub struct LevelReport {
    pub load_seconds: f64,
    /// Peak resident memory of the process, in MiB.
    pub peak_rss_mib: f64,
    pub answers: Vec<AnswerReport>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AnswerReport {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// From sending the request to the first answer text.
    pub first_token_seconds: f64,
    pub total_seconds: f64,
    pub answer: String,
}

/// A model variant to measure: a GGUF file as it is, or a model folder or id at an ISQ level.
struct Variant {
    model: String,
    quantization: Quantization,
    /// The model as the table shows it: a file name, or the folder or id.
    shown_model: String,
    /// The weight type of a GGUF file, or the ISQ level.
    level: String,
}

/// Runs every variant in its own process and prints the table; the first variant is the
/// reference that the others' answers are compared with.
pub fn bench_quant(models: &[String], levels: &[Quantization], max_tokens: usize, json: bool) -> Result<()> {
    let variants = variants(models, levels)?;
    let executable = std::env::current_exe().context("could not find the docent executable")?;
    let mut reports = Vec::with_capacity(variants.len());
    for (index, variant) in variants.iter().enumerate() {
        eprintln!("bench quant: {} {} ({}/{})", variant.shown_model, variant.level, index + 1, variants.len());
        let output = Command::new(&executable)
            .args(["bench", "quant-run", "--model", &variant.model, "--isq", &quantization_name(variant.quantization)])
            .args(["--max-tokens", &max_tokens.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .context("could not start a docent process")?;
        if !output.status.success() {
            bail!("measuring {} at {} failed ({})", variant.shown_model, variant.level, output.status);
        }
        let report: LevelReport = serde_json::from_slice(&output.stdout)
            .with_context(|| format!("could not read the measurements of {} at {}", variant.shown_model, variant.level))?;
        reports.push(report);
    }

    let rows: Vec<Row> = variants.iter().zip(&reports).map(|(variant, report)| Row::new(variant, report, &reports[0])).collect();
    if json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    println!("| model | level | load s | peak RSS MiB | prompt tok/s | decode tok/s | same answers | shared prefix |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {}/{} | {:.2} |",
            row.model,
            row.level,
            row.load_seconds,
            row.peak_rss_mib,
            row.prompt_tokens_per_second,
            row.decode_tokens_per_second,
            row.same_answers,
            row.prompts,
            row.shared_prefix
        );
    }
    println!("\nAnswers are compared with the first row's, greedy, {max_tokens} tokens at most, {} prompts.", PROMPTS.len());
    Ok(())
}

fn variants(models: &[String], levels: &[Quantization]) -> Result<Vec<Variant>> {
    let mut variants = Vec::new();
    for model in models {
        match ModelSpec::parse(model) {
            ModelSpec::GgufFile(path) => variants.push(Variant {
                model: model.clone(),
                quantization: Quantization::None,
                shown_model: file_name(&path),
                level: format!("GGUF {}", gguf_weight_type(&path)?),
            }),
            ModelSpec::ModelId(_) => {
                let levels = if levels.is_empty() { &[Quantization::None][..] } else { levels };
                for level in levels {
                    variants.push(Variant {
                        model: model.clone(),
                        quantization: *level,
                        shown_model: model.trim_end_matches('/').to_string(),
                        level: format!("ISQ {}", quantization_name(*level)),
                    });
                }
            }
        }
    }
    if variants.len() < 2 {
        bail!("give at least two variants: several GGUF files, or a model folder or id with --isq LEVEL,LEVEL");
    }
    Ok(variants)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned())
}

/// Names a GGUF file's quantization from its header: the `general.file_type` that llama.cpp
/// writes, or else the weight type most of its tensors have.
fn gguf_weight_type(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("could not open `{}`", path.display()))?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut file)
        .with_context(|| format!("`{}` is not a readable GGUF file", path.display()))?;
    // Values of llama.cpp's `llama_ftype` enum (include/llama.h).
    let file_type = content.metadata.get("general.file_type").and_then(|value| value.to_u32().ok());
    let named = match file_type {
        Some(0) => Some("F32"),
        Some(1) => Some("F16"),
        Some(2) => Some("Q4_0"),
        Some(3) => Some("Q4_1"),
        Some(7) => Some("Q8_0"),
        Some(8) => Some("Q5_0"),
        Some(9) => Some("Q5_1"),
        Some(14) => Some("Q4_K_S"),
        Some(15) => Some("Q4_K_M"),
        Some(16) => Some("Q5_K_S"),
        Some(17) => Some("Q5_K_M"),
        Some(18) => Some("Q6_K"),
        _ => None,
    };
    if let Some(name) = named {
        return Ok(name.to_string());
    }
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for info in content.tensor_infos.values() {
        *counts.entry(format!("{:?}", info.ggml_dtype)).or_default() += 1;
    }
    Ok(counts.into_iter().max_by_key(|(_, count)| *count).map(|(dtype, _)| dtype).unwrap_or_default())
}

fn quantization_name(quantization: Quantization) -> String {
    match quantization {
        Quantization::None => "none".into(),
        Quantization::Isq(isq) => format!("{isq:?}").to_lowercase(),
    }
}

#[derive(Debug, Serialize)]
struct Row {
    model: String,
    level: String,
    load_seconds: f64,
    peak_rss_mib: f64,
    prompt_tokens_per_second: f64,
    decode_tokens_per_second: f64,
    /// Answers identical to the reference's.
    same_answers: usize,
    prompts: usize,
    /// Mean share of the shorter answer that it and the reference's begin with, in characters.
    shared_prefix: f64,
}

impl Row {
    fn new(variant: &Variant, report: &LevelReport, reference: &LevelReport) -> Self {
        let prompt_tokens: usize = report.answers.iter().map(|answer| answer.prompt_tokens).sum();
        let prompt_seconds: f64 = report.answers.iter().map(|answer| answer.first_token_seconds).sum();
        let decoded_tokens: usize = report.answers.iter().map(|answer| answer.completion_tokens.saturating_sub(1)).sum();
        let decode_seconds: f64 = report.answers.iter().map(|answer| answer.total_seconds - answer.first_token_seconds).sum();
        let pairs = report.answers.iter().zip(&reference.answers);
        let same_answers = pairs.clone().filter(|(answer, reference)| answer.answer == reference.answer).count();
        let shared: f64 = pairs.map(|(answer, reference)| shared_prefix(&answer.answer, &reference.answer)).sum();
        Self {
            model: variant.shown_model.clone(),
            level: variant.level.clone(),
            load_seconds: report.load_seconds,
            peak_rss_mib: report.peak_rss_mib,
            prompt_tokens_per_second: prompt_tokens as f64 / prompt_seconds.max(1e-9),
            decode_tokens_per_second: decoded_tokens as f64 / decode_seconds.max(1e-9),
            same_answers,
            prompts: report.answers.len(),
            shared_prefix: shared / report.answers.len().max(1) as f64,
        }
    }
}

/// Returns the share of the shorter answer that both answers begin with, in characters;
/// equal answers share all of it, even when empty.
pub fn shared_prefix(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count()).max(1);
    shared as f64 / shorter as f64
}

/// Loads one variant, answers the prompts greedily and prints a [`LevelReport`] as JSON.
pub async fn quant_run(model: &str, quantization: Quantization, max_tokens: usize) -> Result<()> {
    let started = Instant::now();
    let engine = LocalEngine::load(&ModelSpec::parse(model), &LoadOptions { quantization, chat_template: None }).await?;
    let load_seconds = started.elapsed().as_secs_f64();

    // A first short answer pays for one-time set-up, which is not part of any prompt's time.
    generate(&engine, PROMPTS[0], 1).await?;
    let mut answers = Vec::with_capacity(PROMPTS.len());
    for prompt in PROMPTS {
        answers.push(generate(&engine, prompt, max_tokens).await?);
    }
    let report = LevelReport { load_seconds, peak_rss_mib: peak_rss_mib()?, answers };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn generate(engine: &LocalEngine, (question, passage): (&str, &str), max_tokens: usize) -> Result<AnswerReport> {
    let hit = SearchHit {
        kind: HitKind::Text,
        doc: "manual.pdf".into(),
        pages: vec![1],
        score: 1.0,
        text: passage.into(),
        heading: String::new(),
        image: None,
        retrievers: Vec::new(),
        similarity: None,
        image_similarity: None,
        chars: None,
        counterpart_of: None,
        key: Default::default(),
    };
    let sources = [Source { number: 1, hit, image_seen: false }];
    let messages = build_messages(&[], question, &sources, None, &AnswerOptions::default())?;
    let params = GenerationParams { max_tokens, repetition_penalty: None, ..GenerationParams::default() };

    let started = Instant::now();
    let mut first_token: Option<Duration> = None;
    let mut answer = String::new();
    let mut events = engine.stream_chat(messages, params).await?;
    while let Some(event) = events.next().await {
        match event? {
            EngineEvent::Delta(text) => {
                first_token.get_or_insert_with(|| started.elapsed());
                answer.push_str(&text);
            }
            EngineEvent::Finished { usage, .. } => {
                let total = started.elapsed();
                return Ok(AnswerReport {
                    prompt_tokens: usage.prompt_tokens,
                    completion_tokens: usage.completion_tokens,
                    first_token_seconds: first_token.unwrap_or(total).as_secs_f64(),
                    total_seconds: total.as_secs_f64(),
                    answer,
                });
            }
        }
    }
    bail!("the answer to `{question}` ended without its usage")
}

/// Reads the peak resident memory of this process (`VmHWM` in `/proc/self/status`).
fn peak_rss_mib() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status").context("could not read /proc/self/status")?;
    let kilobytes: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("/proc/self/status has no VmHWM line")?;
    Ok(kilobytes / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_prefix_counts_characters() {
        assert_eq!(shared_prefix("Clean the filter.", "Clean the filter."), 1.0);
        assert_eq!(shared_prefix("abcd", "abxy"), 0.5);
        assert_eq!(shared_prefix("先关闭电源", "先关闭阀门"), 0.6);
        assert_eq!(shared_prefix("", "anything"), 0.0);
        assert_eq!(shared_prefix("", ""), 1.0);
    }
}
