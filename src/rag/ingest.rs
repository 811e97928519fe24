//! Ingest: find files, skip unchanged ones, extract, chunk and index the rest.
//!
//! Each file is committed to the index on its own, and its catalog row and chunk vectors
//! are written in one transaction only after that commit. A crash in between leaves a row
//! with an old hash (or none), so the next run indexes the file again, deleting its chunks
//! first: never duplicates.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use tantivy::IndexWriter;
use walkdir::WalkDir;

use super::catalog::{Catalog, DocumentRecord, DocumentStatus, ImageRecord};
use super::chunk::{chunk_document, Chunk, ChunkingOptions};
use super::clip::ImageEncoder;
use super::embed::TextEncoder;
use super::extract::{extract, DocumentKind, ExtractedImage};
use super::knowledge_base::{
    KnowledgeBase, IMAGE_ENCODER_PATH_SETTING, IMAGE_ENCODER_SETTING, TEXT_ENCODER_PATH_SETTING, TEXT_ENCODER_SETTING,
};
use super::vector_cache::VectorCache;

#[derive(Clone)]
pub struct IngestOptions {
    pub chunking: ChunkingOptions,
    pub pdfium_library: PathBuf,
    /// Encoder for chunk vectors and the folder it came from; `None` indexes full text only.
    pub text_encoder: Option<(Arc<dyn TextEncoder>, PathBuf)>,
    /// Encoder for image vectors and its location, a folder or a Hugging Face model id. With
    /// `None`, images are found by their text alone.
    pub image_encoder: Option<(Arc<dyn ImageEncoder>, String)>,
    /// Cache of encoder outputs by content hash.
    pub vector_cache: PathBuf,
}

/// Version of what ingest makes of a file: the text read from it, its passages and the terms
/// they are indexed by. A change that alters these for files already ingested raises it, and
/// the next ingest then reads such files again instead of keeping them as unchanged.
/// Version 1 leaves out running headers and footers, reads the text of positioned segments
/// (tables, columns, captions) character by character, and indexes images by picture words.
/// Version 2 splits PDF pages at the sections of the PDF's outline, gives each passage its
/// section's heading path and indexes a lone Greek letter by its name.
/// Version 3 drops the spaces pdfium puts between the characters of justified Chinese lines,
/// and indexes Chinese text without the spaces and line breaks between its characters.
/// Version 4 splits long paragraphs after a sentence rather than inside one where it can.
/// Version 5 leaves out an overlap that would repeat only part of a whole sentence.
/// Version 6 leaves the file name out of the text of a PDF image that has no caption.
pub const INGEST_VERSION: u32 = 6;

/// Counts of an ingested file's contents. `scanned_pages` are pages without a text layer,
/// kept as images (a warning: their text is not searchable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub pages: u32,
    pub chunks: u32,
    pub images: u32,
    pub scanned_pages: u32,
}

/// Progress of the file being ingested, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Text extracted and chunked: this many pages and chunks.
    Extracted { pages: u32, chunks: u32 },
    /// This many more chunks have their vectors.
    Encoded(usize),
    /// This many more of the file's images have their image vectors.
    EncodedImages(usize),
}

/// Result of ingesting one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ingested(Counts),
    /// Ingested under a new path; the document at the old path, whose file is gone and had
    /// the same content, was removed.
    Renamed { from: String, counts: Counts },
    /// Ingested, but no page had extractable text; pages with content are kept as images.
    IngestedWithoutText(Counts),
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

/// A file to ingest, a path that could not be used (reported as a failure), or a file of an
/// unsupported type found while walking a folder (counted, not a failure).
pub enum Candidate {
    File(PathBuf),
    Invalid(FileReport),
    Skipped(PathBuf),
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
                    Ok(entry) if entry.file_type().is_file() => candidates.push(Candidate::Skipped(entry.into_path())),
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
                    outcome: Outcome::Failed("unsupported file type: docent reads .pdf, .md, .markdown, .txt, .text, .png, .jpg, .jpeg and .webp".into()),
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
    vector_cache: Option<VectorCache>,
    options: IngestOptions,
}

