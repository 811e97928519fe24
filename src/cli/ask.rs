//! `docent ask`: one question, the answer streamed to standard output, then its sources.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use indicatif::ProgressBar;
use serde::Serialize;

use crate::answer::{Assistant, Source};
use crate::i18n::Strings;
use crate::models::{EngineEvent, FinishReason, InputImage, TokenUsage};
use crate::rag::HitKind;

use super::AskArgs;

#[derive(Serialize)]
struct AskOutput<'a> {
    answer: &'a str,
    sources: Vec<SourceRef<'a>>,
    usage: TokenUsage,
    finish_reason: FinishReason,
}

#[derive(Serialize)]
struct SourceRef<'a> {
    kind: HitKind,
    doc: &'a str,
    pages: &'a [u32],
    #[serde(skip_serializing_if = "str::is_empty")]
    heading: &'a str,
    score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    /// For an image source: whether the model saw the image itself or only its caption.
    #[serde(skip_serializing_if = "Option::is_none")]
    image_seen: Option<bool>,
}

pub async fn run(
    assistant: &Assistant,
    args: &AskArgs,
    json_schema: Option<serde_json::Value>,
    images: Vec<InputImage>,
    strings: &Strings,
) -> Result<()> {
    let question = args.question.join(" ");
    if question.trim().is_empty() {
        bail!("the question is empty: pass the question as an argument, e.g. docent ask \"How do I reset the pump?\"");
    }
    let mut options = args.generation.answer_options();
    options.generation.json_schema = json_schema;

    // The model reads the whole prompt before its first word, which takes seconds on a CPU.
    // A spinner on standard error says so; it is hidden when stderr is not a terminal.
    let waiting = if args.json { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    waiting.set_message(strings.reading_sources);
    waiting.enable_steady_tick(Duration::from_millis(120));

    let pending = assistant.answer_with_images(&[], &question, images, None, &options).await?;
    if pending.sources.is_empty() && options.top_k > 0 && !args.json {
        waiting.suspend(|| eprintln!("{}", strings.answering_without_sources));
    }

    let mut stdout = std::io::stdout();
    let mut answer = String::new();
    let mut usage = TokenUsage::default();
    let mut finish_reason = FinishReason::Stop;
    let mut events = pending.events;
    while let Some(event) = events.next().await {
        match event? {
            EngineEvent::Delta(text) => {
                waiting.finish_and_clear();
                if !args.json {
                    stdout.write_all(text.as_bytes())?;
                    stdout.flush()?;
                }
                answer.push_str(&text);
            }
            EngineEvent::Finished { reason, usage: final_usage } => {
                usage = final_usage;
                finish_reason = reason;
            }
        }
    }

    waiting.finish_and_clear();
    if args.json {
        let output = AskOutput {
            answer: answer.trim(),
            sources: pending
                .sources
                .iter()
                .map(|source| SourceRef {
                    kind: source.hit.kind,
                    doc: &source.hit.doc,
                    pages: &source.hit.pages,
                    heading: &source.hit.heading,
                    score: source.hit.score,
                    image: source.hit.image.as_deref(),
                    image_seen: source.hit.image.is_some().then_some(source.image_seen),
                })
                .collect(),
            usage,
            finish_reason,
        };
        println!("{}", serde_json::to_string(&output).context("could not encode the answer")?);
        return Ok(());
    }

    println!();
    if finish_reason == FinishReason::Length {
        println!("{}", strings.answer_cut);
    }
    if options.top_k == 0 {
        println!("\n{}", strings.no_retrieval);
        return Ok(());
    }
    print_sources(&pending.sources, strings);
    Ok(())
}

fn print_sources(sources: &[Source], strings: &Strings) {
    println!();
    if sources.is_empty() {
        println!("{}", strings.no_sources);
        return;
    }
    println!("{}{}", strings.sources, strings.colon);
    for source in sources {
        println!("  [{}] {}", source.number, source.label());
    }
    if sources.iter().any(|source| source.hit.image.is_some() && !source.image_seen) {
        println!("{}", strings.images_as_text);
    }
}
