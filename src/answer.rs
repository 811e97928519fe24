//! Grounded answers: retrieve passages, render the prompt templates, and stream the
//! engine's answer together with the sources it was given.

use std::sync::Arc;

use anyhow::{Context, Result};
use minijinja::{context, Environment};
use serde::Serialize;

use crate::i18n::Language;
use crate::models::{ChatEngine, ChatMessage, EngineError, EventStream, GenerationParams, InputImage, Role};
use crate::rag::{KnowledgeBase, SearchHit};

const SYSTEM_EN: &str = include_str!("../prompts/system.en.txt");
const SYSTEM_ZH: &str = include_str!("../prompts/system.zh.txt");
const QUESTION_EN: &str = include_str!("../prompts/question.en.txt");
const QUESTION_ZH: &str = include_str!("../prompts/question.zh.txt");

#[derive(Debug, Clone)]
pub struct AnswerOptions {
    /// Number of passages retrieved and placed in the prompt.
    pub top_k: usize,
    /// Characters of passage text placed in the prompt, all sources together; each source
    /// gets an equal share and is cut at that length.
    pub max_source_chars: usize,
    /// Earlier question and answer pairs kept in the prompt, newest first.
    pub max_history_turns: usize,
    /// Tokens the whole prompt may take (system prompt, history, sources and question),
    /// counted with the model's tokenizer. The model reads all of them before its first
    /// word, so this bounds the wait as well as the context used.
    pub max_prompt_tokens: usize,
    /// Images among the sources that a multimodal model is given as images, at most this
    /// many; the others reach it as their captions. `None` means 2 for a local multimodal
    /// model and 0 otherwise, because a remote server may serve a text-only model.
    pub max_source_images: Option<usize>,
    /// Largest source image given to the model, in pixels (width times height); larger
    /// images are downscaled to fit.
    pub max_source_image_pixels: u64,
    /// A question is taken to be covered by the manuals when a result's vector has at least
    /// this cosine similarity to the question's, or the next condition holds.
    pub min_answer_similarity: f32,
    /// ... or when a result contains at least this share of the question's content words.
    pub min_answer_coverage: f32,
    pub generation: GenerationParams,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        Self {
            top_k: 3,
            max_source_chars: 1_800,
            max_history_turns: 2,
            // On 2 CPU cores a 512-token budget shows the first word in about 2.8 s (about
            // 370 prompt tokens, one or two sources); 768 took 4.5 to 5.4 s with three.
            max_prompt_tokens: 512,
            max_source_images: None,
            max_source_image_pixels: 1024 * 1024,
            // Chosen on the manuals corpus with all-MiniLM-L6-v2: the 46 English questions of
            // the development set had a best similarity of 0.41 to 0.82, and 12 English
            // questions about other subjects 0.37 at most. Their best coverage was 0.5 or less,
            // except for one at 0.67, which keeps its sources.
            min_answer_similarity: 0.38,
            min_answer_coverage: 0.6,
            generation: GenerationParams::default(),
        }
    }
}

/// One earlier exchange of a conversation.
#[derive(Debug, Clone)]
pub struct Turn {
    pub question: String,
    pub answer: String,
}

/// A source placed in the prompt as `[number]`.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub number: usize,
    pub hit: SearchHit,
    /// For an image source: the model was given the image itself, not only its caption.
    pub image_seen: bool,
}

impl Source {
    /// Returns the citation shown to people: the path, the pages and the heading path.
    pub fn label(&self) -> String {
        let mut label = self.hit.doc.clone();
        match self.hit.pages.as_slice() {
            [] => {}
            [page] => label.push_str(&format!(", p. {page}")),
            [first, .., last] => label.push_str(&format!(", pp. {first}-{last}")),
        }
        if !self.hit.heading.is_empty() {
            label.push_str(&format!(" § {}", self.hit.heading));
        }
        if self.hit.image.is_some() {
            label.push_str(" [image]");
        }
        label
    }

    fn is_image(&self) -> bool {
        self.hit.image.is_some()
    }
}

