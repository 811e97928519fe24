//! Requests for one language's edition of the documents, the languages of passages, and the
//! terms that make a passage's counterpart in another language.
//!
//! A question such as "According to the Chinese edition of the handbook, how is the clock
//! set?" requests one language's edition of a manual. Asked in English, it ranks the English
//! edition first, and an English-only text encoder cannot match it with the Chinese text.
//! Translated manuals keep section numbers, commands, paths and acronyms as they are (`4.2.11`,
//! `NTP`, `dm-crypt`, `/etc/fstab`), so the passage in the requested language that shares most
//! of those terms with a result is that result's counterpart. For such a question, hybrid
//! search puts the results from documents in the requested language first and adds the
//! counterparts of the first results in the other language.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use anyhow::Result;
use regex::Regex;

use super::index::{HitKind, Retriever, SearchHit, TextIndex};
use super::text::{is_cjk, normalize};

/// Languages whose edition a question can request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Chinese,
    English,
}

/// Minimum share of a passage's letters that are CJK characters for the passage to count as
/// Chinese. It is low because Chinese passages that list commands, paths or file contents are
/// mostly Latin letters.
const MIN_CJK_LETTER_SHARE: f32 = 0.2;

/// Names of documents and their parts that a request for a language edition mentions.
const DOCUMENT_NOUNS: &str =
    "edition|version|translation|manual|handbook|reference|guide|documentation|docs?|chapter|section|book|pdf";

/// Chinese names of documents and their parts, after 中文 or 英文: 中文版, 英文手册.
const CHINESE_DOCUMENT_NOUNS: &str = "版|版本|译本|原版|手册|文档|说明书|参考|指南|章节|资料|教程";

/// Number of leading results that can bring a counterpart for an edition request.
const COUNTERPART_SOURCES: usize = 5;

/// Full-text results searched for a counterpart, of which the first [`COUNTERPART_CANDIDATES`]
/// in the requested language are compared with the source.
const COUNTERPART_SEARCH_DEPTH: usize = 100;
const COUNTERPART_CANDIDATES: usize = 10;

/// Share of the best score that a result in the requested language needs to move ahead of
/// the results in other languages. Where the knowledge base has no such edition, the results
/// in that language that match only a word of the question stay behind the ones that match it
/// well. With reciprocal rank fusion's default k of 10, half of the best score is what one
/// retriever's first result adds.
const MIN_PREFERRED_SCORE_SHARE: f32 = 0.5;

/// Passages whose text decides a document's language. One passage can be a title page or a
/// list of commands, so the sample is large.
const LANGUAGE_SAMPLE_CHUNKS: usize = 64;

/// Minimum number of terms a counterpart shares with its source. With one, a passage that
/// mentions a single number or acronym of the source would count.
const MIN_SHARED_TERMS: usize = 2;

/// A query's request for one language's edition of the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionRequest {
    pub language: Language,
    /// The query for full text, NFKC-folded, without the language's name or the whole Chinese
    /// compound such as 英文版手册, unless nothing else is left. The name is a condition on the
    /// results and not a word they need to contain, because "Chinese" searched as a word favours
    /// passages about Chinese.
    pub full_text_query: String,
}

/// Returns the request for a language's edition in the query, if it makes one: "the Chinese
/// edition", "the Chinese Debian Reference", "the manual in English", 中文版手册, 英文文档.
/// A query that names both languages requests neither.
pub fn edition_request(query: &str) -> Option<EditionRequest> {
    // Folded first, so that full-width letters (ｅｄｉｔｉｏｎ) match as the index matches them.
    let query = &normalize(query);
    let chinese = chinese_request().captures(query);
    let english = english_request().captures(query);
    let (language, captures) = match (chinese, english) {
        (Some(captures), None) => (Language::Chinese, captures),
        (None, Some(captures)) => (Language::English, captures),
        _ => return None,
    };
    let name = (1..=3).find_map(|group| captures.get(group))?;
    let rest = format!("{}{}", &query[..name.start()], &query[name.end()..]);
    // A query that is nothing but the request, such as 中文版手册, keeps its words.
    let query = if rest.chars().any(char::is_alphanumeric) { rest } else { query.clone() };
    Some(EditionRequest { language, full_text_query: query })
}

fn chinese_request() -> &'static Regex {
    static REQUEST: OnceLock<Regex> = OnceLock::new();
    REQUEST.get_or_init(|| request_pattern(r"chinese|zh(?:[-_](?:cn|hans))?", "中文|汉语|简体中文|中译"))
}

fn english_request() -> &'static Regex {
    static REQUEST: OnceLock<Regex> = OnceLock::new();
    REQUEST.get_or_init(|| request_pattern("english", "英文|英语"))
}

