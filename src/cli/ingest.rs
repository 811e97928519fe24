//! `docent ingest`: per-file outcome lines and a progress bar on a terminal.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::config::Paths;
use crate::i18n::Strings;
use crate::rag::chunk::ChunkingOptions;
use crate::rag::extract::check_pdfium;
use crate::rag::clip::ImageEncoder;
use crate::rag::embed::TextEncoder;
use crate::rag::ingest::{collect_candidates, Candidate, Counts, FileReport, IngestOptions, Ingestor, Outcome, Progress};
use crate::rag::{load_image_encoder, load_text_encoder, similar_knowledge_base, KnowledgeBase};

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

    // Paths that are all missing or unsupported create no knowledge base (a typo in a path
    // must not leave an empty one behind), unless pruning is asked for.
    let exists = paths.knowledge_base(kb_name).join("catalog.sqlite3").is_file();
    let has_files = candidates.iter().any(|candidate| matches!(candidate, Candidate::File(_)));
    if exists && !has_files {
        eprintln!("{}", strings.no_supported_files);
    }
    if !exists && !args.prune && !has_files {
        for candidate in &candidates {
            if let Candidate::Invalid(report) = candidate {
                println!("{}", outcome_line(report, strings));
            }
        }
        let skipped = skipped_paths(&candidates);
        if let Some(note) = skipped_note(&skipped, strings) {
            eprintln!("{note}");
        }
        bail!("nothing to ingest: no supported file was found, so knowledge base `{kb_name}` was not created");
    }

    // The encoders load before a new knowledge base is created, so that a wrong encoder
    // option leaves no empty knowledge base behind.
    let existing = if exists { Some(KnowledgeBase::open(paths, kb_name)?) } else { None };
    let recorded_text_encoder = match &existing {
        Some(knowledge_base) => knowledge_base.recorded_text_encoder()?.map(|(_, dir)| dir),
        None => None,
    };
    let recorded_image_encoder = match &existing {
        Some(knowledge_base) => knowledge_base.recorded_image_encoder()?.map(|(_, location)| location),
        None => None,
    };
    let text_encoder = resolve_text_encoder(
        paths,
        recorded_text_encoder,
        args.text_encoder.as_deref(),
        usize::from(args.encoder_max_tokens),
        args.json,
    )?;
    let image_encoder = resolve_image_encoder(recorded_image_encoder, args.image_encoder.as_deref())?;
    let knowledge_base = match existing {
        Some(knowledge_base) => knowledge_base,
        None => {
            if let Some(similar) = similar_knowledge_base(paths, kb_name) {
                eprintln!("{}", strings.creating_similar_kb.replace("{name}", kb_name).replace("{similar}", &similar));
            }
            KnowledgeBase::open_or_create(paths, kb_name)?
        }
    };
    let has_image_encoder = image_encoder.is_some();
    let options = IngestOptions {
        chunking: ChunkingOptions { max_chars: args.chunk_chars, overlap_chars: args.chunk_overlap },
        pdfium_library,
        text_encoder,
        image_encoder,
        vector_cache: paths.vector_cache(),
    };
    let mut ingestor = Ingestor::new(&knowledge_base, options)?;

    let skipped = skipped_paths(&candidates);
    let skipped_note = skipped_note(&skipped, strings);
    let candidates: Vec<Candidate> =
        candidates.into_iter().filter(|candidate| !matches!(candidate, Candidate::Skipped(_))).collect();

    // The bar advances by bytes of files done, which predicts the time left better than a
    // count of files when one large manual sits among small ones. It fits an 80-column terminal
    // with room for the file's name and step.
    let file_bytes = |candidate: &Candidate| match candidate {
        Candidate::File(path) => std::fs::metadata(path).map_or(1, |metadata| metadata.len().max(1)),
        _ => 1,
    };
    let total_files = candidates.len();
    let progress = ProgressBar::new(candidates.iter().map(file_bytes).sum());
    let template = format!("{{bar:16}} {{prefix}} · {{eta}} {} · {{wide_msg}}", strings.progress_left);
    progress.set_style(ProgressStyle::with_template(&template).expect("progress template is valid"));
    if args.json {
        progress.set_draw_target(ProgressDrawTarget::hidden());
    }
    let files_line = |done: usize, rate: f64| {
        strings
            .progress_files
            .replace("{done}", &done.to_string())
            .replace("{total}", &total_files.to_string())
            .replace("{rate}", &format!("{rate:.0}"))
    };
    progress.set_prefix(files_line(0, 0.0));
    progress.enable_steady_tick(Duration::from_millis(200));

    let mut reports = Vec::new();
    let started = std::time::Instant::now();
    let mut pages_done = 0u64;
    for (files_done, candidate) in candidates.into_iter().enumerate() {
        let bytes = file_bytes(&candidate);
        let report = match candidate {
            Candidate::Invalid(report) => report,
            // Filtered out above.
            Candidate::Skipped(_) => continue,
            Candidate::File(path) => {
                // The file name, not the whole path, so that it fits beside the bar.
                let shown = path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned());
                progress.set_message(shown.clone());
                let mut chunk_count = 0;
                let mut encoded = 0;
                let mut images_encoded = 0;
                let report = ingestor.ingest_file(&path, |step| match step {
                    // The step goes first, so that a narrow terminal cuts the file name, not
                    // the counts.
                    Progress::Extracted { pages, chunks } => {
                        chunk_count = chunks;
                        let step = strings.progress_read.replace("{pages}", &pages.to_string());
                        progress.set_message(format!("{step} · {shown}"));
                    }
                    Progress::Encoded(done) => {
                        encoded += done;
                        let step = strings
                            .progress_vectors
                            .replace("{done}", &encoded.to_string())
                            .replace("{total}", &chunk_count.to_string());
                        progress.set_message(format!("{step} · {shown}"));
                    }
                    Progress::EncodedImages(done) => {
                        images_encoded += done;
                        let step = strings.progress_image_vectors.replace("{done}", &images_encoded.to_string());
                        progress.set_message(format!("{step} · {shown}"));
                    }
                })?;
                if let Outcome::Ingested(counts) | Outcome::Renamed { counts, .. } | Outcome::IngestedWithoutText(counts) =
                    &report.outcome
                {
                    pages_done += u64::from(counts.pages);
                }
                report
            }
        };
        // The bar moves first, so that the frame that shows this file as done also shows its
        // bytes as done.
        progress.inc(bytes);
        let rate = pages_done as f64 / started.elapsed().as_secs_f64().max(1e-3);
        progress.set_prefix(files_line(files_done + 1, rate));
        if !args.json {
            let line = outcome_line(&report, strings);
            progress.suspend(|| println!("{line}"));
        }
        reports.push(report);
    }
    progress.finish_and_clear();

    if args.prune {
        for report in ingestor.prune_missing()? {
            if !args.json {
                println!("{}", outcome_line(&report, strings));
            }
            reports.push(report);
        }
    }
    ingestor.finish()?;

    if let Some(note) = &skipped_note {
        if !args.json {
            eprintln!("{note}");
        }
    }
    let images_stored: u32 = reports
        .iter()
        .filter_map(|report| match &report.outcome {
            Outcome::Ingested(counts) | Outcome::Renamed { counts, .. } | Outcome::IngestedWithoutText(counts) => Some(counts.images),
            _ => None,
        })
        .sum();
    if images_stored > 0 && !has_image_encoder && !args.json {
        eprintln!("{}", strings.images_by_text_only.replace("{images}", &images_stored.to_string()));
    }
    let totals = Totals::count(&reports);
    if args.json {
        let files: Vec<FileJson> = reports.iter().map(FileJson::from).collect();
        let output = IngestJson { kb: &knowledge_base.name, totals: &totals, files };
        println!("{}", serde_json::to_string(&output)?);
    } else {
        let mut summary = format!(
            "{}: {} {}, {} {}, {} {}",
            knowledge_base.name, totals.ingested, strings.ingested, totals.unchanged, strings.unchanged, totals.failed, strings.failed
        );
        if args.prune {
            summary.push_str(&format!(", {} {}", totals.removed, strings.removed));
        }
        println!("{summary}");
    }
    if !args.prune && !args.json {
        let documents = knowledge_base.catalog()?.list()?;
        let missing = documents.iter().filter(|document| !Path::new(&document.id).exists()).count();
        if missing > 0 {
            eprintln!("{}", strings.files_missing.replace("{count}", &missing.to_string()));
        }
    }
    if totals.failed > 0 && totals.ingested + totals.unchanged == 0 {
        bail!("{}", strings.all_failed.replace("{count}", &totals.failed.to_string()));
    }
    if totals.failed > 0 {
        bail!("{}", strings.some_failed.replace("{count}", &totals.failed.to_string()));
    }
    Ok(())
}

