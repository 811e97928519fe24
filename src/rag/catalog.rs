//! The catalog: one SQLite row per ingested file, used to skip unchanged files and to
//! remember why a file failed, plus the dense vectors of every chunk, the image vectors of
//! every stored image and the knowledge base's settings.

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

/// State of a file in the knowledge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentStatus {
    /// Indexed and searchable.
    Ready,
    /// Indexed, but no page had extractable text (a scanned PDF, for example).
    NoText,
    /// Could not be read; `error` gives the reason. Nothing of it is in the index unless an
    /// earlier version was ingested successfully, which then stays.
    Failed,
}

impl DocumentStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::NoText => "no_text",
            Self::Failed => "failed",
        }
    }

    fn parse(value: &str) -> Self {
        match value {
            "ready" => Self::Ready,
            "no_text" => Self::NoText,
            _ => Self::Failed,
        }
    }
}

/// A catalog row. `id` is the canonical absolute path and identifies the file; `path` is
/// the path as the user gave it, shown in results.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    pub id: String,
    pub path: String,
    pub sha256: String,
    pub size: u64,
    pub kind: String,
    pub status: DocumentStatus,
    pub error: Option<String>,
    pub pages: u32,
    pub chunks: u32,
    /// [`INGEST_VERSION`](super::ingest::INGEST_VERSION) that made the document's passages;
    /// 0 for documents ingested before versions were recorded.
    pub ingest_version: u32,
}

const VECTOR_GENERATION_KEY: &str = "vector_generation";

/// Source of the vectors a vector index is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorSource {
    /// One text vector per chunk.
    Chunks,
    /// One image vector per stored image, for every image chunk that shows it.
    Images,
}

/// An image of a document, as the catalog keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    /// The image's chunk in the document.
    pub ordinal: u32,
    /// sha256 of the stored PNG, which is `images/ID.png` in the knowledge base.
    pub image_id: String,
    pub page: Option<u32>,
    pub width: u32,
    pub height: u32,
    pub scanned_page: bool,
}

pub struct Catalog {
    connection: Connection,
}