/// Builds the pattern of a request for one language's edition, with the words that full text
/// leaves out as group 1, 2 or 3. The first form is the name before a document noun with up to
/// two words between ("Chinese Debian Reference"), and group 1 is the name. The second is a
/// document noun before "in NAME" ("the manual in Chinese"), and group 2 is the name. The third
/// is the language's Chinese name with the Chinese document nouns after it (中文版手册), and
/// group 3 is the whole compound, because it names the edition and no content.
fn request_pattern(name: &str, chinese_names: &str) -> Regex {
    let before_noun = format!(r"\b((?:simplified\s+)?(?:{name}))\s+(?:[\w'’-]+\s+){{0,2}}?(?:{DOCUMENT_NOUNS})s?\b");
    let after_noun =
        format!(r"\b(?:{DOCUMENT_NOUNS})s?\s+(?:[\w'’-]+\s+){{0,2}}?in(?:to)?\s+((?:simplified\s+)?(?:{name}))\b");
    let in_chinese = format!("((?:{chinese_names})的?(?:{CHINESE_DOCUMENT_NOUNS})+)");
    let pattern = format!("(?i){before_noun}|{after_noun}|{in_chinese}");
    Regex::new(&pattern).expect("the edition request pattern is valid")
}

/// Returns the language a passage is written in: Chinese when at least
/// [`MIN_CJK_LETTER_SHARE`] of its letters are CJK characters, English otherwise.
pub fn language_of(text: &str) -> Language {
    let mut letters = 0usize;
    let mut cjk_letters = 0usize;
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if is_cjk(c) {
            cjk_letters += 1;
        }
    }
    if letters > 0 && cjk_letters as f32 >= MIN_CJK_LETTER_SHARE * letters as f32 {
        Language::Chinese
    } else {
        Language::English
    }
}

/// Words of Latin letters and digits, with the dots, dashes, slashes, tildes, plus signs and
/// underscores inside them: `4.2.11`, `dm-crypt`, `/etc/fstab` (as `etc/fstab`).
fn term_pattern() -> &'static Regex {
    static TERM: OnceLock<Regex> = OnceLock::new();
    TERM.get_or_init(|| Regex::new(r"[A-Za-z0-9](?:[A-Za-z0-9._/~+-]*[A-Za-z0-9])?").expect("the term pattern is valid"))
}

/// Returns the lowercased terms of Latin letters and digits of a text (see [`term_pattern`]),
/// two characters or longer.
pub fn latin_terms(text: &str) -> BTreeSet<String> {
    let text = normalize(text);
    term_pattern()
        .find_iter(&text)
        .map(|word| word.as_str())
        .filter(|word| word.len() >= 2)
        .map(str::to_lowercase)
        .collect()
}

/// Returns the terms of a passage that a translation keeps as they are, lowercased. In an
/// English passage these are the words with a digit (`4.2.11`, `ext4`), with punctuation inside
/// (`dm-crypt`, `etc/fstab`) or with two capitals (`NTP`, `LUKS`). In a Chinese passage they are
/// those and also the capitalized words (`Debian`, `Linux`), which Chinese text keeps in Latin
/// letters but an English sentence also starts with.
pub fn neutral_terms(text: &str) -> BTreeSet<String> {
    let language = language_of(text);
    let text = normalize(text);
    term_pattern()
        .find_iter(&text)
        .map(|word| word.as_str())
        .filter(|word| word.len() >= 2)
        .filter(|word| {
            let capitals = word.chars().filter(char::is_ascii_uppercase).count();
            let code_like = word.chars().any(|c| c.is_ascii_digit())
                || word.chars().any(|c| !c.is_ascii_alphanumeric())
                || capitals >= 2;
            let capitalized = word.starts_with(|c: char| c.is_ascii_uppercase());
            code_like || (language == Language::Chinese && capitalized)
        })
        .map(str::to_lowercase)
        .collect()
}