#[derive(Serialize)]
struct Totals {
    ingested: usize,
    unchanged: usize,
    failed: usize,
    removed: usize,
}

impl Totals {
    fn count(reports: &[FileReport]) -> Self {
        let count = |wanted: fn(&Outcome) -> bool| reports.iter().filter(|report| wanted(&report.outcome)).count();
        Self {
            ingested: count(|outcome| {
                matches!(outcome, Outcome::Ingested(_) | Outcome::Renamed { .. } | Outcome::IngestedWithoutText(_))
            }),
            unchanged: count(|outcome| matches!(outcome, Outcome::Unchanged)),
            failed: count(|outcome| matches!(outcome, Outcome::Failed(_))),
            removed: count(|outcome| matches!(outcome, Outcome::Removed)),
        }
    }
}

/// `docent ingest --json` output: the totals, then one entry per file.
#[derive(Serialize)]
struct IngestJson<'a> {
    kb: &'a str,
    #[serde(flatten)]
    totals: &'a Totals,
    files: Vec<FileJson<'a>>,
}

#[derive(Serialize)]
struct FileJson<'a> {
    path: &'a str,
    /// `ingested`, `renamed`, `ingested_without_text`, `unchanged`, `failed` or `removed`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    renamed_from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chunks: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    images: Option<u32>,
    /// Pages without a text layer, kept as images: their text is not searchable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pages_without_text: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl<'a> From<&'a FileReport> for FileJson<'a> {
    fn from(report: &'a FileReport) -> Self {
        let renamed_from = match &report.outcome {
            Outcome::Renamed { from, .. } => Some(from.as_str()),
            _ => None,
        };
        let counts = match &report.outcome {
            Outcome::Ingested(counts) | Outcome::Renamed { counts, .. } | Outcome::IngestedWithoutText(counts) => {
                Some(*counts)
            }
            _ => None,
        };
        let (outcome, pages, chunks, error) = match &report.outcome {
            Outcome::Ingested(counts) => ("ingested", Some(counts.pages), Some(counts.chunks), None),
            Outcome::Renamed { counts, .. } => ("renamed", Some(counts.pages), Some(counts.chunks), None),
            Outcome::IngestedWithoutText(counts) => ("ingested_without_text", Some(counts.pages), Some(counts.chunks), None),
            Outcome::Unchanged => ("unchanged", None, None, None),
            Outcome::Failed(reason) => ("failed", None, None, Some(reason.as_str())),
            Outcome::Removed => ("removed", None, None, None),
        };
        Self {
            path: &report.path,
            outcome,
            renamed_from,
            pages,
            chunks,
            images: counts.map(|counts| counts.images),
            pages_without_text: counts.map(|counts| counts.scanned_pages),
            error,
        }
    }
}

