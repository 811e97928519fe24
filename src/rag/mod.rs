//! Retrieval-augmented generation's retrieval half: extraction, chunking, the catalog,
//! the full-text, dense and image indexes, their fusion, ingest and evaluation.

pub mod analyzer;
pub mod catalog;
pub mod chunk;
pub mod clip;
pub mod dense;
pub mod edition;
pub mod embed;
pub mod eval;
pub mod extract;
pub mod index;
pub mod ingest;
pub mod knowledge_base;
pub mod layout;
pub mod outline;
mod running_lines;
pub mod text;
pub mod vector_cache;

pub use index::{HitKind, Retriever, SearchHit};
pub use knowledge_base::{
    list_knowledge_bases, load_image_encoder, load_text_encoder, similar_knowledge_base, KnowledgeBase, SearchOptions,
};
