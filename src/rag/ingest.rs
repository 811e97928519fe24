//! Ingest: find files, skip unchanged ones, extract, chunk and index the rest.
//!
//! Each file is committed to the index on its own, and its catalog row is written only
//! after that commit. A crash in between leaves a row with an old hash (or none), so the
//! next run indexes the file again, deleting its chunks first: never duplicates.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use tantivy::IndexWriter;
use walkdir::WalkDir;

use super::catalog::{Catalog, DocumentRecord, DocumentStatus};
use super::chunk::{chunk_document, ChunkingOptions};
use super::extract::{extract, DocumentKind};
use super::knowledge_base::KnowledgeBase;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub chunking: ChunkingOptions,
    pub pdfium_library: PathBuf,
}

/// Result of ingesting one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ingested { pages: u32, chunks: u32 },
    /// Ingested, but no page had extractable text.
    IngestedWithoutText { pages: u32 },
    Unchanged,
    Failed(String),
    /// Removed from the knowledge base because its file no longer exists.
    Removed,
}

#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: String,
    pub outcome: Outcome,
}

/// A file to ingest, or a path that could not be used, reported as a failure.
pub enum Candidate {
    File(PathBuf),
    Invalid(FileReport),
}

/// Expands the given paths into files: folders are walked recursively for supported files,
/// skipping hidden entries; an explicit file of an unsupported type is reported.
pub fn collect_candidates(paths: &[PathBuf]) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for path in paths {
        let display_path = path.display().to_string();
        if path.is_dir() {
            let walker = WalkDir::new(path)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|entry| entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.'));
            for entry in walker {
                match entry {
                    Ok(entry) if entry.file_type().is_file() && DocumentKind::from_path(entry.path()).is_some() => {
                        candidates.push(Candidate::File(entry.into_path()));
                    }
                    Ok(_) => {}
                    Err(error) => candidates.push(Candidate::Invalid(FileReport {
                        path: error.path().map(|p| p.display().to_string()).unwrap_or_else(|| display_path.clone()),
                        outcome: Outcome::Failed(format!("could not read: {error}")),
                    })),
                }
            }
        } else if path.is_file() {
            if DocumentKind::from_path(path).is_some() {
                candidates.push(Candidate::File(path.clone()));
            } else {
                candidates.push(Candidate::Invalid(FileReport {
                    path: display_path,
                    outcome: Outcome::Failed("unsupported file type: docent reads .pdf, .md, .markdown and .txt".into()),
                }));
            }
        } else {
            candidates.push(Candidate::Invalid(FileReport {
                path: display_path,
                outcome: Outcome::Failed("no such file or folder".into()),
            }));
        }
    }
    candidates
}

/// Ingests files into one knowledge base, holding its index writer lock while it lives.
pub struct Ingestor<'a> {
    knowledge_base: &'a KnowledgeBase,
    catalog: Catalog,
    writer: IndexWriter,
    options: IngestOptions,
}

impl<'a> Ingestor<'a> {
    pub fn new(knowledge_base: &'a KnowledgeBase, options: IngestOptions) -> Result<Self> {
        let writer = knowledge_base.index().writer()?;
        let catalog = knowledge_base.catalog()?;
        Ok(Self { knowledge_base, catalog, writer, options })
    }

    /// Ingests one file. Errors about the file become a `Failed` outcome. Errors of the
    /// knowledge base itself (disk full, broken index) are returned, because they would fail
    /// every following file too.
    pub fn ingest_file(&mut self, path: &Path) -> Result<FileReport> {
        let display_path = path.display().to_string();
        let report = |outcome| Ok(FileReport { path: display_path.clone(), outcome });

        let kind = match DocumentKind::from_path(path) {
            Some(kind) => kind,
            None => return report(Outcome::Failed("unsupported file type".into())),
        };
        let id = match std::fs::canonicalize(path) {
            Ok(canonical) => canonical.display().to_string(),
            Err(error) => return report(Outcome::Failed(format!("could not read: {error}"))),
        };
        let (sha256, size) = match hash_file(path) {
            Ok(hashed) => hashed,
            Err(error) => return report(Outcome::Failed(format!("could not read: {error}"))),
        };

        let previous = self.catalog.get(&id)?;
        if let Some(previous) = &previous {
            if previous.sha256 == sha256 && previous.status != DocumentStatus::Failed {
                return report(Outcome::Unchanged);
            }
        }

        let pages = match extract(path, kind, &self.options.pdfium_library) {
            Ok(pages) => pages,
            Err(error) => {
                let reason = error.to_string();
                // Keep a working earlier version rather than replacing it with nothing.
                let keeps_previous = previous.as_ref().is_some_and(|previous| previous.status != DocumentStatus::Failed);
                if !keeps_previous {
                    self.catalog.upsert(&DocumentRecord {
                        id,
                        path: display_path.clone(),
                        sha256,
                        size,
                        kind: kind.as_str().into(),
                        status: DocumentStatus::Failed,
                        error: Some(reason.clone()),
                        pages: 0,
                        chunks: 0,
                    })?;
                }
                return report(Outcome::Failed(reason));
            }
        };

        let chunks = chunk_document(kind, &pages, self.options.chunking);
        let index = self.knowledge_base.index();
        index.delete_document(&self.writer, &id);
        index.add_chunks(&self.writer, &id, &display_path, &chunks)?;
        self.writer.commit().context("could not commit the index")?;

        let page_count = pages.iter().filter(|page| page.number.is_some()).count() as u32;
        let status = if chunks.is_empty() { DocumentStatus::NoText } else { DocumentStatus::Ready };
        self.catalog.upsert(&DocumentRecord {
            id,
            path: display_path.clone(),
            sha256,
            size,
            kind: kind.as_str().into(),
            status,
            error: None,
            pages: page_count,
            chunks: chunks.len() as u32,
        })?;

        tracing::debug!(path = %display_path, pages = page_count, chunks = chunks.len(), "ingested");
        match status {
            DocumentStatus::NoText => report(Outcome::IngestedWithoutText { pages: page_count }),
            _ => report(Outcome::Ingested { pages: page_count, chunks: chunks.len() as u32 }),
        }
    }

    /// Removes every document whose file no longer exists, from the index and the catalog.
    pub fn prune_missing(&mut self) -> Result<Vec<FileReport>> {
        let index = self.knowledge_base.index();
        let mut removed = Vec::new();
        for record in self.catalog.list()? {
            if Path::new(&record.id).exists() {
                continue;
            }
            index.delete_document(&self.writer, &record.id);
            removed.push(record);
        }
        if removed.is_empty() {
            return Ok(Vec::new());
        }
        // Commit the index first: a crash before the catalog update leaves rows whose next
        // prune deletes nothing, which is harmless.
        self.writer.commit().context("could not commit the index")?;
        let mut reports = Vec::with_capacity(removed.len());
        for record in removed {
            self.catalog.delete(&record.id)?;
            reports.push(FileReport { path: record.path, outcome: Outcome::Removed });
        }
        Ok(reports)
    }

    /// Waits for pending merges so that the process can exit with a compact index.
    pub fn finish(self) -> Result<()> {
        self.writer.wait_merging_threads().context("could not finish index merges")?;
        self.knowledge_base.index().refresh()
    }
}

fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((format!("{:x}", hasher.finalize()), size))
}