/// Picks the text encoder: `--text-encoder` (`none` turns vectors off), else the one the
/// knowledge base records, else the cached default if `make setup` installed it.
fn resolve_text_encoder(
    paths: &Paths,
    recorded: Option<PathBuf>,
    requested: Option<&str>,
    max_tokens: usize,
    quiet: bool,
) -> Result<Option<(Arc<dyn TextEncoder>, PathBuf)>> {
    let dir = match requested {
        Some("none") => return Ok(None),
        Some(dir) => PathBuf::from(dir),
        None => match recorded {
            Some(dir) => dir,
            None => {
                let default = paths.default_text_encoder();
                if !default.is_dir() {
                    if !quiet {
                        eprintln!(
                            "note: no text encoder at `{}` (run `make setup`): indexing full text only",
                            default.display()
                        );
                    }
                    return Ok(None);
                }
                default
            }
        },
    };
    let encoder = load_text_encoder(&dir, Some(max_tokens))?;
    Ok(Some((encoder, dir)))
}

/// Picks the image encoder: `--image-encoder` (`none` turns image vectors off), else the one
/// the knowledge base records, else none.
fn resolve_image_encoder(recorded: Option<String>, requested: Option<&str>) -> Result<Option<(Arc<dyn ImageEncoder>, String)>> {
    let location = match requested {
        Some("none") => return Ok(None),
        Some(location) => location.to_string(),
        None => match recorded {
            Some(location) => location,
            None => return Ok(None),
        },
    };
    load_image_encoder(&location).map(Some)
}