impl Catalog {
    pub fn open(path: &Path) -> Result<Self> {
        let connection = Connection::open(path)
            .with_context(|| format!("could not open the catalog `{}`", path.display()))?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE IF NOT EXISTS documents (
                     id TEXT PRIMARY KEY,
                     path TEXT NOT NULL,
                     sha256 TEXT NOT NULL,
                     size INTEGER NOT NULL,
                     kind TEXT NOT NULL,
                     status TEXT NOT NULL,
                     error TEXT,
                     pages INTEGER NOT NULL,
                     chunks INTEGER NOT NULL,
                     updated_at INTEGER NOT NULL,
                     ingest_version INTEGER NOT NULL DEFAULT 0
                 );
                 CREATE TABLE IF NOT EXISTS chunk_vectors (
                     doc_id TEXT NOT NULL,
                     ordinal INTEGER NOT NULL,
                     vector BLOB NOT NULL,
                     PRIMARY KEY (doc_id, ordinal)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS images (
                     doc_id TEXT NOT NULL,
                     ordinal INTEGER NOT NULL,
                     image_id TEXT NOT NULL,
                     page INTEGER,
                     width INTEGER NOT NULL,
                     height INTEGER NOT NULL,
                     scanned_page INTEGER NOT NULL,
                     PRIMARY KEY (doc_id, ordinal)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS image_vectors (
                     image_id TEXT PRIMARY KEY,
                     vector BLOB NOT NULL
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS settings (
                     key TEXT PRIMARY KEY,
                     value TEXT NOT NULL
                 );",
            )
            .with_context(|| format!("could not set up the catalog `{}`", path.display()))?;
        add_ingest_version_column(&connection)
            .with_context(|| format!("could not upgrade the catalog `{}`", path.display()))?;
        Ok(Self { connection })
    }

    pub fn get(&self, id: &str) -> Result<Option<DocumentRecord>> {
        self.connection
            .query_row(
                "SELECT id, path, sha256, size, kind, status, error, pages, chunks, ingest_version FROM documents WHERE id = ?1",
                params![id],
                read_record,
            )
            .optional()
            .context("could not read the catalog")
    }

    /// Lists the documents whose file had this content.
    pub fn find_by_sha256(&self, sha256: &str) -> Result<Vec<DocumentRecord>> {
        let mut statement = self.connection.prepare(
            "SELECT id, path, sha256, size, kind, status, error, pages, chunks, ingest_version FROM documents WHERE sha256 = ?1",
        )?;
        let rows = statement.query_map(params![sha256], read_record)?;
        rows.collect::<Result<Vec<_>, _>>().context("could not read the catalog")
    }

    /// Writes a document's row and its images and, when `vectors` is given, replaces its
    /// chunk vectors (one per chunk, in chunk order), all in one transaction. `image_vectors`
    /// adds vectors by image id. `replaces` names a document to remove in the same
    /// transaction: the old path of a renamed file.
    pub fn commit_document(
        &mut self,
        record: &DocumentRecord,
        vectors: Option<&[Vec<f32>]>,
        images: &[ImageRecord],
        image_vectors: &[(String, Vec<f32>)],
        replaces: Option<&str>,
    ) -> Result<()> {
        let transaction = self.connection.transaction().context("could not write the catalog")?;
        // The document's chunks change, and with them what both vector indexes contain.
        bump_vector_generation(&transaction)?;
        if let Some(old_id) = replaces {
            transaction.execute("DELETE FROM chunk_vectors WHERE doc_id = ?1", params![old_id])?;
            transaction.execute("DELETE FROM images WHERE doc_id = ?1", params![old_id])?;
            transaction.execute("DELETE FROM documents WHERE id = ?1", params![old_id])?;
        }
        transaction.execute("DELETE FROM images WHERE doc_id = ?1", params![record.id])?;
        {
            let mut insert = transaction.prepare(
                "INSERT INTO images (doc_id, ordinal, image_id, page, width, height, scanned_page)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for image in images {
                insert.execute(params![
                    record.id,
                    image.ordinal,
                    image.image_id,
                    image.page,
                    image.width,
                    image.height,
                    image.scanned_page
                ])?;
            }
        }
        if let Some(vectors) = vectors {
            transaction.execute("DELETE FROM chunk_vectors WHERE doc_id = ?1", params![record.id])?;
            let mut insert =
                transaction.prepare("INSERT INTO chunk_vectors (doc_id, ordinal, vector) VALUES (?1, ?2, ?3)")?;
            for (ordinal, vector) in vectors.iter().enumerate() {
                insert.execute(params![record.id, ordinal as i64, vector_to_bytes(vector)])?;
            }
        }
        {
            let mut insert =
                transaction.prepare("INSERT OR REPLACE INTO image_vectors (image_id, vector) VALUES (?1, ?2)")?;
            for (image_id, vector) in image_vectors {
                insert.execute(params![image_id, vector_to_bytes(vector)])?;
            }
        }
        upsert_record(&transaction, record)?;
        transaction.commit().context("could not write the catalog")
    }

    pub fn upsert(&self, record: &DocumentRecord) -> Result<()> {
        upsert_record(&self.connection, record)
    }

    /// Returns a knowledge base setting, such as the text encoder its vectors came from.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.connection
            .query_row("SELECT value FROM settings WHERE key = ?1", params![key], |row| row.get(0))
            .optional()
            .context("could not read the catalog")
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.connection
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .context("could not write the catalog")?;
        Ok(())
    }

    /// Returns a number that changes whenever documents, and with them chunk or image
    /// vectors, are added or removed, so that readers know when to rebuild their vector index.
    pub fn vector_generation(&self) -> Result<i64> {
        Ok(self
            .setting(VECTOR_GENERATION_KEY)?
            .and_then(|value| value.parse().ok())
            .unwrap_or(0))
    }

    /// Loads the vectors of `source` as (document id, chunk ordinal, vector).
    pub fn load_vectors(&self, source: VectorSource) -> Result<Vec<(String, u32, Vec<f32>)>> {
        let sql = match source {
            VectorSource::Chunks => "SELECT doc_id, ordinal, vector FROM chunk_vectors",
            VectorSource::Images => {
                "SELECT images.doc_id, images.ordinal, image_vectors.vector
                 FROM images JOIN image_vectors ON image_vectors.image_id = images.image_id"
            }
        };
        let mut statement = self.connection.prepare(sql)?;
        let rows = statement.query_map([], |row| {
            let bytes: Vec<u8> = row.get(2)?;
            Ok((row.get(0)?, row.get(1)?, vector_from_bytes(&bytes)))
        })?;
        rows.collect::<Result<Vec<_>, _>>().context("could not read the catalog")
    }

    /// Returns the ids of every image some document still uses.
    pub fn referenced_images(&self) -> Result<std::collections::HashSet<String>> {
        let mut statement = self.connection.prepare("SELECT DISTINCT image_id FROM images")?;
        let rows = statement.query_map([], |row| row.get(0))?;
        rows.collect::<Result<_, _>>().context("could not read the catalog")
    }

    /// Counts the images, and among them the renderings of pages without a text layer.
    pub fn image_counts(&self) -> Result<(u64, u64)> {
        self.connection
            .query_row("SELECT COUNT(*), COALESCE(SUM(scanned_page), 0) FROM images", [], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64))
            })
            .context("could not read the catalog")
    }

    pub fn document_vector_count(&self, id: &str) -> Result<u64> {
        let count: i64 = self
            .connection
            .query_row("SELECT COUNT(*) FROM chunk_vectors WHERE doc_id = ?1", params![id], |row| row.get(0))
            .context("could not read the catalog")?;
        Ok(count as u64)
    }

    pub fn vector_count(&self) -> Result<u64> {
        let count: i64 = self
            .connection
            .query_row("SELECT COUNT(*) FROM chunk_vectors", [], |row| row.get(0))
            .context("could not read the catalog")?;
        Ok(count as u64)
    }
    /// Counts the image chunks that have an image vector, in one document or in all.
    pub fn image_vector_count(&self, id: Option<&str>) -> Result<u64> {
        let count: i64 = self
            .connection
            .query_row(
                "SELECT COUNT(*) FROM images JOIN image_vectors ON image_vectors.image_id = images.image_id
                 WHERE ?1 IS NULL OR images.doc_id = ?1",
                params![id],
                |row| row.get(0),
            )
            .context("could not read the catalog")?;
        Ok(count as u64)
    }

    /// Returns the ids of a document's images.
    pub fn document_image_ids(&self, id: &str) -> Result<Vec<String>> {
        let mut statement = self.connection.prepare("SELECT image_id FROM images WHERE doc_id = ?1")?;
        let rows = statement.query_map(params![id], |row| row.get(0))?;
        rows.collect::<Result<_, _>>().context("could not read the catalog")
    }

    /// Deletes the vectors of images no document uses any more.
    pub fn delete_unused_image_vectors(&self) -> Result<()> {
        self.connection
            .execute("DELETE FROM image_vectors WHERE image_id NOT IN (SELECT image_id FROM images)", [])
            .context("could not write the catalog")?;
        Ok(())
    }

    /// Removes a document's row, its chunk vectors and its images.
    pub fn delete(&mut self, id: &str) -> Result<()> {
        let transaction = self.connection.transaction().context("could not write the catalog")?;
        bump_vector_generation(&transaction)?;
        transaction.execute("DELETE FROM chunk_vectors WHERE doc_id = ?1", params![id])?;
        transaction.execute("DELETE FROM images WHERE doc_id = ?1", params![id])?;
        transaction.execute("DELETE FROM documents WHERE id = ?1", params![id])?;
        transaction.commit().context("could not write the catalog")
    }

    /// Lists every document, ordered by path.
    pub fn list(&self) -> Result<Vec<DocumentRecord>> {
        let mut statement = self.connection.prepare(
            "SELECT id, path, sha256, size, kind, status, error, pages, chunks, ingest_version FROM documents ORDER BY path",
        )?;
        let rows = statement.query_map([], read_record)?;
        rows.collect::<Result<Vec<_>, _>>().context("could not read the catalog")
    }
}

