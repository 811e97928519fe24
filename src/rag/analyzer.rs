//! The full-text analyzer shared by indexing and querying: jieba word segmentation for
//! Chinese, then lowercasing and English stemming for Latin-script words.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token, TokenFilter,
    TokenStream, Tokenizer,
};
use tantivy_jieba::JiebaTokenizer;

/// Name under which the analyzer is registered in the index.
pub const ANALYZER_NAME: &str = "docent_text";

/// Builds the analyzer. Jieba also emits spaces and punctuation as tokens; `WordFilter`
/// drops them so that they neither bloat the index nor match between query and passage.
pub fn build_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(JiebaTokenizer::new())
        .filter(WordFilter)
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Keeps only tokens that contain at least one letter or digit, and replaces a lone Greek
/// letter (no letter on either side) with its name, so that a question about `π` finds `pi`
/// in the text and the reverse. Jieba cuts Greek words into letters, which stay as they are.
#[derive(Clone, Copy)]
struct WordFilter;

impl TokenFilter for WordFilter {
    type Tokenizer<T: Tokenizer> = WordFilterTokenizer<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> WordFilterTokenizer<T> {
        WordFilterTokenizer { inner: tokenizer }
    }
}

#[derive(Clone)]
struct WordFilterTokenizer<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for WordFilterTokenizer<T> {
    type TokenStream<'a> = WordFilterStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        WordFilterStream { inner: self.inner.token_stream(text), text }
    }
}

struct WordFilterStream<'a, S> {
    inner: S,
    text: &'a str,
}

impl<S: TokenStream> TokenStream for WordFilterStream<'_, S> {
    fn advance(&mut self) -> bool {
        while self.inner.advance() {
            let token = self.inner.token_mut();
            if !token.text.chars().any(char::is_alphanumeric) {
                continue;
            }
            if let Some(name) = lone_greek_letter_name(self.text, token) {
                token.text = name.to_string();
            }
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.inner.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.inner.token_mut()
    }
}

/// Returns the name of the token's Greek letter when the token is one letter with no letter
/// next to it in the text.
fn lone_greek_letter_name(text: &str, token: &Token) -> Option<&'static str> {
    let mut chars = token.text.chars();
    let (Some(letter), None) = (chars.next(), chars.next()) else { return None };
    let before = text.get(..token.offset_from).and_then(|text| text.chars().next_back());
    let after = text.get(token.offset_to..).and_then(|text| text.chars().next());
    if before.is_some_and(char::is_alphabetic) || after.is_some_and(char::is_alphabetic) {
        return None;
    }
    greek_letter_name(letter)
}

/// Returns the English name of a Greek letter, either case, or `None` for other characters.
fn greek_letter_name(letter: char) -> Option<&'static str> {
    const NAMES: [&str; 25] = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
        "xi", "omicron", "pi", "rho", "sigma", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
    ];
    // The lower-case letters run from α (U+03B1) to ω (U+03C9), final sigma ς (U+03C2)
    // included. Each capital is 0x20 below its lower-case letter, and no capital matches ς.
    let code = match letter as u32 {
        code @ 0x03B1..=0x03C9 => code,
        code @ (0x0391..=0x03A1 | 0x03A3..=0x03A9) => code + 0x20,
        _ => return None,
    };
    Some(NAMES[(code - 0x03B1) as usize])
}

/// Counts the words of a text that carry meaning: segmented like indexed text, without
/// English stop words (Lucene's list, as tantivy ships it).
pub fn content_term_count(text: &str) -> usize {
    let mut builder = TextAnalyzer::builder(JiebaTokenizer::new()).filter(WordFilter).filter(LowerCaser).dynamic();
    if let Some(stop_words) = StopWordFilter::new(Language::English) {
        builder = builder.filter_dynamic(stop_words);
    }
    terms(&mut builder.build(), text).len()
}

/// Words that frame a question rather than name its subject, in English and Chinese.
const QUESTION_WORDS: [&str; 38] = [
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "do", "does", "did", "can", "could",
    "should", "would", "i", "me", "my", "we", "our", "you", "your", "am", "什么", "怎么", "怎样", "怎么样", "如何",
    "哪", "哪里", "哪个", "哪些", "为什么", "多少", "吗", "呢", "的",
];

