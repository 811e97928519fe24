//! `docent kb list|stats|remove`: knowledge-base housekeeping.

use anyhow::{Context, Result};
use serde::Serialize;

use crate::config::{validate_kb_name, Paths};
use crate::rag::catalog::DocumentStatus;
use crate::rag::{list_knowledge_bases, KnowledgeBase};

use super::KbCommand;

#[derive(Serialize)]
struct Stats {
    name: String,
    documents: usize,
    ready: usize,
    without_text: usize,
    failed: usize,
    pages: u64,
    chunks: u64,
    bytes: u64,
}

pub fn run(paths: &Paths, kb_name: &str, command: &KbCommand) -> Result<()> {
    match command {
        KbCommand::List => {
            for name in list_knowledge_bases(paths) {
                println!("{name}");
            }
            Ok(())
        }
        KbCommand::Stats { json } => stats(paths, kb_name, *json),
        KbCommand::Remove { name } => remove(paths, name),
    }
}

fn stats(paths: &Paths, kb_name: &str, json: bool) -> Result<()> {
    let knowledge_base = KnowledgeBase::open(paths, kb_name)?;
    let documents = knowledge_base.catalog()?.list()?;
    let count = |status| documents.iter().filter(|document| document.status == status).count();
    let stats = Stats {
        name: knowledge_base.name.clone(),
        documents: documents.len(),
        ready: count(DocumentStatus::Ready),
        without_text: count(DocumentStatus::NoText),
        failed: count(DocumentStatus::Failed),
        pages: documents.iter().map(|document| u64::from(document.pages)).sum(),
        chunks: knowledge_base.index().chunk_count(),
        bytes: documents.iter().map(|document| document.size).sum(),
    };
    if json {
        println!("{}", serde_json::to_string(&stats)?);
        return Ok(());
    }
    println!("knowledge base: {}", stats.name);
    println!("documents:      {} ({} ready, {} without text, {} failed)", stats.documents, stats.ready, stats.without_text, stats.failed);
    println!("pages:          {}", stats.pages);
    println!("chunks:         {}", stats.chunks);
    println!("source bytes:   {}", stats.bytes);
    for document in documents.iter().filter(|document| document.status == DocumentStatus::Failed) {
        println!("failed: {}: {}", document.path, document.error.as_deref().unwrap_or("unknown error"));
    }
    Ok(())
}

fn remove(paths: &Paths, name: &str) -> Result<()> {
    validate_kb_name(name)?;
    // Opening first gives the usual "not found" message for a wrong name.
    let knowledge_base = KnowledgeBase::open(paths, name)?;
    let dir = knowledge_base.dir.clone();
    drop(knowledge_base);
    std::fs::remove_dir_all(&dir).with_context(|| format!("could not delete `{}`", dir.display()))?;
    println!("removed knowledge base `{name}`");
    Ok(())
}
