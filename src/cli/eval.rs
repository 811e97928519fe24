//! `docent eval`: retrieval quality on a question set.

use anyhow::Result;

use crate::config::Paths;
use std::collections::BTreeSet;
use std::path::Path;

use crate::rag::eval::{first_hit_rank, load_questions, report, EvalQuestion, Metrics};
use crate::rag::KnowledgeBase;

use super::EvalArgs;

/// Minimum results fetched per question, because hit@10 needs ten even when `--top-k` is lower.
const MIN_RESULTS: usize = 10;

pub fn run(paths: &Paths, kb_name: &str, args: &EvalArgs) -> Result<()> {
    let questions = load_questions(&args.file)?;
    let knowledge_base = KnowledgeBase::open(paths, kb_name)?;
    args.retrieval.check_image_vectors(&knowledge_base)?;
    warn_about_unknown_documents(&knowledge_base, &questions)?;

    let top_k = usize::from(args.top_k);
    let depth = top_k.max(MIN_RESULTS);
    let options = args.retrieval.search_options();
    let mut ranks = Vec::with_capacity(questions.len());
    for question in &questions {
        let hits = knowledge_base.search_with(&question.question, depth, &options)?;
        ranks.push(first_hit_rank(question, &hits));
    }
    let report = report(&questions, &ranks, top_k);

    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("{:<20} {:>9} {:>7} {:>7} {:>7} {:>7}", "group", "questions", "hit@1", "hit@5", "hit@10", "MRR");
    print_row("overall", &report.overall);
    for (name, metrics) in &report.by_lang {
        print_row(&format!("lang={name}"), metrics);
    }
    for (name, metrics) in &report.by_kind {
        print_row(&format!("kind={name}"), metrics);
    }
    Ok(())
}

/// Warns when questions name files that are not in the knowledge base. Their misses tell
/// nothing about retrieval, and a typo in `doc` would otherwise look like poor search.
fn warn_about_unknown_documents(knowledge_base: &KnowledgeBase, questions: &[EvalQuestion]) -> Result<()> {
    let known: BTreeSet<String> = knowledge_base
        .catalog()?
        .list()?
        .iter()
        .filter_map(|document| Path::new(&document.path).file_name().map(|name| name.to_string_lossy().into_owned()))
        .collect();
    let unknown: BTreeSet<&str> =
        questions.iter().map(|question| question.doc.as_str()).filter(|doc| !known.contains(*doc)).collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.into_iter().collect();
        eprintln!(
            "warning: questions name files that are not in knowledge base `{}`, so they count as misses: {}",
            knowledge_base.name,
            names.join(", ")
        );
    }
    Ok(())
}

fn print_row(name: &str, metrics: &Metrics) {
    println!(
        "{:<20} {:>9} {:>7.3} {:>7.3} {:>7.3} {:>7.3}",
        name, metrics.questions, metrics.hit_at_1, metrics.hit_at_5, metrics.hit_at_10, metrics.mrr
    );
}
