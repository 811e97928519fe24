//! The full-text index: one tantivy document per chunk, stored on disk in the knowledge base.

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, INDEXED, STORED, STRING,
};
use tantivy::{doc, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::analyzer::{build_analyzer, terms, ANALYZER_NAME};
use super::chunk::Chunk;
use super::dense::ChunkKey;
use super::text::normalize;

/// Memory the index writer may buffer before flushing a segment.
const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// Queries longer than this are cut before analysis; no useful question is longer, and
/// it bounds the number of term queries one request can build.
const MAX_QUERY_CHARS: usize = 2_000;

/// Function words left out of full-text queries, in Chinese and English. A long question
/// otherwise favours long passages that share many of them (的, 是, 什么, the, what) over the
/// passage that shares its content words. A query of nothing but these words keeps them. On
/// the development set, leaving them out raised hit@5 from 0.750 to 0.817 overall and from
/// 0.643 to 0.857 for questions in Chinese.
const QUERY_STOP_WORDS: &[&str] = &[
    "的", "了", "是", "在", "中", "和", "与", "或", "吗", "呢", "吧", "什么", "哪", "哪个", "哪些", "哪一种",
    "哪种", "如何", "怎么", "怎样", "为什么", "可以", "应该", "需要", "一个", "这个", "那个", "我", "我们", "你",
    "要", "会", "能", "有", "把", "被", "对", "时", "上", "下", "多", "多少", "根据", "按照", "请问", "the", "a",
    "an", "of", "to", "in", "on", "for", "and", "or", "is", "are", "was", "be", "do", "does", "did", "what",
    "which", "how", "when", "where", "who", "why", "with", "by", "from", "at", "as", "it", "its", "this", "that",
    "i", "my", "me", "we", "you", "your", "can", "could", "should", "would", "will", "there", "their", "they",
    "them", "about", "into", "than", "then", "so",
];

/// Returns [`QUERY_STOP_WORDS`] as the analyzer turns them into terms, so that they match the
/// query's stems.
fn stop_terms() -> &'static HashSet<String> {
    static STOP_TERMS: OnceLock<HashSet<String>> = OnceLock::new();
    STOP_TERMS.get_or_init(|| terms(&mut build_analyzer(), &QUERY_STOP_WORDS.join(" ")).into_iter().collect())
}

/// Words people use for a picture. They are indexed with every image's text, so that a
/// question about a screenshot or figure favours images over passages that share its other
/// words. On the development set they raised figure questions' hit@1 from 0.286 to 0.571.
const PICTURE_WORDS: &str = "image picture figure screenshot diagram photo illustration 图 图中 图片 图像 截图 插图 示意图 照片 画面";

/// Returns the text a chunk is searched by: its text, plus [`PICTURE_WORDS`] for an image and
/// the last title of its heading path for a passage.
fn indexed_text(chunk: &Chunk) -> String {
    let text = normalize(&chunk.text);
    if chunk.image.is_some() {
        return format!("{text}\n{PICTURE_WORDS}");
    }
    // The last title of the heading path is indexed as words of the text. Both other ways
    // scored lower: the whole path gives every passage of a chapter the chapter's words, and
    // a field of its own ranks short sections by the words of their titles alone.
    let title = normalize(chunk.heading.rsplit(" > ").next().unwrap_or_default());
    let first_line = text.lines().find(|line| !line.trim().is_empty()).unwrap_or_default();
    if title.is_empty() || first_line.ends_with(&title) {
        text
    } else {
        format!("{title}\n{text}")
    }
}

/// Kind of a search result: a passage of text, or an image found by its caption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    Text,
    Image,
}

/// A retriever that found a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Retriever {
    /// BM25 over the tantivy index.
    FullText,
    /// Nearest neighbours of the query's text vector.
    Dense,
    /// Nearest images to the query's text in the image encoder's space (CLIP).
    Image,
    /// The passage in the language that a question requests ("the Chinese edition") that
    /// shares the most section numbers, commands and acronyms with a result in another language.
    Counterpart,
}

/// One search result, as printed by `docent search --json`. `score` is the retriever's own
/// score for a single retriever and the fused score when several ran.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub kind: HitKind,
    pub doc: String,
    pub pages: Vec<u32>,
    pub score: f32,
    pub text: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub heading: String,
    /// Id of the image of an image result: `images/ID.png` in the knowledge base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub retrievers: Vec<Retriever>,
    /// Cosine similarity of the chunk's vector to the query's, when the dense retriever
    /// found the chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// Cosine similarity of the image's vector to the query's text vector in the image
    /// encoder's space, when the image retriever found the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_similarity: Option<f32>,
    /// Range of characters (Unicode scalar values) of the page's extracted text that the
    /// passage covers, start inclusive and end exclusive; absent for images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chars: Option<[u64; 2]>,
    #[serde(skip)]
    pub key: ChunkKey,
    /// For a counterpart, the result in the other language that brought it. What makes that
    /// result cover a question makes its counterpart cover it too.
    #[serde(skip)]
    pub counterpart_of: Option<Box<SearchHit>>,
}

