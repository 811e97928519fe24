//! Retrieval evaluation: hit@k and mean reciprocal rank over a JSONL question set.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::index::SearchHit;

/// One line of an evaluation file. Other fields (`id`, `answer`, ...) are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalQuestion {
    pub question: String,
    /// File name (not path) of the document that answers the question.
    pub doc: String,
    /// 1-based pages that hold the answer.
    pub pages: Vec<u32>,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub questions: usize,
    pub hit_at_1: f64,
    pub hit_at_5: f64,
    pub hit_at_10: f64,
    pub mrr: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    #[serde(flatten)]
    pub overall: Metrics,
    pub by_lang: BTreeMap<String, Metrics>,
    pub by_kind: BTreeMap<String, Metrics>,
}

/// Reads a JSONL question file; blank lines are skipped, and a malformed line is an error
/// naming its line number.
pub fn load_questions(path: &Path) -> Result<Vec<EvalQuestion>> {
    let content = std::fs::read_to_string(path).with_context(|| format!("could not read `{}`", path.display()))?;
    let mut questions = Vec::new();
    for (index, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let question: EvalQuestion = serde_json::from_str(line).with_context(|| {
            format!("`{}` line {}: expected an object with `question`, `doc` and `pages`", path.display(), index + 1)
        })?;
        questions.push(question);
    }
    if questions.is_empty() {
        bail!("`{}` contains no questions", path.display());
    }
    Ok(questions)
}

/// Returns the 1-based rank of the first result from the expected file whose pages overlap
/// the expected pages.
pub fn first_hit_rank(question: &EvalQuestion, hits: &[SearchHit]) -> Option<usize> {
    hits.iter().position(|hit| {
        let file_name = Path::new(&hit.doc).file_name().and_then(|name| name.to_str());
        file_name == Some(question.doc.as_str()) && hit.pages.iter().any(|page| question.pages.contains(page))
    })
    .map(|index| index + 1)
}

/// Aggregates ranks (`None` for a miss) into metrics; MRR counts ranks up to `mrr_depth`.
pub fn metrics(ranks: &[Option<usize>], mrr_depth: usize) -> Metrics {
    let questions = ranks.len();
    if questions == 0 {
        return Metrics::default();
    }
    let share = |k: usize| ranks.iter().filter(|rank| rank.is_some_and(|rank| rank <= k)).count() as f64 / questions as f64;
    // A fold from +0.0: `Sum` of an empty f64 iterator is -0.0, printed as "-0.000".
    let reciprocal_sum = ranks
        .iter()
        .filter_map(|rank| *rank)
        .filter(|rank| *rank <= mrr_depth)
        .fold(0.0, |sum, rank| sum + 1.0 / rank as f64);
    Metrics {
        questions,
        hit_at_1: share(1),
        hit_at_5: share(5),
        hit_at_10: share(10),
        mrr: reciprocal_sum / questions as f64,
    }
}

/// Builds the report from each question's rank, grouped by the optional `lang` and `kind`.
pub fn report(questions: &[EvalQuestion], ranks: &[Option<usize>], mrr_depth: usize) -> EvalReport {
    let group = |key: fn(&EvalQuestion) -> Option<&String>| {
        let mut groups: BTreeMap<String, Vec<Option<usize>>> = BTreeMap::new();
        for (question, rank) in questions.iter().zip(ranks) {
            if let Some(value) = key(question) {
                groups.entry(value.clone()).or_default().push(*rank);
            }
        }
        groups.into_iter().map(|(name, group_ranks)| (name, metrics(&group_ranks, mrr_depth))).collect()
    };
    EvalReport {
        overall: metrics(ranks, mrr_depth),
        by_lang: group(|question| question.lang.as_ref()),
        by_kind: group(|question| question.kind.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::index::HitKind;

    fn hit(doc: &str, pages: &[u32]) -> SearchHit {
        SearchHit { kind: HitKind::Text, doc: doc.into(), pages: pages.to_vec(), score: 1.0, text: String::new(), heading: String::new(), image: None, retrievers: Vec::new(), similarity: None, image_similarity: None, chars: None, key: Default::default(), counterpart_of: None }
    }

    #[test]
    fn rank_needs_file_name_and_page_overlap() {
        let question = EvalQuestion { question: "q".into(), doc: "a.pdf".into(), pages: vec![3, 4], lang: None, kind: None };
        let hits = [hit("x/a.pdf", &[2]), hit("x/b.pdf", &[3]), hit("/abs/a.pdf", &[4])];
        assert_eq!(first_hit_rank(&question, &hits), Some(3));
        assert_eq!(first_hit_rank(&question, &hits[..2]), None);
    }

    #[test]
    fn metrics_of_all_misses_are_positive_zero() {
        let computed = metrics(&[None, None], 10);
        assert_eq!(format!("{:.3}", computed.mrr), "0.000");
    }

    #[test]
    fn metrics_from_ranks() {
        let computed = metrics(&[Some(1), Some(3), Some(7), None], 10);
        assert_eq!(computed.questions, 4);
        assert_eq!(computed.hit_at_1, 0.25);
        assert_eq!(computed.hit_at_5, 0.5);
        assert_eq!(computed.hit_at_10, 0.75);
        let expected_mrr = (1.0 + 1.0 / 3.0 + 1.0 / 7.0) / 4.0;
        assert!((computed.mrr - expected_mrr).abs() < 1e-12);
    }
}
