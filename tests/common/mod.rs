//! Helpers for integration tests: a private `$DOCENT_HOME`, the `docent` binary, and
//! fixture files.

#![allow(dead_code)]

pub mod pdf;
pub mod random_weights;
pub mod server;
pub mod tiny_clip;
pub mod tiny_llava;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch `$DOCENT_HOME` and a folder for fixture files, removed on drop. Models and
/// libpdfium come from the real cache (`make setup` fills it).
pub struct TestEnv {
    pub root: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("temporary folder can be created");
        std::fs::create_dir_all(root.path().join("docs")).unwrap();
        Self { root }
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// This environment's own cache of encoder outputs, so that tests see every encoding.
    pub fn vector_cache(&self) -> PathBuf {
        self.root.path().join("vectors.sqlite3")
    }

    /// Folder for the documents a test ingests.
    pub fn docs(&self) -> PathBuf {
        self.root.path().join("docs")
    }

    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.docs().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Returns a `docent` command with this environment's home and English messages.
    pub fn docent(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_docent"));
        command
            .env("DOCENT_HOME", self.home())
            .env("DOCENT_VECTOR_CACHE", self.vector_cache())
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("DOCENT_LANG")
            .env_remove("DOCENT_KB")
            .env_remove("DOCENT_MODEL")
            .env_remove("DOCENT_TEXT_ENCODER")
            .env_remove("DOCENT_IMAGE_ENCODER")
            .env_remove("RUST_LOG")
            .current_dir(self.root.path());
        command
    }

    /// Runs docent with the arguments and returns its output, whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.docent().args(args).output().expect("docent binary runs")
    }

    /// Runs docent and fails the test, with both output streams, unless it succeeds.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "docent {args:?} failed\n{}", describe(&output));
        String::from_utf8(output.stdout).expect("stdout is UTF-8")
    }

    pub fn search_json(&self, kb: &str, query: &str) -> serde_json::Value {
        self.search_json_top_k(kb, query, 5)
    }

    pub fn search_json_top_k(&self, kb: &str, query: &str, top_k: usize) -> serde_json::Value {
        let top_k = top_k.to_string();
        let stdout = self.run_ok(&["search", "--kb", kb, "--json", "--top-k", &top_k, query]);
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("search output is not JSON ({error}): {stdout}"))
    }
}

/// Encodes a PNG of `width` x `height` pixels with a colour gradient.
pub fn png_bytes(width: u32, height: u32) -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 8 % 256) as u8, (y * 10 % 256) as u8, 90]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

/// Python of the virtual environment that `scripts/setup.sh --test-tools` creates.
pub fn test_venv_python() -> PathBuf {
    let paths = docent::config::Paths::from_env().expect("cache location is known");
    let python = paths.cache.join("test-venv/bin/python");
    assert!(python.is_file(), "{} is missing: run `scripts/setup.sh --test-tools` (make test does)", python.display());
    python
}

pub fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn file_name(doc: &serde_json::Value) -> String {
    Path::new(doc.as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned()
}