/// Orders results for a question that requests `language`'s edition: the results from
/// documents in that language come first, by score, if their score is at least
/// [`MIN_PREFERRED_SCORE_SHARE`] of the best, and then the others, in their order.
/// Each of the first [`COUNTERPART_SOURCES`] results that scores at least that share and comes
/// from a document in the other language brings its counterpart into the first group. The
/// counterpart takes the source's score, or keeps its own where it is already among the
/// results with a higher one.
pub fn prefer_language(
    index: &TextIndex,
    hits: Vec<SearchHit>,
    language: Language,
    top_k: usize,
) -> Result<Vec<SearchHit>> {
    let mut languages = DocumentLanguages::new(index);
    let best_score = hits.iter().map(|hit| hit.score).fold(0.0, f32::max);
    let close_enough = |hit: &SearchHit| hit.score >= MIN_PREFERRED_SCORE_SHARE * best_score;
    let mut counterparts: Vec<SearchHit> = Vec::new();
    for source in hits.iter().take(COUNTERPART_SOURCES) {
        if source.kind != HitKind::Text || !close_enough(source) || languages.of(&source.key.doc_id)? == language {
            continue;
        }
        if let Some(mut counterpart) = counterpart(index, source, language, &mut languages)? {
            counterpart.score = source.score;
            counterpart.counterpart_of = Some(Box::new(source.clone()));
            counterparts.push(counterpart);
        }
    }

    let mut preferred = Vec::new();
    let mut others = Vec::new();
    for mut hit in hits {
        if let Some(found) = counterparts.iter().position(|counterpart| counterpart.key == hit.key) {
            let counterpart = counterparts.remove(found);
            hit.score = hit.score.max(counterpart.score);
            hit.retrievers.push(Retriever::Counterpart);
            hit.counterpart_of = counterpart.counterpart_of;
        }
        if close_enough(&hit) && languages.of(&hit.key.doc_id)? == language {
            preferred.push(hit);
        } else {
            others.push(hit);
        }
    }
    // Counterparts that are not among the results yet. Two sources can share one counterpart,
    // which then keeps the higher score and the retrievers it already has.
    for counterpart in counterparts {
        match preferred.iter_mut().find(|hit| hit.key == counterpart.key) {
            Some(hit) if hit.score < counterpart.score => {
                hit.score = counterpart.score;
                hit.counterpart_of = counterpart.counterpart_of;
            }
            Some(_) => {}
            None => preferred.push(counterpart),
        }
    }
    preferred.sort_by(|a, b| b.score.total_cmp(&a.score));
    preferred.extend(others);
    preferred.truncate(top_k);
    Ok(preferred)
}

/// Finds the passage of a document in `language` that shares the most terms a translation
/// keeps (see [`neutral_terms`]) with `source`, if it shares more than half of them and at
/// least [`MIN_SHARED_TERMS`]. The match must also hold the other way, so no document in the
/// source's language may share more of the counterpart's terms than the source's document.
/// Without that check a table of contents, which lists every section number, became the
/// counterpart of passages from other manuals.
fn counterpart(
    index: &TextIndex,
    source: &SearchHit,
    language: Language,
    languages: &mut DocumentLanguages<'_>,
) -> Result<Option<SearchHit>> {
    let terms = neutral_terms(&source.text);
    if terms.len() < MIN_SHARED_TERMS {
        return Ok(None);
    }
    // Ties go to the candidate that full text ranked higher.
    let mut best: Option<(usize, SearchHit)> = None;
    for (shared, candidate) in shared_terms(index, &terms, language, languages)? {
        if best.as_ref().is_none_or(|(max_shared, _)| shared > *max_shared) {
            best = Some((shared, candidate));
        }
    }
    let Some((shared, mut counterpart)) = best else {
        return Ok(None);
    };
    if shared < MIN_SHARED_TERMS || 2 * shared <= terms.len() {
        return Ok(None);
    }

    let source_language = languages.of(&source.key.doc_id)?;
    let mut in_source_document = 0;
    let mut elsewhere = 0;
    for (shared, passage) in shared_terms(index, &neutral_terms(&counterpart.text), source_language, languages)? {
        let max_shared = if passage.key.doc_id == source.key.doc_id { &mut in_source_document } else { &mut elsewhere };
        *max_shared = (*max_shared).max(shared);
    }
    if in_source_document < elsewhere {
        return Ok(None);
    }
    counterpart.retrievers = vec![Retriever::Counterpart];
    Ok(Some(counterpart))
}

/// Searches full text for `terms` and returns the first [`COUNTERPART_CANDIDATES`] passages of
/// documents in `language`, each with the number of `terms` it contains.
fn shared_terms(
    index: &TextIndex,
    terms: &BTreeSet<String>,
    language: Language,
    languages: &mut DocumentLanguages<'_>,
) -> Result<Vec<(usize, SearchHit)>> {
    let query = terms.iter().cloned().collect::<Vec<_>>().join(" ");
    let mut compared = Vec::with_capacity(COUNTERPART_CANDIDATES);
    for candidate in index.search(&query, COUNTERPART_SEARCH_DEPTH)? {
        if compared.len() == COUNTERPART_CANDIDATES {
            break;
        }
        if candidate.kind != HitKind::Text || languages.of(&candidate.key.doc_id)? != language {
            continue;
        }
        let shared = latin_terms(&candidate.text).intersection(terms).count();
        compared.push((shared, candidate));
    }
    Ok(compared)
}