/// An answer being generated: the sources are known before the first token.
pub struct PendingAnswer {
    pub sources: Vec<Source>,
    pub events: EventStream,
    pub retrieval_time: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("retrieval failed: {0:#}")]
    Retrieval(anyhow::Error),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Answers questions from one knowledge base with one engine.
#[derive(Clone)]
pub struct Assistant {
    /// Knowledge base searched for sources. `None` skips retrieval, for `docent ask --top-k 0`
    /// where no knowledge base exists.
    knowledge_base: Option<Arc<KnowledgeBase>>,
    engine: Arc<dyn ChatEngine>,
}

impl Assistant {
    pub fn new(knowledge_base: Arc<KnowledgeBase>, engine: Arc<dyn ChatEngine>) -> Self {
        Self { knowledge_base: Some(knowledge_base), engine }
    }

    /// Creates an assistant that generates replies without retrieval.
    pub fn without_knowledge_base(engine: Arc<dyn ChatEngine>) -> Self {
        Self { knowledge_base: None, engine }
    }

    pub fn engine(&self) -> &Arc<dyn ChatEngine> {
        &self.engine
    }

    pub fn knowledge_base(&self) -> Option<&Arc<KnowledgeBase>> {
        self.knowledge_base.as_ref()
    }

    /// Retrieves passages for the question (on a blocking thread, since tantivy does file
    /// I/O) and starts the answer.
    pub async fn answer(
        &self,
        history: &[Turn],
        question: &str,
        client_system: Option<&str>,
        options: &AnswerOptions,
    ) -> Result<PendingAnswer, AnswerError> {
        self.answer_with_images(history, question, Vec::new(), client_system, options).await
    }

    /// Answers a question that comes with images, which go with the question to the engine.
    pub async fn answer_with_images(
        &self,
        history: &[Turn],
        question: &str,
        images: Vec<InputImage>,
        client_system: Option<&str>,
        options: &AnswerOptions,
    ) -> Result<PendingAnswer, AnswerError> {
        let query = retrieval_query(history, question);
        let search_query = query.clone();
        let top_k = options.top_k;
        let retrieval_started = std::time::Instant::now();
        let image_bytes: Vec<Vec<u8>> = images.iter().map(|image| image.bytes.clone()).collect();
        let hits = match &self.knowledge_base {
            Some(knowledge_base) => {
                let knowledge_base = Arc::clone(knowledge_base);
                tokio::task::spawn_blocking(move || {
                    // Decoding is wasted work unless the knowledge base has image vectors.
                    let query_images = if knowledge_base.image_encoder().is_some() {
                        decode_query_images(&image_bytes)
                    } else {
                        Vec::new()
                    };
                    let options = knowledge_base.search_options;
                    knowledge_base.search_with_images(&search_query, &query_images, top_k, &options)
                })
                .await
                .context("retrieval task panicked")
                .and_then(|result| result)
                .map_err(AnswerError::Retrieval)?
            }
            None => Vec::new(),
        };
        let retrieval_time = retrieval_started.elapsed();
        let hits = if self.covers_question(&query, &hits, options) {
            hits
        } else {
            tracing::info!(results = hits.len(), "no result covers the question; answering without sources");
            Vec::new()
        };

        let mut sources: Vec<Source> = merge_same_place(hits)
            .into_iter()
            .enumerate()
            .map(|(index, hit)| Source { number: index + 1, hit, image_seen: false })
            .collect();
        let source_image_limit = options.max_source_images.unwrap_or(if self.engine.is_multimodal() { 2 } else { 0 });
        if self.engine.accepts_images() {
            for source in sources.iter_mut().filter(|source| source.is_image()).take(source_image_limit) {
                source.image_seen = true;
            }
        }
        let image_count = images.len() + sources.iter().filter(|source| source.image_seen).count();
        let (mut messages, mut sources) =
            self.fit_prompt(history, question, sources, client_system, image_count, options).await?;

        let mut all_images = images;
        all_images.extend(self.load_source_images(&mut sources, options.max_source_image_pixels).await);
        if let Some(last) = messages.last_mut() {
            last.images = all_images;
        }
        let events = self.engine.stream_chat(messages, options.generation.clone()).await?;
        Ok(PendingAnswer { sources, events, retrieval_time })
    }