fn has_pdf_extension(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("pdf"))
}

fn skipped_paths(candidates: &[Candidate]) -> Vec<&Path> {
    candidates
        .iter()
        .filter_map(|candidate| match candidate {
            Candidate::Skipped(path) => Some(path.as_path()),
            _ => None,
        })
        .collect()
}

/// Says how many files of unsupported types the folder walk skipped, by extension, e.g.
/// `note: skipped 3 files of unsupported types (.docx 2, .xlsx 1)`.
fn skipped_note(skipped: &[&Path], strings: &Strings) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut by_extension: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for path in skipped {
        let extension = path
            .extension()
            .map(|extension| format!(".{}", extension.to_string_lossy().to_lowercase()))
            .unwrap_or_else(|| strings.no_extension.into());
        *by_extension.entry(extension).or_default() += 1;
    }
    let kinds: Vec<String> = by_extension.iter().map(|(extension, count)| format!("{extension} {count}")).collect();
    Some(strings.skipped_unsupported.replace("{count}", &skipped.len().to_string()).replace("{kinds}", &kinds.join(", ")))
}

/// Lists what a file contributed, e.g. `3 pages, 12 chunks, 2 images, 1 page without text`,
/// leaving out zero pages, images and pages without text.
fn describe_counts(counts: &Counts, strings: &Strings) -> String {
    let mut parts = Vec::new();
    if counts.pages > 0 {
        parts.push(strings.pages.format(u64::from(counts.pages)));
    }
    parts.push(strings.chunks.format(u64::from(counts.chunks)));
    if counts.images > 0 {
        parts.push(strings.images.format(u64::from(counts.images)));
    }
    if counts.scanned_pages > 0 {
        parts.push(strings.scanned_pages.format(u64::from(counts.scanned_pages)));
    }
    parts.join(", ")
}

fn outcome_line(report: &FileReport, strings: &Strings) -> String {
    match &report.outcome {
        Outcome::Ingested(counts) => format!("{}: {} ({})", report.path, strings.ingested, describe_counts(counts, strings)),
        Outcome::Renamed { from, counts } => {
            format!("{}: {} {from} ({})", report.path, strings.renamed_from, describe_counts(counts, strings))
        }
        Outcome::IngestedWithoutText(counts) if counts.pages == 0 => format!("{}: {}", report.path, strings.ingested_empty),
        Outcome::IngestedWithoutText(counts) => {
            format!("{}: {} ({})", report.path, strings.ingested_no_text, describe_counts(counts, strings))
        }
        Outcome::Unchanged => format!("{}: {}", report.path, strings.unchanged),
        Outcome::Failed(reason) => format!("{}: {}: {reason}", report.path, strings.failed),
        Outcome::Removed => format!("{}: {}", report.path, strings.removed_missing),
    }
}
