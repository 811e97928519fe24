//! `docent search`: retrieval only.

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::config::Paths;
use crate::models::engine::InputImage;
use crate::rag::clip::flatten_on_white;
use crate::rag::text::is_cjk;
use crate::rag::{KnowledgeBase, Retriever, SearchHit};

use super::SearchArgs;

#[derive(Serialize)]
struct SearchOutput<'a> {
    results: &'a [SearchHit],
}

pub fn run(paths: &Paths, kb_name: &str, args: &SearchArgs) -> Result<()> {
    let knowledge_base = KnowledgeBase::open(paths, kb_name)?;
    let query = args.query.join(" ");
    let mut images = Vec::with_capacity(args.image.len());
    for path in &args.image {
        let image = InputImage::read_file(path)?;
        let decoded = image::load_from_memory(&image.bytes)
            .with_context(|| format!("`{}` could not be decoded", path.display()))?;
        images.push(flatten_on_white(&decoded));
    }
    args.retrieval.check_image_vectors(&knowledge_base)?;
    if !images.is_empty() && knowledge_base.image_encoder().is_none() {
        bail!(
            "knowledge base `{}` has no image vectors, so it cannot be searched with an image: \
             ingest it with `--image-encoder`",
            knowledge_base.name
        );
    }
    let hits = knowledge_base.search_with_images(&query, &images, usize::from(args.top_k), &args.retrieval.search_options())?;

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
        // A counterpart takes its score from another result, so the list can be out of order.
        let counterpart = if hit.retrievers.contains(&Retriever::Counterpart) { ", counterpart" } else { "" };
        println!("{}. {}{pages}{heading}  (score {:.2}{counterpart})", rank + 1, hit.doc, hit.score);
        if let Some(image) = &hit.image {
            println!("   [image] {}", knowledge_base.images_dir().join(format!("{image}.png")).display());
        }
        let preview: String = join_lines(&hit.text).chars().take(240).collect();
        println!("   {preview}\n");
    }
    Ok(())
}

/// Joins a passage into one line: a line break between two CJK characters disappears (it is
/// only where the PDF wrapped the line), any other run of whitespace becomes one space.
fn join_lines(text: &str) -> String {
    let mut joined = String::with_capacity(text.len());
    let mut pending_break = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_break = !joined.is_empty();
            continue;
        }
        if pending_break {
            let previous = joined.chars().last().unwrap_or(' ');
            if !(is_cjk(previous) && is_cjk(c)) {
                joined.push(' ');
            }
            pending_break = false;
        }
        joined.push(c);
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::join_lines;

    #[test]
    fn join_lines_keeps_cjk_words_whole() {
        assert_eq!(join_lines("推荐使用标准\n的 QWERTY\n键盘"), "推荐使用标准的 QWERTY 键盘");
        assert_eq!(join_lines("  two\n\n words  "), "two words");
    }
}
