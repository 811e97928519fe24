//! Retrieval-augmented generation's retrieval half: extraction, chunking, the catalog,
//! the full-text index, ingest and evaluation.
//!
//! Full text is the only retriever so far. Dense text vectors and image vectors are meant
//! to sit beside it as further retrievers, with their results fused.

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
