//! Retrieval-augmented generation's retrieval half: extraction, chunking, the catalog,
//! the full-text index, ingest and evaluation.
//!
//! Dense text vectors and image vectors are meant to sit beside the full-text index as
//! further retrievers whose results are fused; today full text is the only retriever.

pub mod analyzer;
pub mod catalog;
pub mod chunk;
pub mod eval;
pub mod extract;
pub mod index;
pub mod ingest;
pub mod knowledge_base;
pub mod text;

pub use index::{HitKind, SearchHit};
pub use knowledge_base::{list_knowledge_bases, KnowledgeBase};