    /// Tells whether any result covers the question, so that a question the manuals do not
    /// cover gets no sources and its prompt states that no passage matches. The full-text
    /// ranking always returns something, so the presence of results proves nothing. A result counts when
    /// its vector is similar enough to the question's, or when it contains enough of the
    /// question's words (exact codes and names, which sentence vectors miss).
    fn covers_question(&self, query: &str, hits: &[SearchHit], options: &AnswerOptions) -> bool {
        if hits.is_empty() {
            return true;
        }
        // NOTE: a Chinese question is judged only by the Latin-script names it contains. The
        // default encoder reads English only, and word coverage alone did not separate covered
        // from uncovered Chinese questions on the corpus.
        // A counterpart covers the question when the result that brought it does.
        let mut with_sources = hits.iter().flat_map(|hit| std::iter::once(hit).chain(hit.counterpart_of.as_deref()));
        if crate::rag::text::contains_cjk(query) {
            return with_sources
                .any(|hit| crate::rag::analyzer::latin_names_found(query, &format!("{}\n{}", hit.heading, hit.text)));
        }
        if self.knowledge_base.as_ref().is_none_or(|knowledge_base| knowledge_base.text_encoder().is_none()) {
            return true;
        }
        with_sources.any(|hit| {
            hit.similarity.is_some_and(|similarity| similarity >= options.min_answer_similarity)
                || crate::rag::analyzer::query_coverage(query, &format!("{}\n{}", hit.heading, hit.text)) >= options.min_answer_coverage
        })
    }

    /// Reads the images of the sources marked `image_seen`, in source order, downscaled to
    /// at most `max_pixels`. An image that cannot be read is logged, and its source is
    /// given to the model as its caption alone.
    async fn load_source_images(&self, sources: &mut [Source], max_pixels: u64) -> Vec<InputImage> {
        let mut images = Vec::new();
        // Sources come from the knowledge base, so without one there are none.
        let Some(knowledge_base) = &self.knowledge_base else {
            return images;
        };
        for source in sources.iter_mut().filter(|source| source.image_seen) {
            let Some(id) = source.hit.image.clone() else { continue };
            let path = knowledge_base.images_dir().join(format!("{id}.png"));
            let loaded = tokio::task::spawn_blocking(move || read_source_image(&path, max_pixels)).await;
            match loaded {
                Ok(Ok(image)) => images.push(image),
                Ok(Err(error)) => {
                    tracing::warn!(image = %id, error = %format!("{error:#}"), "could not read a source image; sending its caption only");
                    source.image_seen = false;
                }
                Err(error) => {
                    tracing::warn!(image = %id, %error, "reading a source image panicked; sending its caption only");
                    source.image_seen = false;
                }
            }
        }
        images
    }

