//! `docent search`: retrieval only.

use anyhow::Result;
use serde::Serialize;

use crate::config::Paths;
use crate::rag::{KnowledgeBase, SearchHit};

use super::SearchArgs;

#[derive(Serialize)]
struct SearchOutput<'a> {
    results: &'a [SearchHit],
}

pub fn run(paths: &Paths, kb_name: &str, args: &SearchArgs) -> Result<()> {
    let knowledge_base = KnowledgeBase::open(paths, kb_name)?;
    let query = args.query.join(" ");
    let hits = knowledge_base.search(&query, usize::from(args.top_k))?;

    if args.json {
        println!("{}", serde_json::to_string(&SearchOutput { results: &hits })?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no results for `{query}`");
    }
    for (rank, hit) in hits.iter().enumerate() {
        let pages = if hit.pages.is_empty() {
            String::new()
        } else {
            format!(
                " p. {}",
                hit.pages.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
            )
        };
        let heading = if hit.heading.is_empty() { String::new() } else { format!(" § {}", hit.heading) };
        println!("{}. {}{pages}{heading}  (score {:.2})", rank + 1, hit.doc, hit.score);
        let preview: String = hit.text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(240).collect();
        println!("   {preview}\n");
    }
    Ok(())
}
