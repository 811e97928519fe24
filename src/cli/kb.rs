//! `docent kb list|stats|remove`: knowledge-base housekeeping.

use std::io::IsTerminal;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::config::{validate_kb_name, Paths};
use crate::rag::catalog::DocumentStatus;
use crate::rag::{list_knowledge_bases, KnowledgeBase};


use super::KbCommand;

#[derive(Serialize)]
struct FailedFile {
    path: String,
    error: String,
}

#[derive(Serialize)]
struct Stats {
    name: String,
    documents: usize,
    ready: usize,
    without_text: usize,
    failed: usize,
    pages: u64,
    chunks: u64,
    images: u64,
    /// Pages without a text layer, kept as images.
    pages_without_text: u64,
    vectors: u64,
    /// The text encoder that made the vectors; `null` for a full-text-only knowledge base.
    text_encoder: Option<String>,
    /// Images with an image vector.
    image_vectors: u64,
    /// The image encoder that made the image vectors; `null` when images are found by their
    /// text alone.
    image_encoder: Option<String>,
    bytes: u64,
    failed_files: Vec<FailedFile>,
}

pub fn run(paths: &Paths, kb_name: &str, command: &KbCommand) -> Result<()> {
    match command {
        KbCommand::List => {
            let names = list_knowledge_bases(paths);
            if names.is_empty() {
                eprintln!(
                    "no knowledge bases in `{}`: create one with `docent ingest --kb NAME PATH...`",
                    paths.knowledge_bases().display()
                );
            }
            for name in names {
                println!("{name}");
            }
            Ok(())
        }
        KbCommand::Stats { json } => stats(paths, kb_name, *json),
        KbCommand::Remove { name, yes } => remove(paths, name, *yes),
    }
}

fn stats(paths: &Paths, kb_name: &str, json: bool) -> Result<()> {
    let knowledge_base = KnowledgeBase::open(paths, kb_name)?;
    let documents = knowledge_base.catalog()?.list()?;

    let count = |status| documents.iter().filter(|document| document.status == status).count();
    let (images, pages_without_text) = knowledge_base.image_counts()?;
    let stats = Stats {
        name: knowledge_base.name.clone(),
        documents: documents.len(),
        ready: count(DocumentStatus::Ready),
        without_text: count(DocumentStatus::NoText),
        failed: count(DocumentStatus::Failed),
        pages: documents.iter().map(|document| u64::from(document.pages)).sum(),
        chunks: knowledge_base.index().chunk_count(),
        images,
        pages_without_text,
        vectors: knowledge_base.vector_count()?,
        text_encoder: knowledge_base.recorded_text_encoder()?.map(|(id, _)| id),
        image_vectors: knowledge_base.image_vector_count()?,
        image_encoder: knowledge_base.recorded_image_encoder()?.map(|(id, _)| id),
        bytes: documents.iter().map(|document| document.size).sum(),
        failed_files: documents
            .iter()
            .filter(|document| document.status == DocumentStatus::Failed)
            .map(|document| FailedFile {
                path: document.path.clone(),
                error: document.error.clone().unwrap_or_else(|| "unknown error".into()),
            })
            .collect(),
    };

    if json {
        println!("{}", serde_json::to_string(&stats)?);
        return Ok(());
    }

    println!("knowledge base: {}", stats.name);
    println!("documents:      {} ({} ready, {} without text, {} failed)", stats.documents, stats.ready, stats.without_text, stats.failed);
    println!("pages:          {}", stats.pages);
    println!("chunks:         {}", stats.chunks);
    match &stats.image_encoder {
        Some(encoder) => println!(
            "images:         {} ({} pages without text), {} with image vectors ({encoder})",
            stats.images, stats.pages_without_text, stats.image_vectors
        ),
        // Without an image encoder, images are found through their captions and surrounding text.
        None => println!("images:         {} ({} pages without text), found by their text", stats.images, stats.pages_without_text),
    }
    match &stats.text_encoder {
        Some(encoder) => println!("vectors:        {} ({encoder})", stats.vectors),
        None => println!("vectors:        none (full text only)"),
    }
    println!("source bytes:   {}", stats.bytes);
    for failed in &stats.failed_files {
        println!("failed: {}: {}", failed.path, failed.error);
    }
    Ok(())
}

fn remove(paths: &Paths, name: &str, assume_yes: bool) -> Result<()> {
    validate_kb_name(name)?;
    let dir = paths.knowledge_base(name);
    if !dir.join("catalog.sqlite3").is_file() {
        bail!("knowledge base `{name}` not found in `{}`: `docent kb list` shows the existing ones", paths.knowledge_bases().display());
    }
    if !assume_yes {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to delete knowledge base `{name}` without confirmation: pass --yes");
        }
        eprint!("delete knowledge base `{name}` and everything ingested into it? [y/N] ");
        let mut reply = String::new();
        std::io::stdin().read_line(&mut reply).context("could not read the confirmation")?;
        if !matches!(reply.trim(), "y" | "Y" | "yes") {
            bail!("nothing deleted");
        }
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("could not delete `{}`", dir.display()))?;
    println!("removed knowledge base `{name}`");
    Ok(())
}
