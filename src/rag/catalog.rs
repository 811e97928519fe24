//! The catalog: one SQLite row per ingested file, used to skip unchanged files and to
//! remember why a file failed.

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
                     updated_at INTEGER NOT NULL
                 );",
            )
            .with_context(|| format!("could not set up the catalog `{}`", path.display()))?;
        Ok(Self { connection })
    }

    pub fn get(&self, id: &str) -> Result<Option<DocumentRecord>> {
        self.connection
            .query_row(
                "SELECT id, path, sha256, size, kind, status, error, pages, chunks FROM documents WHERE id = ?1",
                params![id],
                read_record,
            )
            .optional()
            .context("could not read the catalog")
    }

    pub fn upsert(&self, record: &DocumentRecord) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or_default();
        self.connection
            .execute(
                "INSERT INTO documents (id, path, sha256, size, kind, status, error, pages, chunks, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(id) DO UPDATE SET
                     path = excluded.path, sha256 = excluded.sha256, size = excluded.size,
                     kind = excluded.kind, status = excluded.status, error = excluded.error,
                     pages = excluded.pages, chunks = excluded.chunks, updated_at = excluded.updated_at",
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
                    now
                ],
            )
            .context("could not write the catalog")?;
        Ok(())
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        self.connection
            .execute("DELETE FROM documents WHERE id = ?1", params![id])
            .context("could not write the catalog")?;
        Ok(())
    }

    /// Lists every document, ordered by path.
    pub fn list(&self) -> Result<Vec<DocumentRecord>> {
        let mut statement = self.connection.prepare(
            "SELECT id, path, sha256, size, kind, status, error, pages, chunks FROM documents ORDER BY path",
        )?;
        let rows = statement.query_map([], read_record)?;
        rows.collect::<Result<Vec<_>, _>>().context("could not read the catalog")
    }
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
    })
}