    /// Builds the prompt and shrinks it until the engine's tokenizer counts at most
    /// `max_prompt_tokens` (and leaves room for the answer in the context): first the
    /// lowest-ranked sources go, down to the best one, then the oldest turns, then the best
    /// source is shortened. `image_count` images go with the prompt, each taking the tokens
    /// the engine estimates for one. Engines that cannot count get the prompt as built.
    async fn fit_prompt(
        &self,
        history: &[Turn],
        question: &str,
        mut sources: Vec<Source>,
        client_system: Option<&str>,
        image_count: usize,
        options: &AnswerOptions,
    ) -> Result<(Vec<ChatMessage>, Vec<Source>), AnswerError> {
        /// Shortest text the best source is cut to before giving up on the budget.
        const MIN_SOURCE_CHARS: usize = 200;
        /// The same for Chinese, Japanese or Korean text, which carries as much meaning in fewer
        /// characters and takes several tokens per character in tokenizers such as SmolLM2's.
        const MIN_SOURCE_CHARS_CJK: usize = 100;

        let mut budget = options.max_prompt_tokens;
        if let Some(context_length) = self.engine.context_length() {
            budget = budget.min(context_length.saturating_sub(options.generation.max_tokens));
        }
        let image_tokens = image_count * self.engine.image_prompt_tokens().unwrap_or(0);
        let mut first_turn = history.len().saturating_sub(options.max_history_turns);
        let mut source_chars = options.max_source_chars;
        loop {
            let mut fitted = options.clone();
            fitted.max_source_chars = source_chars;
            let messages = build_messages(&history[first_turn..], question, &sources, client_system, &fitted)
                .map_err(AnswerError::Retrieval)?;
            let Some(text_tokens) = self.engine.count_tokens(&messages).await? else {
                return Ok((messages, sources));
            };
            let tokens = text_tokens + image_tokens;
            let best_text = sources.first().map_or("", |source| source.hit.text.as_str());
            let best_source_chars = best_text.chars().count().min(source_chars);
            let min_chars =
                if crate::rag::text::contains_cjk(best_text) { MIN_SOURCE_CHARS_CJK } else { MIN_SOURCE_CHARS };
            if tokens <= budget {
                return Ok((messages, sources));
            } else if sources.len() > 1 {
                sources.pop();
            } else if first_turn < history.len() {
                first_turn += 1;
            } else if best_source_chars > min_chars {
                source_chars = (best_source_chars * 2 / 3).max(min_chars);
            } else {
                // Nothing left to drop: the engine rejects the prompt if it exceeds the context.
                tracing::debug!(tokens, budget, "prompt stays over the token budget");
                return Ok((messages, sources));
            }
        }
    }
}

/// Builds the conversation sent to the engine: the system prompt in the question's
/// language, the latest turns of history, and the question with its numbered sources.
pub fn build_messages(
    history: &[Turn],
    question: &str,
    sources: &[Source],
    client_system: Option<&str>,
    options: &AnswerOptions,
) -> Result<Vec<ChatMessage>> {
    let language = Language::of_text(question);
    let (system_template, question_template) = match language {
        Language::En => (SYSTEM_EN, QUESTION_EN),
        Language::Zh => (SYSTEM_ZH, QUESTION_ZH),
    };

    let mut system = system_template.trim().to_string();
    if let Some(extra) = client_system.filter(|extra| !extra.trim().is_empty()) {
        system.push_str("\n\n");
        system.push_str(extra.trim());
    }

    let mut messages = vec![ChatMessage::new(Role::System, system)];
    let kept_turns = history.len().saturating_sub(options.max_history_turns);
    for turn in &history[kept_turns..] {
        messages.push(ChatMessage::new(Role::User, turn.question.clone()));
        messages.push(ChatMessage::new(Role::Assistant, turn.answer.clone()));
    }

    let per_source_chars = options.max_source_chars / sources.len().max(1);
    let rendered_sources: Vec<_> = sources
        .iter()
        .map(|source| {
            context! {
                number => source.number,
                label => source.label(),
                image_attached => source.image_seen,
                text => truncate_chars(&source.hit.text, per_source_chars),
            }
        })
        .collect();
    let mut environment = Environment::new();
    environment.set_keep_trailing_newline(false);
    let prompt = environment
        .render_str(question_template, context! { sources => rendered_sources, question => question.trim() })
        .context("could not render the question prompt template")?;
    messages.push(ChatMessage::new(Role::User, prompt));
    Ok(messages)
}

/// Questions with at most this many content words can be follow-ups.
const FOLLOW_UP_MAX_TERMS: usize = 6;

/// English words that point back to an earlier turn.
const REFERRING_WORDS: [&str; 12] = ["it", "its", "this", "that", "these", "those", "they", "them", "there", "then", "also", "and"];

/// Chinese words that point back to an earlier turn; matched as substrings.
const REFERRING_WORDS_ZH: [&str; 7] = ["它", "这", "那", "其", "该", "此", "还"];