fn upsert_record(connection: &Connection, record: &DocumentRecord) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or_default();
    connection
        .execute(
            "INSERT INTO documents (id, path, sha256, size, kind, status, error, pages, chunks, updated_at, ingest_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(id) DO UPDATE SET
                 path = excluded.path, sha256 = excluded.sha256, size = excluded.size,
                 kind = excluded.kind, status = excluded.status, error = excluded.error,
                 pages = excluded.pages, chunks = excluded.chunks, updated_at = excluded.updated_at,
                 ingest_version = excluded.ingest_version",
            params![
                record.id,
                record.path,
                record.sha256,
                record.size as i64,
                record.kind,
                record.status.as_str(),
                record.error,
                record.pages,
                record.chunks,
                now,
                record.ingest_version
            ],
        )
        .context("could not write the catalog")?;
    Ok(())
}

/// Adds the `ingest_version` column to a catalog written before it existed. Its documents read
/// as version 0, so the next ingest reads them again.
fn add_ingest_version_column(connection: &Connection) -> rusqlite::Result<()> {
    let present: bool = connection.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('documents') WHERE name = 'ingest_version'",
        [],
        |row| row.get(0),
    )?;
    if !present {
        connection.execute("ALTER TABLE documents ADD COLUMN ingest_version INTEGER NOT NULL DEFAULT 0", [])?;
    }
    Ok(())
}

fn bump_vector_generation(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute(
        "INSERT INTO settings (key, value) VALUES (?1, '1')
         ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
        params![VECTOR_GENERATION_KEY],
    )?;
    Ok(())
}

/// Encodes a vector as little-endian f32 bytes, the catalog's and cache's BLOB format.
pub fn vector_to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|value| value.to_le_bytes()).collect()
}

pub fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|value| f32::from_le_bytes([value[0], value[1], value[2], value[3]]))
        .collect()
}

fn read_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<DocumentRecord> {
    Ok(DocumentRecord {
        id: row.get(0)?,
        path: row.get(1)?,
        sha256: row.get(2)?,
        size: row.get::<_, i64>(3)? as u64,
        kind: row.get(4)?,
        status: DocumentStatus::parse(&row.get::<_, String>(5)?),
        error: row.get(6)?,
        pages: row.get(7)?,
        chunks: row.get(8)?,
        ingest_version: row.get(9)?,
    })
}
