//! Encoder outputs cached by model and content hash (of a text, or of an image's PNG),
//! shared by every knowledge base, so that a renamed, copied or re-added file costs no
//! encoder time.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::catalog::{vector_from_bytes, vector_to_bytes};
use super::clip::ImageEncoder;
use super::embed::TextEncoder;

pub struct VectorCache {
    connection: Connection,
}

impl VectorCache {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("could not create the cache folder `{}`", parent.display()))?;
        }
        let connection = Connection::open(path)
            .with_context(|| format!("could not open the vector cache `{}`", path.display()))?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE IF NOT EXISTS text_vectors (
                     model TEXT NOT NULL,
                     text_sha256 BLOB NOT NULL,
                     vector BLOB NOT NULL,
                     PRIMARY KEY (model, text_sha256)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS image_vectors (
                     model TEXT NOT NULL,
                     image_sha256 TEXT NOT NULL,
                     vector BLOB NOT NULL,
                     PRIMARY KEY (model, image_sha256)
                 ) WITHOUT ROWID;",
            )
            .with_context(|| format!("could not set up the vector cache `{}`", path.display()))?;
        Ok(Self { connection })
    }

    /// Encodes `texts`, taking the vectors of texts seen before from the cache and storing
    /// the new ones. `on_encoded` receives the number of texts finished after each step.
    pub fn encode(
        &mut self,
        encoder: &dyn TextEncoder,
        texts: &[String],
        mut on_encoded: impl FnMut(usize),
    ) -> Result<Vec<Vec<f32>>> {
        // Vectors depend on how much of each text the encoder read.
        let model = format!("{}@{}", encoder.model_id(), encoder.max_tokens());
        let hashes: Vec<[u8; 32]> = texts.iter().map(|text| Sha256::digest(text.as_bytes()).into()).collect();

        let mut vectors: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
        {
            let mut lookup = self
                .connection
                .prepare_cached("SELECT vector FROM text_vectors WHERE model = ?1 AND text_sha256 = ?2")?;
            for hash in &hashes {
                let found: Option<Vec<u8>> =
                    lookup.query_row(params![model, hash.as_slice()], |row| row.get(0)).optional()?;
                vectors.push(found.map(|bytes| vector_from_bytes(&bytes)).filter(|v| v.len() == encoder.dimension()));
            }
        }
        let cached = vectors.iter().filter(|vector| vector.is_some()).count();
        on_encoded(cached);

        let missing: Vec<usize> = (0..texts.len()).filter(|&i| vectors[i].is_none()).collect();
        // Encode in steps so that progress moves and each step's vectors are kept even if a
        // later step fails or the process is stopped.
        for step in missing.chunks(ENCODE_STEP) {
            let batch: Vec<&str> = step.iter().map(|&i| texts[i].as_str()).collect();
            let encoded = encoder.encode(&batch)?;
            let transaction = self.connection.transaction().context("could not write the vector cache")?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT OR REPLACE INTO text_vectors (model, text_sha256, vector) VALUES (?1, ?2, ?3)",
                )?;
                for (&i, vector) in step.iter().zip(&encoded) {
                    insert.execute(params![model, hashes[i].as_slice(), vector_to_bytes(vector)])?;
                }
            }
            transaction.commit().context("could not write the vector cache")?;
            for (&i, vector) in step.iter().zip(encoded) {
                vectors[i] = Some(vector);
            }
            on_encoded(step.len());
        }
        Ok(vectors.into_iter().map(|vector| vector.unwrap_or_default()).collect())
    }

    /// Encodes images keyed by the sha256 of their stored PNG (the knowledge base's image
    /// id), taking the vectors of images seen before from the cache. `on_encoded` receives
    /// the number of images finished after each step.
    pub fn encode_images(
        &mut self,
        encoder: &dyn ImageEncoder,
        images: &[(&str, &image::RgbImage)],
        mut on_encoded: impl FnMut(usize),
    ) -> Result<Vec<Vec<f32>>> {
        let model = encoder.model_id();
        let mut vectors: Vec<Option<Vec<f32>>> = Vec::with_capacity(images.len());
        {
            let mut lookup = self
                .connection
                .prepare_cached("SELECT vector FROM image_vectors WHERE model = ?1 AND image_sha256 = ?2")?;
            for (image_sha256, _) in images {
                let found: Option<Vec<u8>> =
                    lookup.query_row(params![model, image_sha256], |row| row.get(0)).optional()?;
                vectors.push(found.map(|bytes| vector_from_bytes(&bytes)).filter(|v| v.len() == encoder.dimension()));
            }
        }
        on_encoded(vectors.iter().filter(|vector| vector.is_some()).count());

        let missing: Vec<usize> = (0..images.len()).filter(|&i| vectors[i].is_none()).collect();
        for step in missing.chunks(IMAGE_ENCODE_STEP) {
            let batch: Vec<&image::RgbImage> = step.iter().map(|&i| images[i].1).collect();
            let encoded = encoder.encode_images(&batch)?;
            let transaction = self.connection.transaction().context("could not write the vector cache")?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT OR REPLACE INTO image_vectors (model, image_sha256, vector) VALUES (?1, ?2, ?3)",
                )?;
                for (&i, vector) in step.iter().zip(&encoded) {
                    insert.execute(params![model, images[i].0, vector_to_bytes(vector)])?;
                }
            }
            transaction.commit().context("could not write the vector cache")?;
            for (&i, vector) in step.iter().zip(encoded) {
                vectors[i] = Some(vector);
            }
            on_encoded(step.len());
        }
        Ok(vectors.into_iter().map(|vector| vector.unwrap_or_default()).collect())
    }
}

/// Texts encoded between cache writes and progress updates.
const ENCODE_STEP: usize = 64;

/// Images encoded between cache writes and progress updates: two of the encoder's batches,
/// which it runs side by side.
const IMAGE_ENCODE_STEP: usize = 16;