/// Decodes the question's images for the image retriever. An image that does not decode is
/// left out of retrieval with a warning; the engine reports it when it reads the image.
fn decode_query_images(images: &[Vec<u8>]) -> Vec<image::RgbImage> {
    images
        .iter()
        .filter_map(|bytes| match image::load_from_memory(bytes) {
            Ok(image) => Some(crate::rag::clip::flatten_on_white(&image)),
            Err(error) => {
                tracing::warn!("a question image is left out of retrieval: {error}");
                None
            }
        })
        .collect()
}

/// Returns the text to search for. A short follow-up that points back ("And how do I stop
/// it?") has too few words of its own to find anything, so the previous question is
/// searched with it. A short question that does not point back starts a new topic.
fn retrieval_query(history: &[Turn], question: &str) -> String {
    let Some(previous) = history.last() else {
        return question.to_string();
    };
    let normalized = crate::rag::text::normalize(question);
    if crate::rag::analyzer::content_term_count(&normalized) > FOLLOW_UP_MAX_TERMS {
        return question.to_string();
    }
    let lowercase = normalized.to_lowercase();
    let points_back = lowercase
        .split(|c: char| !c.is_alphanumeric())
        .any(|word| REFERRING_WORDS.contains(&word))
        || REFERRING_WORDS_ZH.iter().any(|word| normalized.contains(word));
    if !points_back {
        return question.to_string();
    }
    format!("{} {}", previous.question, question)
}

/// Merges text results from the same document, pages and heading into one source, in rank
/// order, so that a citation like `[1] manual.pdf, p. 6` is never listed twice, and drops a
/// passage whose text an earlier result already has. Images stay sources of their own.
fn merge_same_place(hits: Vec<SearchHit>) -> Vec<SearchHit> {
    let mut merged: Vec<SearchHit> = Vec::with_capacity(hits.len());
    for hit in hits {
        // A copy of a file adds the same passage again; the first place cited is enough.
        let repeated = hit.image.is_none() && merged.iter().any(|existing| existing.image.is_none() && existing.text == hit.text);
        if repeated {
            continue;
        }
        let same_place = merged
            .iter_mut()
            .filter(|existing| existing.image.is_none() && hit.image.is_none())
            .find(|existing| existing.doc == hit.doc && existing.pages == hit.pages && existing.heading == hit.heading);
        match same_place {
            Some(existing) => {
                existing.text.push_str("\n…\n");
                existing.text.push_str(&hit.text);
            }
            None => merged.push(hit),
        }
    }
    merged
}

/// Reads a stored source image (a PNG) and downscales it to at most `max_pixels`.
fn read_source_image(path: &std::path::Path, max_pixels: u64) -> Result<InputImage> {
    let bytes = std::fs::read(path).with_context(|| format!("could not read `{}`", path.display()))?;
    let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .with_context(|| format!("`{}` is not a readable PNG", path.display()))?;
    let pixels = u64::from(image.width()) * u64::from(image.height());
    if pixels <= max_pixels {
        return Ok(InputImage { media_type: "image/png".into(), bytes });
    }
    let scale = (max_pixels as f64 / pixels as f64).sqrt();
    let width = ((f64::from(image.width()) * scale).floor() as u32).max(1);
    let height = ((f64::from(image.height()) * scale).floor() as u32).max(1);
    let resized = image.resize_exact(width, height, image::imageops::FilterType::Triangle);
    let mut png = Vec::new();
    resized
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .context("could not encode the downscaled image")?;
    Ok(InputImage { media_type: "image/png".into(), bytes: png })
}

fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((byte_index, _)) => format!("{}…", &text[..byte_index]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::HitKind;

    fn source(number: usize, doc: &str, pages: &[u32], text: &str) -> Source {
        let hit = SearchHit { kind: HitKind::Text, doc: doc.into(), pages: pages.to_vec(), score: 1.0, text: text.into(), heading: String::new(), image: None, retrievers: Vec::new(), similarity: None, image_similarity: None, chars: None, key: Default::default(), counterpart_of: None };
        Source { number, hit, image_seen: false }
    }

    #[test]
    fn prompt_numbers_sources_and_keeps_question() {
        let sources = [source(1, "a.pdf", &[3], "Press the red button."), source(2, "b.md", &[], "Other text.")];
        let messages = build_messages(&[], "How do I stop it?", &sources, None, &AnswerOptions::default()).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].role, Role::System);
        let prompt = &messages[1].content;
        assert!(prompt.contains("[1] a.pdf, p. 3"), "{prompt}");
        assert!(prompt.contains("Press the red button."), "{prompt}");
        assert!(prompt.contains("[2] b.md"), "{prompt}");
        assert!(prompt.contains("\nQuestion: How do I stop it?\n"), "{prompt}");
        assert!(prompt.ends_with("\nAnswer in English."), "{prompt}");
    }

    #[test]
    fn chinese_question_gets_chinese_prompt() {
        let messages = build_messages(&[], "如何启动服务？", &[], None, &AnswerOptions::default()).unwrap();
        assert!(messages[0].content.contains("简体中文"));
        assert!(messages[1].content.contains("手册中没有与这个问题相关的段落"), "{}", messages[1].content);
        assert!(messages[1].content.contains("\n问题：如何启动服务？\n"), "{}", messages[1].content);
        assert!(messages[1].content.ends_with("\n请用简体中文回答。"), "{}", messages[1].content);
    }

    #[test]
    fn history_is_cut_to_latest_turns() {
        let history: Vec<Turn> = (0..5).map(|i| Turn { question: format!("q{i}"), answer: format!("a{i}") }).collect();
        let options = AnswerOptions { max_history_turns: 2, ..AnswerOptions::default() };
        let messages = build_messages(&history, "next", &[], Some("Be formal."), &options).unwrap();
        let contents: Vec<&str> = messages.iter().map(|message| message.content.as_str()).collect();
        assert_eq!(&contents[1..5], ["q3", "a3", "q4", "a4"]);
        assert!(contents[0].ends_with("Be formal."));
    }

    #[test]
    fn short_follow_up_searches_with_previous_question() {
        let history = [Turn { question: "如何启动 API 服务？".into(), answer: "运行 docent serve。".into() }];
        assert_eq!(retrieval_query(&history, "And how do I stop it?"), "如何启动 API 服务？ And how do I stop it?");
        assert_eq!(retrieval_query(&history, "它默认监听哪个地址？"), "如何启动 API 服务？ 它默认监听哪个地址？");
        let full = "Which chunk size does the ingest command use for Markdown and text files by default?";
        assert_eq!(retrieval_query(&history, full), full);
        assert_eq!(retrieval_query(&history, "如何导入一个文件夹？"), "如何导入一个文件夹？", "a new topic");
        assert_eq!(retrieval_query(&[], "stop it?"), "stop it?");
    }

    #[test]
    fn same_page_results_merge() {
        let hits = vec![
            source(1, "a.pdf", &[6], "first part").hit,
            source(2, "b.pdf", &[6], "other file").hit,
            source(3, "a.pdf", &[6], "second part").hit,
        ];
        let merged = merge_same_place(hits);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].text, "first part\n…\nsecond part");
        assert_eq!(merged[1].doc, "b.pdf");
    }

    #[test]
    fn copied_passages_cited_once() {
        let hits = vec![
            source(1, "guide.md", &[], "Press the red button.").hit,
            source(2, "guide-copy.md", &[], "Press the red button.").hit,
            source(3, "other.md", &[], "Other text.").hit,
        ];
        let merged = merge_same_place(hits);
        let docs: Vec<&str> = merged.iter().map(|hit| hit.doc.as_str()).collect();
        assert_eq!(docs, ["guide.md", "other.md"]);
    }

    #[test]
    fn sources_are_cut_to_budget() {
        let long_text = "x".repeat(5_000);
        let sources = [source(1, "a.txt", &[], &long_text)];
        let options = AnswerOptions { max_source_chars: 100, ..AnswerOptions::default() };
        let messages = build_messages(&[], "q", &sources, None, &options).unwrap();
        assert!(messages[1].content.contains(&format!("{}…", "x".repeat(100))));
        assert!(!messages[1].content.contains(&"x".repeat(101)));
    }
}
