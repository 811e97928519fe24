//! Locations of docent's state and caches, and the settings every command shares.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// File name of the embedded default chat model inside `$DOCENT_CACHE/models`.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Folder of the default text encoder inside `$DOCENT_CACHE/models`.
pub const DEFAULT_TEXT_ENCODER_DIR: &str = "all-MiniLM-L6-v2";

/// Name of the knowledge base used when `--kb` is not given.
pub const DEFAULT_KB: &str = "default";

/// Locations of docent's state (`$DOCENT_HOME`) and of its downloaded files (`$DOCENT_CACHE`).
#[derive(Debug, Clone)]
pub struct Paths {
    pub home: PathBuf,
    pub cache: PathBuf,
}

impl Paths {
    /// Reads `$DOCENT_HOME` and `$DOCENT_CACHE`, falling back to the XDG base directories.
    pub fn from_env() -> Result<Self> {
        let home = match non_empty_env("DOCENT_HOME") {
            Some(dir) => PathBuf::from(dir),
            None => xdg_dir("XDG_DATA_HOME", ".local/share")?.join("docent"),
        };
        let cache = match non_empty_env("DOCENT_CACHE") {
            Some(dir) => PathBuf::from(dir),
            None => xdg_dir("XDG_CACHE_HOME", ".cache")?.join("docent"),
        };
        Ok(Self { home, cache })
    }

    pub fn knowledge_bases(&self) -> PathBuf {
        self.home.join("kb")
    }

    pub fn knowledge_base(&self, name: &str) -> PathBuf {
        self.knowledge_bases().join(name)
    }

    /// Returns the path of the chat model used when neither `--model` nor `DOCENT_MODEL` is set.
    pub fn default_model(&self) -> PathBuf {
        self.cache.join("models").join(DEFAULT_MODEL_FILE)
    }

    /// Returns the folder of the text encoder used when `--text-encoder` is not given.
    pub fn default_text_encoder(&self) -> PathBuf {
        self.cache.join("models").join(DEFAULT_TEXT_ENCODER_DIR)
    }

    /// Returns the database that caches encoder outputs by content hash, shared by all
    /// knowledge bases: `DOCENT_VECTOR_CACHE` if set, else `$DOCENT_CACHE/vectors.sqlite3`.
    pub fn vector_cache(&self) -> PathBuf {
        match non_empty_env("DOCENT_VECTOR_CACHE") {
            Some(path) => PathBuf::from(path),
            None => self.cache.join("vectors.sqlite3"),
        }
    }

    /// Returns `DOCENT_PDFIUM` if set, else the copy of libpdfium that `make setup` caches.
    pub fn pdfium_library(&self) -> PathBuf {
        match non_empty_env("DOCENT_PDFIUM") {
            Some(path) => PathBuf::from(path),
            None => self.cache.join("pdfium").join("libpdfium.so"),
        }
    }
}

/// Checks that a knowledge base name is usable as a single folder name.
pub fn validate_kb_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        bail!(
            "invalid knowledge base name `{name}`: use 1-64 letters, digits, `-`, `_` or `.`, \
             not starting with `.`"
        );
    }
    Ok(())
}

fn non_empty_env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|value| !value.is_empty())
}

fn xdg_dir(key: &str, fallback_under_home: &str) -> Result<PathBuf> {
    if let Some(dir) = non_empty_env(key) {
        return Ok(PathBuf::from(dir));
    }
    let home = non_empty_env("HOME")
        .context("neither $DOCENT_HOME nor $HOME is set: set DOCENT_HOME to a writable folder")?;
    Ok(Path::new(&home).join(fallback_under_home))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_name_rules() {
        for good in ["default", "hr-2024", "team_docs", "v1.2"] {
            assert!(validate_kb_name(good).is_ok(), "{good} should be valid");
        }
        for bad in ["", ".hidden", "a/b", "..", "名字", &"x".repeat(65)] {
            assert!(validate_kb_name(bad).is_err(), "{bad} should be invalid");
        }
    }
}
