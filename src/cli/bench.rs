//! `docent bench`: ingest throughput and search latency, for the benchmarks page.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::BenchCommand;
use crate::config::Paths;
use crate::rag::chunk::ChunkingOptions;
use crate::rag::eval::load_questions;
use crate::rag::extract::check_pdfium;
use crate::rag::ingest::{IngestOptions, Ingestor, Outcome};
use crate::rag::{load_text_encoder, KnowledgeBase, SearchOptions};

pub fn run(paths: &Paths, kb_name: &str, command: &BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Ingest { files, with_vectors } => bench_ingest(paths, files, *with_vectors),
        BenchCommand::Search { file, rounds, top_k, json } => {
            bench_search(paths, kb_name, file, usize::from(*rounds), usize::from(*top_k), *json)
        }
        BenchCommand::Quant { models, isq, max_tokens, json } => super::bench_quant::bench_quant(models, isq, *max_tokens, *json),
        BenchCommand::QuantRun { model, isq, max_tokens } => {
            tokio::runtime::Handle::current().block_on(super::bench_quant::quant_run(model, *isq, *max_tokens))
        }
    }
}

fn bench_ingest(paths: &Paths, files: &[PathBuf], with_vectors: bool) -> Result<()> {
    check_pdfium(&paths.pdfium_library())?;
    let scratch = std::env::temp_dir().join(format!("docent-bench-{}", std::process::id()));
    let result = bench_ingest_in(paths, files, with_vectors, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn bench_ingest_in(paths: &Paths, files: &[PathBuf], with_vectors: bool, scratch: &Path) -> Result<()> {
    // A scratch knowledge base and vector cache, so every run does the full work.
    let scratch_paths = Paths { home: scratch.join("home"), cache: paths.cache.clone() };
    let knowledge_base = KnowledgeBase::open_or_create(&scratch_paths, "bench")?;
    let text_encoder = if with_vectors {
        let dir = paths.default_text_encoder();
        Some((load_text_encoder(&dir, Some(128))?, dir))
    } else {
        None
    };
    let options = IngestOptions {
        chunking: ChunkingOptions::default(),
        pdfium_library: paths.pdfium_library(),
        text_encoder,
        image_encoder: None,
        vector_cache: scratch.join("vectors.sqlite3"),
    };
    let mut ingestor = Ingestor::new(&knowledge_base, options)?;

    println!("| file | pages | docent s | docent pages/s | pdftotext s | pdftotext pages/s |");
    println!("|---|---|---|---|---|---|");
    for file in files {
        let started = Instant::now();
        let report = ingestor.ingest_file(file, |_| {})?;
        let docent_time = started.elapsed();
        let pages = match report.outcome {
            Outcome::Ingested(counts) | Outcome::IngestedWithoutText(counts) => counts.pages,
            Outcome::Failed(reason) => bail!("could not ingest `{}`: {reason}", file.display()),
            other => bail!("unexpected outcome for `{}`: {other:?}", file.display()),
        };
        let pdftotext = time_pdftotext(file, scratch)?;
        let rate = |elapsed: Duration| f64::from(pages) / elapsed.as_secs_f64();
        let (pdftotext_time, pdftotext_rate) = match pdftotext {
            Some(elapsed) => (format!("{:.2}", elapsed.as_secs_f64()), format!("{:.0}", rate(elapsed))),
            None => ("not installed".into(), "-".into()),
        };
        println!(
            "| {} | {pages} | {:.2} | {:.0} | {pdftotext_time} | {pdftotext_rate} |",
            file.display(),
            docent_time.as_secs_f64(),
            rate(docent_time)
        );
    }
    ingestor.finish()
}

/// Times `pdftotext FILE OUT`; `None` when pdftotext is not installed.
fn time_pdftotext(file: &Path, scratch: &Path) -> Result<Option<Duration>> {
    let output = scratch.join("pdftotext.txt");
    let started = Instant::now();
    match Command::new("pdftotext").arg(file).arg(&output).status() {
        Ok(status) if status.success() => Ok(Some(started.elapsed())),
        Ok(status) => bail!("pdftotext failed on `{}` ({status})", file.display()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).context("could not run pdftotext"),
    }
}

#[derive(Serialize)]
struct LatencyRow {
    retriever: &'static str,
    queries: usize,
    /// The first query, which loads the encoder and builds the vector index.
    first_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    mean_ms: f64,
}

fn bench_search(paths: &Paths, kb_name: &str, file: &Path, rounds: usize, top_k: usize, json: bool) -> Result<()> {
    let questions = load_questions(file)?;
    if questions.is_empty() {
        bail!("`{}` has no questions", file.display());
    }
    let retrievers = [("full-text", true, false), ("dense", false, true), ("hybrid", true, true)];

    let mut rows = Vec::new();
    for (name, full_text, dense) in retrievers {
        // A fresh knowledge base per retriever, so that the first query pays its own set-up.
        let knowledge_base = KnowledgeBase::open(paths, kb_name)?;
        // Requests for a language's edition are handled by hybrid search only, as in `search`.
        let edition_requests = full_text && dense;
        let options = SearchOptions { full_text, dense, edition_requests, ..SearchOptions::default() };
        if dense && knowledge_base.text_encoder().is_none() {
            bail!("knowledge base `{kb_name}` has no vectors: ingest it with a text encoder first");
        }

        let started = Instant::now();
        knowledge_base.search_with(&questions[0].question, top_k, &options)?;
        let first = started.elapsed();

        let mut timings = Vec::with_capacity(rounds * questions.len());
        for _ in 0..rounds {
            for question in &questions {
                let started = Instant::now();
                knowledge_base.search_with(&question.question, top_k, &options)?;
                timings.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        timings.sort_by(f64::total_cmp);
        rows.push(LatencyRow {
            retriever: name,
            queries: timings.len(),
            first_ms: first.as_secs_f64() * 1000.0,
            p50_ms: percentile(&timings, 0.50),
            p99_ms: percentile(&timings, 0.99),
            mean_ms: timings.iter().sum::<f64>() / timings.len() as f64,
        });
    }

    if json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    println!("| retriever | queries | first query ms | p50 ms | p99 ms | mean ms |");
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} |",
            row.retriever, row.queries, row.first_ms, row.p50_ms, row.p99_ms, row.mean_ms
        );
    }
    Ok(())
}

/// Returns the nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }
}