/// Returns the share of a query's content words that occur in a text, from 0 to 1. Stop
/// words and question words are left out, and words are stemmed as indexed text is. A query
/// without content words is covered.
pub fn query_coverage(query: &str, text: &str) -> f32 {
    let mut builder = TextAnalyzer::builder(JiebaTokenizer::new()).filter(WordFilter).filter(LowerCaser).dynamic();
    if let Some(stop_words) = StopWordFilter::new(Language::English) {
        builder = builder.filter_dynamic(stop_words);
    }
    let question_words = StopWordFilter::remove(QUESTION_WORDS.iter().map(|word| word.to_string()));
    let mut query_analyzer = builder.filter_dynamic(question_words).filter_dynamic(Stemmer::new(Language::English)).build();
    let mut query_terms = terms(&mut query_analyzer, query);
    query_terms.sort();
    query_terms.dedup();
    if query_terms.is_empty() {
        return 1.0;
    }
    let text_terms: std::collections::HashSet<String> = terms(&mut build_analyzer(), text).into_iter().collect();
    let covered = query_terms.iter().filter(|term| text_terms.contains(*term)).count();
    covered as f32 / query_terms.len() as f32
}

/// Tells whether a text contains any of the Latin-script names in a Chinese, Japanese or
/// Korean query: runs of at least two ASCII letters and digits, such as `Gentoo`, `stage3` or
/// `IPv6`, compared without case as whole words. A query without such names counts as found.
///
/// In such a query these names are its most specific words, and a manual that covers the
/// question names them too. Chinese words themselves are too common to judge by: a question
/// about something else still shares words like 安装 (install) or 文件 (file) with the manuals.
pub fn latin_names_found(query: &str, text: &str) -> bool {
    let names: Vec<String> = latin_words(query).filter(|word| word.len() >= 2).map(|word| word.to_ascii_lowercase()).collect();
    if names.is_empty() {
        return true;
    }
    let words: std::collections::HashSet<String> = latin_words(text).map(|word| word.to_ascii_lowercase()).collect();
    names.iter().any(|name| words.contains(name))
}

fn latin_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|word| !word.is_empty())
}

/// Returns the analyzed terms of a text, in order, duplicates included.
pub fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut terms = Vec::new();
    while stream.advance() {
        terms.push(stream.token().text.clone());
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greek_letters_spelled_by_name() {
        let mut analyzer = build_analyzer();
        assert_eq!(terms(&mut analyzer, "the value of π"), ["the", "valu", "of", "pi"]);
        assert_eq!(terms(&mut analyzer, "Ω and ς"), ["omega", "and", "sigma"]);
        assert_eq!(terms(&mut analyzer, "λx and Ελληνικά"), ["λ", "x", "and", "ε", "λ", "λ", "η", "ν", "ι", "κ", "ά"]);
    }

    #[test]
    fn coverage_counts_content_words() {
        let text = "Error E-102 means the intake filter is blocked. Clean the filters.";
        assert_eq!(query_coverage("What does the intake filter do?", text), 1.0);
        assert_eq!(query_coverage("Who painted the Mona Lisa?", text), 0.0);
        assert_eq!(query_coverage("intake valve", text), 0.5);
        assert_eq!(query_coverage("the of and", text), 1.0);
    }

    #[test]
    fn latin_names_in_cjk_queries() {
        let text = "使用 ping 探测 MTU：IPv4 头部 20 字节。Debian 的 apt 配置。";
        assert!(latin_names_found("用 ping 探测 MTU 时要加多少字节？", text));
        assert!(latin_names_found("Kubernetes 和 apt 有什么区别？", text), "one name is enough");
        assert!(latin_names_found("如何设置口令？", text), "no names to look for");
        assert!(!latin_names_found("如何安装 Gentoo 的 stage3 文件？", text));
        assert!(!latin_names_found("如何配置 api 网关？", text), "whole words only: `apt` is not `api`");
        assert!(!latin_names_found("如何配置 MT？", text), "whole words only: `MT` is not `MTU`");
    }

    #[test]
    fn segments_chinese_and_stems_english() {
        let mut analyzer = build_analyzer();
        let found = terms(&mut analyzer, "如何安装软件? Installing the Packages!");
        assert!(found.contains(&"安装".to_string()), "{found:?}");
        assert!(found.contains(&"软件".to_string()), "{found:?}");
        assert!(found.contains(&"instal".to_string()), "{found:?}");
        assert!(found.contains(&"packag".to_string()), "{found:?}");
        assert!(!found.iter().any(|term| term.trim().is_empty() || term == "?" || term == "!"), "{found:?}");
    }

    #[test]
    fn content_terms_skip_stop_words() {
        assert_eq!(content_term_count("And how do I stop it?"), 4);
        assert_eq!(content_term_count("如何停止服务？"), 3);
    }

    #[test]
    fn punctuation_only_text_has_no_terms() {
        let mut analyzer = build_analyzer();
        assert!(terms(&mut analyzer, "  \"():-- ，。！ ").is_empty());
    }
}

