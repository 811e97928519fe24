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

/// Keeps only tokens that contain at least one letter or digit.
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
    type TokenStream<'a> = WordFilterStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        WordFilterStream { inner: self.inner.token_stream(text) }
    }
}

struct WordFilterStream<S> {
    inner: S,
}

impl<S: TokenStream> TokenStream for WordFilterStream<S> {
    fn advance(&mut self) -> bool {
        while self.inner.advance() {
            if self.inner.token().text.chars().any(char::is_alphanumeric) {
                return true;
            }
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

/// Counts the words of a text that carry meaning: segmented like indexed text, without
/// English stop words (Lucene's list, as tantivy ships it).
pub fn content_term_count(text: &str) -> usize {
    let mut builder = TextAnalyzer::builder(JiebaTokenizer::new()).filter(WordFilter).filter(LowerCaser).dynamic();
    if let Some(stop_words) = StopWordFilter::new(Language::English) {
        builder = builder.filter_dynamic(stop_words);
    }
    terms(&mut builder.build(), text).len()
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