impl<'a> Ingestor<'a> {
    /// Takes the knowledge base's writer lock. With a text or image encoder, checks that the
    /// knowledge base's vectors come from the same encoder, or records it if there are none.
    pub fn new(knowledge_base: &'a KnowledgeBase, options: IngestOptions) -> Result<Self> {
        let writer = knowledge_base.index().writer()?;
        let catalog = knowledge_base.catalog()?;
        check_text_encoder(knowledge_base, &catalog, &options)?;
        check_image_encoder(knowledge_base, &catalog, &options)?;
        let vector_cache = if options.text_encoder.is_some() || options.image_encoder.is_some() {
            Some(VectorCache::open(&options.vector_cache)?)
        } else {
            None
        };
        Ok(Self { knowledge_base, catalog, writer, vector_cache, options })
    }


    /// Ingests one file. Errors about the file become a `Failed` outcome. Errors of the
    /// knowledge base itself (disk full, broken index) are returned, because they would fail
    /// every following file too.
    pub fn ingest_file(&mut self, path: &Path, mut on_progress: impl FnMut(Progress)) -> Result<FileReport> {
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
            if previous.sha256 == sha256 && previous.status != DocumentStatus::Failed && self.has_vectors(previous)? {
                if previous.ingest_version == INGEST_VERSION {
                    return report(Outcome::Unchanged);
                }
                tracing::info!(path = %display_path, "reading the file again: an older version of docent ingested it");
            }
        }

