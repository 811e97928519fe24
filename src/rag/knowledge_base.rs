//! A knowledge base on disk: `$DOCENT_HOME/kb/NAME/` with the catalog and the full-text index.

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::catalog::Catalog;
use super::index::{SearchHit, TextIndex};
use crate::config::{validate_kb_name, Paths};

pub struct KnowledgeBase {
    pub name: String,
    pub dir: PathBuf,
    index: TextIndex,
}

impl KnowledgeBase {
    /// Opens a knowledge base, creating it if it does not exist yet (for ingest).
    pub fn open_or_create(paths: &Paths, name: &str) -> Result<Self> {
        validate_kb_name(name)?;
        let dir = paths.knowledge_base(name);
        let index = TextIndex::open_or_create(&dir.join("index"))?;
        // Creating the catalog here means that a knowledge base always has both parts.
        Catalog::open(&dir.join("catalog.sqlite3"))?;
        Ok(Self { name: name.to_string(), dir, index })
    }

    /// Opens an existing knowledge base; fails with a hint to ingest if there is none.
    pub fn open(paths: &Paths, name: &str) -> Result<Self> {
        validate_kb_name(name)?;
        let dir = paths.knowledge_base(name);
        if !dir.join("catalog.sqlite3").is_file() {
            bail!(
                "knowledge base `{name}` not found in `{}`: create it with `docent ingest --kb {name} PATH...`",
                paths.knowledge_bases().display()
            );
        }
        Self::open_or_create(paths, name)
    }

    pub fn catalog(&self) -> Result<Catalog> {
        Catalog::open(&self.dir.join("catalog.sqlite3"))
    }

    pub fn index(&self) -> &TextIndex {
        &self.index
    }

    pub fn search(&self, query: &str, top_k: usize) -> Result<Vec<SearchHit>> {
        self.index.search(query, top_k)
    }
}

/// Lists the names of the knowledge bases under `$DOCENT_HOME`, sorted.
pub fn list_knowledge_bases(paths: &Paths) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(paths.knowledge_bases()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("catalog.sqlite3").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}