/// Languages of documents, judged from the text of up to [`LANGUAGE_SAMPLE_CHUNKS`] of their
/// passages and kept for one search.
struct DocumentLanguages<'a> {
    index: &'a TextIndex,
    known: HashMap<String, Language>,
}

impl<'a> DocumentLanguages<'a> {
    fn new(index: &'a TextIndex) -> Self {
        Self { index, known: HashMap::new() }
    }

    fn of(&mut self, doc_id: &str) -> Result<Language> {
        if let Some(language) = self.known.get(doc_id) {
            return Ok(*language);
        }
        let language = language_of(&self.index.document_text(doc_id, LANGUAGE_SAMPLE_CHUNKS)?);
        self.known.insert(doc_id.to_string(), language);
        Ok(language)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requested_language(query: &str) -> Option<Language> {
        edition_request(query).map(|request| request.language)
    }

    #[test]
    fn edition_requests_in_english() {
        let chinese = [
            "According to the Chinese edition of the handbook, how is the clock set?",
            "What does the Chinese Debian Reference say about fstab?",
            "In the Chinese handbook chapter, which driver encrypts partitions?",
            "Where does the manual in Chinese describe NTP?",
            "what does the simplified chinese version say",
            "What does the zh-CN handbook say about NTP?",
        ];
        for query in chinese {
            assert_eq!(requested_language(query), Some(Language::Chinese), "{query}");
        }
        assert_eq!(requested_language("What does the English manual say about LVM?"), Some(Language::English));
        assert_eq!(requested_language("Is there a guide in English?"), Some(Language::English));
        assert_eq!(requested_language("What does the Ｃｈｉｎｅｓｅ ｅｄｉｔｉｏｎ say?"), Some(Language::Chinese));
    }

    #[test]
    fn edition_request_drops_language_name() {
        let request = edition_request("According to the Chinese edition of the handbook, how is the clock set?").unwrap();
        assert_eq!(request.full_text_query, "According to the  edition of the handbook, how is the clock set?");
        let request = edition_request("Where does the manual in Simplified Chinese describe NTP?").unwrap();
        assert_eq!(request.full_text_query, "Where does the manual in  describe NTP?");
        let request = edition_request("英文版手册里怎样配置时钟？").unwrap();
        assert_eq!(request.language, Language::English);
        assert_eq!(request.full_text_query, "里怎样配置时钟?");
        let request = edition_request("中文版手册？").unwrap();
        assert_eq!(request.full_text_query, "中文版手册?");
    }

    #[test]
    fn edition_requests_in_chinese() {
        assert_eq!(requested_language("根据中文版手册，安装时如何设置时钟？"), Some(Language::Chinese));
        assert_eq!(requested_language("英文文档里怎么说加密分区？"), Some(Language::English));
        assert_eq!(requested_language("英语的版本中写了什么？"), Some(Language::English));
    }

    #[test]
    fn questions_without_edition_request() {
        let none = [
            "How do I set the clock during installation?",
            "How do I type Chinese characters in the terminal?",
            "Which English words does the spell checker know?",
            "如何设置中文输入法？",
            "Compare the Chinese edition with the English edition.",
            "",
        ];
        for query in none {
            assert_eq!(requested_language(query), None, "{query}");
        }
    }

    #[test]
    fn passage_languages() {
        assert_eq!(language_of("如果网络是正常的，系统的内部时钟从网络时间服务器更新。"), Language::Chinese);
        assert_eq!(language_of("If the network is available, the clock is updated."), Language::English);
        assert_eq!(language_of("用 mount 命令把 /dev/sda1 分区挂载到目录"), Language::Chinese);
        assert_eq!(language_of("12 34"), Language::English);
    }

    #[test]
    fn neutral_terms_of_english_passage() {
        let text = "4.2.11. Configuring the Clock\nAn NTP daemon needs to be set up (see Section 8.9.2). \
                    Linux uses the dm-crypt driver and /etc/fstab.";
        let expected: BTreeSet<String> =
            ["4.2.11", "ntp", "8.9.2", "dm-crypt", "etc/fstab"].into_iter().map(String::from).collect();
        assert_eq!(neutral_terms(text), expected);
    }

    #[test]
    fn neutral_terms_of_chinese_passage() {
        let text = "4.2.11. 配置时钟\n为了一直保持精确的时间，需要在初始安装后设置 NTP 守护程序，参看 Debian 手册。";
        let expected: BTreeSet<String> = ["4.2.11", "ntp", "debian"].into_iter().map(String::from).collect();
        assert_eq!(neutral_terms(text), expected);
    }
}
