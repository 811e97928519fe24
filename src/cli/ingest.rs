//! `docent ingest`: per-file outcome lines and a progress bar on a terminal.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Paths;
use crate::i18n::Strings;
use crate::rag::chunk::ChunkingOptions;
use crate::rag::extract::check_pdfium;
use crate::rag::ingest::{collect_candidates, Candidate, FileReport, IngestOptions, Ingestor, Outcome};
use crate::rag::KnowledgeBase;

use super::IngestArgs;

/// Ingests the given paths; fails (exit status 1) if any file failed, after the whole batch.
pub fn run(paths: &Paths, kb_name: &str, args: &IngestArgs, strings: &Strings) -> Result<()> {
    let candidates = collect_candidates(&args.paths);
    let needs_pdfium = candidates
        .iter()
        .any(|candidate| matches!(candidate, Candidate::File(path) if has_pdf_extension(path)));
    let pdfium_library = paths.pdfium_library();
    if needs_pdfium {
        // Without the PDF engine every PDF would fail the same way: stop before touching the index.
        check_pdfium(&pdfium_library)?;
    }

    let knowledge_base = KnowledgeBase::open_or_create(paths, kb_name)?;
    let options = IngestOptions {
        chunking: ChunkingOptions { max_chars: args.chunk_chars, overlap_chars: args.chunk_overlap },
        pdfium_library,
    };
    let mut ingestor = Ingestor::new(&knowledge_base, options)?;

    let progress = ProgressBar::new(candidates.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files, {elapsed} elapsed, {eta} left  {wide_msg}")
            .expect("progress template is valid"),
    );
    progress.enable_steady_tick(Duration::from_millis(200));

    let mut failed = 0usize;
    let mut totals = (0usize, 0usize, 0usize);
    for candidate in candidates {
        let report = match candidate {
            Candidate::Invalid(report) => report,
            Candidate::File(path) => {
                progress.set_message(path.display().to_string());
                ingestor.ingest_file(&path)?
            }
        };
        match report.outcome {
            Outcome::Ingested { .. } | Outcome::IngestedWithoutText { .. } => totals.0 += 1,
            Outcome::Unchanged => totals.1 += 1,
            Outcome::Failed(_) => {
                totals.2 += 1;
                failed += 1;
            }
            Outcome::Removed => {}
        }
        let line = outcome_line(&report, strings);
        progress.suspend(|| println!("{line}"));
        progress.inc(1);
    }
    progress.finish_and_clear();

    let mut removed = 0usize;
    if args.prune {
        for report in ingestor.prune_missing()? {
            println!("{}", outcome_line(&report, strings));
            removed += 1;
        }
    }
    ingestor.finish()?;

    let mut summary = format!(
        "{}: {} {}, {} {}, {} {}",
        knowledge_base.name, totals.0, strings.ingested, totals.1, strings.unchanged, totals.2, strings.failed
    );
    if args.prune {
        summary.push_str(&format!(", {removed} {}", strings.removed));
    }
    println!("{summary}");
    if failed > 0 {
        bail!("{failed} file(s) failed; the others were ingested");
    }
    Ok(())
}

fn has_pdf_extension(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("pdf"))
}

fn outcome_line(report: &FileReport, strings: &Strings) -> String {
    match &report.outcome {
        Outcome::Ingested { pages, chunks } if *pages > 0 => format!(
            "{}: {} ({}, {})",
            report.path,
            strings.ingested,
            strings.pages.format(u64::from(*pages)),
            strings.chunks.format(u64::from(*chunks))
        ),
        Outcome::Ingested { chunks, .. } => {
            format!("{}: {} ({})", report.path, strings.ingested, strings.chunks.format(u64::from(*chunks)))
        }
        Outcome::IngestedWithoutText { pages } => {
            format!("{}: {} ({})", report.path, strings.ingested_no_text, strings.pages.format(u64::from(*pages)))
        }
        Outcome::Unchanged => format!("{}: {}", report.path, strings.unchanged),
        Outcome::Failed(reason) => format!("{}: {}: {reason}", report.path, strings.failed),
        Outcome::Removed => format!("{}: {}", report.path, strings.removed_missing),
    }
}