        let extracted = match extract(path, kind, &self.options.pdfium_library) {
            Ok(extracted) => extracted,
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
                        ingest_version: INGEST_VERSION,
                    })?;
                }
                return report(Outcome::Failed(reason));
            }
        };

        let mut chunks = chunk_document(kind, &extracted.pages, &extracted.outline, self.options.chunking);
        let page_count = extracted.pages.iter().filter(|page| page.number.is_some()).count() as u32;
        let images = self.store_images(&extracted.images, &display_path, &mut chunks)?;
        on_progress(Progress::Extracted { pages: page_count, chunks: chunks.len() as u32 });
        let vectors = self.encode(&chunks, &mut on_progress)?;
        let image_vectors = self.encode_images(&images, &extracted.images, &mut on_progress)?;

        // A new path whose content matches a document whose file is gone is a rename.
        let renamed_from = match &previous {
            Some(_) => None,
            None => self.catalog.find_by_sha256(&sha256)?.into_iter().find(|old| !Path::new(&old.id).exists()),
        };

        let index = self.knowledge_base.index();
        index.delete_document(&self.writer, &id);
        if let Some(old) = &renamed_from {
            index.delete_document(&self.writer, &old.id);
        }
        index.add_chunks(&self.writer, &id, &display_path, &chunks)?;
        self.writer.commit().context("could not commit the index")?;

        let has_text = chunks.iter().any(|chunk| chunk.image.is_none());
        let status = if has_text || kind == DocumentKind::Image { DocumentStatus::Ready } else { DocumentStatus::NoText };
        let record = DocumentRecord {
            id,
            path: display_path.clone(),
            sha256,
            size,
            kind: kind.as_str().into(),
            status,
            error: None,
            pages: page_count,
            chunks: chunks.len() as u32,
            ingest_version: INGEST_VERSION,
        };
        let replaces = renamed_from.as_ref().map(|old| old.id.as_str());
        self.catalog.commit_document(&record, vectors.as_deref(), &images, &image_vectors, replaces)?;

        tracing::debug!(path = %display_path, pages = page_count, chunks = chunks.len(), images = images.len(), "ingested");
        let counts = Counts {
            pages: page_count,
            chunks: chunks.len() as u32,
            images: images.len() as u32,
            scanned_pages: images.iter().filter(|image| image.scanned_page).count() as u32,
        };
        match (status, renamed_from) {
            (DocumentStatus::NoText, _) => report(Outcome::IngestedWithoutText(counts)),
            (_, Some(old)) => report(Outcome::Renamed { from: old.path, counts }),
            _ => report(Outcome::Ingested(counts)),
        }
    }

    /// Saves each image as `images/ID.png` (ID = sha256 of the PNG, so repeated images are
    /// stored once) and appends a chunk for it, whose text is its caption.
    fn store_images(&self, images: &[ExtractedImage], display_path: &str, chunks: &mut Vec<Chunk>) -> Result<Vec<ImageRecord>> {
        let dir = self.knowledge_base.images_dir();
        if !images.is_empty() {
            std::fs::create_dir_all(&dir).with_context(|| format!("could not create `{}`", dir.display()))?;
        }
        let mut records = Vec::with_capacity(images.len());
        for image in images {
            let mut png = Vec::new();
            image
                .image
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .context("could not encode an image as PNG")?;
            let image_id = format!("{:x}", Sha256::digest(&png));
            let path = dir.join(format!("{image_id}.png"));
            if !path.exists() {
                let partial = dir.join(format!("{image_id}.png.partial"));
                std::fs::write(&partial, &png).with_context(|| format!("could not write `{}`", partial.display()))?;
                std::fs::rename(&partial, &path).with_context(|| format!("could not write `{}`", path.display()))?;
            }

            // Without a caption, a PDF image's text names only its page. The words of the
            // file's name and folders (`handbook-install.pdf`, `manuals`) would match questions
            // that have nothing to do with the image, and results show the file anyway. An
            // image file is named by its file name, without folders.
            let text = match (image.caption.trim(), image.page) {
                (caption, _) if !caption.is_empty() => caption.to_string(),
                (_, Some(page)) if image.scanned_page => format!("page {page}: scanned page without text"),
                (_, Some(page)) => format!("page {page}: image"),
                (_, None) => Path::new(display_path)
                    .file_name()
                    .map_or_else(|| display_path.to_string(), |name| name.to_string_lossy().into_owned()),
            };
            records.push(ImageRecord {
                ordinal: chunks.len() as u32,
                image_id: image_id.clone(),
                page: image.page,
                width: image.image.width(),
                height: image.image.height(),
                scanned_page: image.scanned_page,
            });
            chunks.push(Chunk { pages: image.page.into_iter().collect(), heading: String::new(), text, image: Some(image_id), chars: None });
        }
        Ok(records)
    }

    /// Tells whether a document has all its chunk and image vectors, or needs none because
    /// no encoder is configured. A knowledge base that gains an encoder encodes its old
    /// documents on the next ingest this way.
    fn has_vectors(&self, record: &DocumentRecord) -> Result<bool> {
        if self.options.text_encoder.is_some()
            && self.catalog.document_vector_count(&record.id)? != u64::from(record.chunks)
        {
            return Ok(false);
        }
        if self.options.image_encoder.is_some() {
            let images = self.catalog.document_image_ids(&record.id)?.len() as u64;
            if self.catalog.image_vector_count(Some(&record.id))? != images {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn encode(&mut self, chunks: &[Chunk], on_progress: &mut impl FnMut(Progress)) -> Result<Option<Vec<Vec<f32>>>> {
        let (Some((encoder, _)), Some(cache)) = (&self.options.text_encoder, self.vector_cache.as_mut()) else {
            return Ok(None);
        };
        let texts: Vec<String> = chunks.iter().map(passage_text).collect();
        let vectors = cache.encode(encoder.as_ref(), &texts, |done| on_progress(Progress::Encoded(done)))?;
        Ok(Some(vectors))
    }

    /// Computes the image vectors of a document's stored images, once per distinct image.
    /// `records` and `extracted` are in the same order, as [`Self::store_images`] made them.
    fn encode_images(
        &mut self,
        records: &[ImageRecord],
        extracted: &[ExtractedImage],
        on_progress: &mut impl FnMut(Progress),
    ) -> Result<Vec<(String, Vec<f32>)>> {
        let (Some((encoder, _)), Some(cache)) = (&self.options.image_encoder, self.vector_cache.as_mut()) else {
            return Ok(Vec::new());
        };
        let mut distinct: Vec<(&str, &image::RgbImage)> = Vec::new();
        for (record, image) in records.iter().zip(extracted) {
            if !distinct.iter().any(|(id, _)| *id == record.image_id) {
                distinct.push((record.image_id.as_str(), &image.image));
            }
        }
        let vectors = cache.encode_images(encoder.as_ref(), &distinct, |done| on_progress(Progress::EncodedImages(done)))?;
        Ok(distinct.into_iter().map(|(id, _)| id.to_string()).zip(vectors).collect())
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

    /// Waits for pending merges, deletes image files and image vectors no document uses any
    /// more, and saves the vector indexes.
    pub fn finish(self) -> Result<()> {
        let referenced = self.catalog.referenced_images()?;
        if let Ok(entries) = std::fs::read_dir(self.knowledge_base.images_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let id = name.strip_suffix(".png").unwrap_or(&name);
                if !referenced.contains(id) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        self.catalog.delete_unused_image_vectors()?;
        self.writer.wait_merging_threads().context("could not finish index merges")?;
        self.knowledge_base.index().refresh()?;
        self.knowledge_base.prepare_dense_indexes()
    }
}

/// Checks that the configured text encoder is the one the knowledge base's vectors came from,
/// and records it for a knowledge base without vectors.
fn check_text_encoder(knowledge_base: &KnowledgeBase, catalog: &Catalog, options: &IngestOptions) -> Result<()> {
    let recorded = catalog.setting(TEXT_ENCODER_SETTING)?;
    match (&options.text_encoder, recorded) {
        (Some((encoder, dir)), recorded) => {
            if let Some(recorded) = recorded.filter(|recorded| recorded != encoder.model_id()) {
                bail!(
                    "knowledge base `{}` has vectors from text encoder `{recorded}`, not `{}`: \
                     ingest with `--text-encoder` set to that encoder, or remove the knowledge base \
                     with `docent kb remove {}` and ingest again",
                    knowledge_base.name,
                    encoder.model_id(),
                    knowledge_base.name
                );
            }
            catalog.set_setting(TEXT_ENCODER_SETTING, encoder.model_id())?;
            catalog.set_setting(TEXT_ENCODER_PATH_SETTING, &dir.display().to_string())?;
            knowledge_base.set_text_encoder(Arc::clone(encoder));
            Ok(())
        }
        (None, Some(recorded)) => bail!(
            "knowledge base `{}` has vectors from text encoder `{recorded}`, but no text encoder \
             is configured: pass `--text-encoder` with that encoder's folder",
            knowledge_base.name
        ),
        (None, None) => Ok(()),
    }
}

/// Checks the image encoder as [`check_text_encoder`] checks the text encoder.
fn check_image_encoder(knowledge_base: &KnowledgeBase, catalog: &Catalog, options: &IngestOptions) -> Result<()> {
    let recorded = catalog.setting(IMAGE_ENCODER_SETTING)?;
    match (&options.image_encoder, recorded) {
        (Some((encoder, location)), recorded) => {
            if let Some(recorded) = recorded.filter(|recorded| recorded != encoder.model_id()) {
                bail!(
                    "knowledge base `{}` has image vectors from image encoder `{recorded}`, not `{}`: \
                     ingest with `--image-encoder` set to that encoder, or remove the knowledge base \
                     with `docent kb remove {}` and ingest again",
                    knowledge_base.name,
                    encoder.model_id(),
                    knowledge_base.name
                );
            }
            catalog.set_setting(IMAGE_ENCODER_SETTING, encoder.model_id())?;
            catalog.set_setting(IMAGE_ENCODER_PATH_SETTING, location)?;
            knowledge_base.set_image_encoder(Arc::clone(encoder));
            Ok(())
        }
        (None, Some(recorded)) => bail!(
            "knowledge base `{}` has image vectors from image encoder `{recorded}`, but no image \
             encoder is configured: pass `--image-encoder` with that encoder's folder",
            knowledge_base.name
        ),
        (None, None) => Ok(()),
    }
}

/// Builds the text a chunk's vector is computed from: its heading path, then its text.
fn passage_text(chunk: &Chunk) -> String {
    if chunk.heading.is_empty() {
        chunk.text.clone()
    } else {
        format!("{}\n{}", chunk.heading, chunk.text)
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