#[derive(Clone, Copy)]
struct Fields {
    doc_id: Field,
    ordinal: Field,
    image: Field,
    doc: Field,
    pages: Field,
    heading: Field,
    text: Field,
    text_folded: Field,
    /// Absent in indexes made before chunks recorded their character ranges.
    chars: Option<Field>,
}

/// A tantivy index of chunks, opened for reading and, through [`TextIndex::writer`], writing.
pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl TextIndex {
    /// Opens the index in `dir`, creating it if the folder is empty or missing.
    pub fn open_or_create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("could not create index folder `{}`", dir.display()))?;
        let schema = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .with_context(|| format!("could not open index folder `{}`", dir.display()))?;
        // An existing index keeps its own schema: one made before the `chars` field was added
        // still opens, and its chunks have no character ranges.
        let exists = Index::exists(&directory).with_context(|| format!("could not read the index folder `{}`", dir.display()))?;
        let opened = if exists { Index::open(directory) } else { Index::create(directory, schema, IndexSettings::default()) };
        let index = opened.with_context(|| format!("could not open the index in `{}`", dir.display()))?;
        Self::from_index(index)
    }

    fn from_index(index: Index) -> Result<Self> {
        index.tokenizers().register(ANALYZER_NAME, build_analyzer());
        let schema = index.schema();
        let field = |name: &str| schema.get_field(name).with_context(|| {
            format!(
                "the index has no field `{name}` because an older version of docent made it: \
                 delete it with `docent kb remove NAME` and ingest the files again"
            )
        });
        let fields = Fields {
            doc_id: field("doc_id")?,
            ordinal: field("ordinal")?,
            image: field("image")?,
            doc: field("doc")?,
            pages: field("pages")?,
            heading: field("heading")?,
            text: field("text")?,
            text_folded: field("text_folded")?,
            chars: schema.get_field("chars").ok(),
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .context("could not open an index reader")?;
        Ok(Self { index, reader, fields })
    }

    /// Takes the index's single writer lock; fails if another process is ingesting.
    pub fn writer(&self) -> Result<IndexWriter> {
        self.index.writer(WRITER_MEMORY_BYTES).map_err(|error| match error {
            tantivy::TantivyError::LockFailure(..) => anyhow::anyhow!(
                "another `docent ingest` is writing to this knowledge base: wait for it to finish"
            ),
            other => anyhow::Error::new(other).context("could not open the index for writing"),
        })
    }

    /// Queues the removal of every chunk of a document; takes effect at the next commit.
    pub fn delete_document(&self, writer: &IndexWriter, doc_id: &str) {
        writer.delete_term(Term::from_field_text(self.fields.doc_id, doc_id));
    }

    /// Queues the chunks of a document; they become searchable at the next commit.
    pub fn add_chunks(&self, writer: &IndexWriter, doc_id: &str, display_path: &str, chunks: &[Chunk]) -> Result<()> {
        let fields = self.fields;
        for (ordinal, chunk) in chunks.iter().enumerate() {
            let mut document = doc!(
                fields.doc_id => doc_id,
                fields.ordinal => ordinal as u64,
                fields.doc => display_path,
                fields.heading => chunk.heading.as_str(),
                fields.text => chunk.text.as_str(),
                fields.text_folded => indexed_text(chunk),
            );
            for page in &chunk.pages {
                document.add_u64(fields.pages, u64::from(*page));
            }
            if let Some(image) = &chunk.image {
                document.add_text(fields.image, image);
            }
            if let (Some(field), Some(range)) = (fields.chars, &chunk.chars) {
                document.add_u64(field, range.start as u64);
                document.add_u64(field, range.end as u64);
            }
            writer.add_document(document).context("could not add a chunk to the index")?;
        }
        Ok(())
    }

    /// Makes the reader see the latest commit now rather than after the reload delay.
    pub fn refresh(&self) -> Result<()> {
        self.reader.reload().context("could not reload the index")
    }

    /// Finds the `top_k` chunks that best match a free-text query (BM25).
    ///
    /// The query is never parsed as tantivy query syntax: it goes through the same analyzer
    /// as the indexed text and every resulting term becomes an optional clause, so quotes,
    /// colons, `field:` prefixes or a lone `-` cannot make it fail. A query without words
    /// returns no results.
    pub fn search(&self, query: &str, top_k: usize) -> Result<Vec<SearchHit>> {
        let query_text: String = normalize(query).chars().take(MAX_QUERY_CHARS).collect();
        let mut analyzer = build_analyzer();
        let mut query_terms = terms(&mut analyzer, &query_text);
        query_terms.sort();
        query_terms.dedup();
        let content_terms: Vec<String> = query_terms.iter().filter(|term| !stop_terms().contains(*term)).cloned().collect();
        if !content_terms.is_empty() {
            query_terms = content_terms;
        }
        if query_terms.is_empty() || top_k == 0 {
            return Ok(Vec::new());
        }

        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(query_terms.len());
        for term in &query_terms {
            let text_term = Term::from_field_text(self.fields.text_folded, term);
            clauses.push((Occur::Should, Box::new(TermQuery::new(text_term, IndexRecordOption::WithFreqs))));
        }
        let query = BooleanQuery::new(clauses);

        let searcher = self.reader.searcher();
        let top_docs = searcher
            .search(&query, &TopDocs::with_limit(top_k).order_by_score())
            .context("search failed")?;

        let mut hits = Vec::with_capacity(top_docs.len());
        for (score, address) in top_docs {
            let document: TantivyDocument = searcher.doc(address).context("could not read a stored chunk")?;
            hits.push(self.to_hit(&document, score, Retriever::FullText));
        }
        Ok(hits)
    }

    /// Returns the text of up to `max_chunks` chunks of a document, joined by blank lines.
    pub fn document_text(&self, doc_id: &str, max_chunks: usize) -> Result<String> {
        let doc_term = Term::from_field_text(self.fields.doc_id, doc_id);
        let query = TermQuery::new(doc_term, IndexRecordOption::Basic);
        let searcher = self.reader.searcher();
        let found = searcher
            .search(&query, &TopDocs::with_limit(max_chunks).order_by_score())
            .context("document lookup failed")?;
        let mut texts = Vec::with_capacity(found.len());
        for (_, address) in found {
            let document: TantivyDocument = searcher.doc(address).context("could not read a stored chunk")?;
            texts.push(document.get_first(self.fields.text).and_then(|value| value.as_str()).unwrap_or_default().to_string());
        }
        Ok(texts.join("\n\n"))
    }

    /// Reads one chunk by its key, for results that another retriever found; `None` if the
    /// chunk is gone (its document was re-ingested or removed since).
    pub fn chunk(&self, key: &ChunkKey, score: f32, retriever: Retriever) -> Result<Option<SearchHit>> {
        let doc_term = Term::from_field_text(self.fields.doc_id, &key.doc_id);
        let ordinal_term = Term::from_field_u64(self.fields.ordinal, u64::from(key.ordinal));
        let query = BooleanQuery::new(vec![
            (Occur::Must, Box::new(TermQuery::new(doc_term, IndexRecordOption::Basic)) as Box<dyn Query>),
            (Occur::Must, Box::new(TermQuery::new(ordinal_term, IndexRecordOption::Basic))),
        ]);
        let searcher = self.reader.searcher();
        let found = searcher
            .search(&query, &TopDocs::with_limit(1).order_by_score())
            .context("chunk lookup failed")?;
        let Some((_, address)) = found.into_iter().next() else {
            return Ok(None);
        };
        let document: TantivyDocument = searcher.doc(address).context("could not read a stored chunk")?;
        Ok(Some(self.to_hit(&document, score, retriever)))
    }

    fn to_hit(&self, document: &TantivyDocument, score: f32, retriever: Retriever) -> SearchHit {
        let text_of = |field: Field| {
            document.get_first(field).and_then(|value| value.as_str()).unwrap_or_default().to_string()
        };
        let pages = document
            .get_all(self.fields.pages)
            .filter_map(|value| value.as_u64())
            .map(|page| page as u32)
            .collect();
        let ordinal = document.get_first(self.fields.ordinal).and_then(|value| value.as_u64()).unwrap_or_default();
        let image = Some(text_of(self.fields.image)).filter(|image| !image.is_empty());
        let chars = self.fields.chars.and_then(|field| {
            let bounds: Vec<u64> = document.get_all(field).filter_map(|value| value.as_u64()).collect();
            match bounds[..] {
                [start, end] => Some([start, end]),
                _ => None,
            }
        });
        SearchHit {
            kind: if image.is_some() { HitKind::Image } else { HitKind::Text },
            image,
            doc: text_of(self.fields.doc),
            pages,
            score,
            text: text_of(self.fields.text),
            heading: text_of(self.fields.heading),
            retrievers: vec![retriever],
            similarity: None,
            image_similarity: None,
            chars,
            key: ChunkKey { doc_id: text_of(self.fields.doc_id), ordinal: ordinal as u32 },
            counterpart_of: None,
        }
    }

    /// Returns the number of chunks visible to searches.
    pub fn chunk_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

fn schema() -> Schema {
    let mut builder = Schema::builder();
    builder.add_text_field("doc_id", STRING | STORED);
    // Position of the chunk in its document, which keys its vector in the catalog.
    builder.add_u64_field("ordinal", INDEXED | STORED);
    builder.add_text_field("image", STORED);
    builder.add_text_field("doc", STORED);
    builder.add_u64_field("pages", STORED);
    // The chunk's range of characters in its page text: start, then end.
    builder.add_u64_field("chars", STORED);
    // The analyzed fields index the NFKC-folded text; `heading` and `text` store it as
    // extracted, for display.
    let indexed_only = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER_NAME)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    builder.add_text_field("heading", STORED);
    builder.add_text_field("text", STORED);
    builder.add_text_field("text_folded", indexed_only);
    builder.build()
}
