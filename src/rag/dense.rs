//! Dense retrieval: chunk vectors from the catalog in an in-memory HNSW graph (hnsw_rs),
//! rebuilt when the catalog's vectors change.

use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use hnsw_rs::prelude::{DistCosine, Hnsw};

use super::catalog::Catalog;

/// Graph degree and construction breadth: hnsw_rs's usual settings, which give near-exact
/// recall at the sizes of a manual collection (thousands to a few hundred thousand chunks).
const MAX_CONNECTIONS: usize = 16;
const MAX_LAYERS: usize = 16;
const EF_CONSTRUCTION: usize = 200;
const MIN_EF_SEARCH: usize = 64;

/// A chunk's identity across the full-text and dense indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ChunkKey {
    pub doc_id: String,
    pub ordinal: u32,
}

struct Graph {
    generation: i64,
    dimension: usize,
    hnsw: Hnsw<'static, f32, DistCosine>,
    keys: Vec<ChunkKey>,
}

/// Nearest-neighbour search over a knowledge base's chunk vectors.
#[derive(Default)]
pub struct DenseIndex {
    graph: Mutex<Option<Arc<Graph>>>,
}

impl DenseIndex {
    /// Returns up to `top_k` chunks closest to `query` with their cosine similarity, best
    /// first. The graph is built on first use and again whenever an ingest has changed the
    /// vectors since, so a running server also searches newly ingested documents.
    pub fn search(&self, catalog: &Catalog, query: &[f32], top_k: usize) -> Result<Vec<(ChunkKey, f32)>> {
        let graph = self.current_graph(catalog)?;
        if graph.keys.is_empty() || top_k == 0 {
            return Ok(Vec::new());
        }
        if query.len() != graph.dimension {
            bail!(
                "the query vector has {} dimensions but the knowledge base's vectors have {}: \
                 the text encoder differs from the one used at ingest",
                query.len(),
                graph.dimension
            );
        }
        let neighbours = graph.hnsw.search(query, top_k, top_k.max(MIN_EF_SEARCH));
        Ok(neighbours
            .into_iter()
            .map(|neighbour| (graph.keys[neighbour.d_id].clone(), 1.0 - neighbour.distance))
            .collect())
    }

    fn current_graph(&self, catalog: &Catalog) -> Result<Arc<Graph>> {
        let generation = catalog.vector_generation()?;
        let mut slot = self.graph.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(graph) = slot.as_ref() {
            if graph.generation == generation {
                return Ok(Arc::clone(graph));
            }
        }
        let started = std::time::Instant::now();
        let graph = Arc::new(build_graph(generation, catalog.load_vectors()?));
        tracing::debug!(vectors = graph.keys.len(), elapsed = ?started.elapsed(), "built the vector index");
        *slot = Some(Arc::clone(&graph));
        Ok(graph)
    }
}

fn build_graph(generation: i64, rows: Vec<(String, u32, Vec<f32>)>) -> Graph {
    let dimension = rows.first().map_or(0, |(_, _, vector)| vector.len());
    let hnsw = Hnsw::new(MAX_CONNECTIONS, rows.len().max(1), MAX_LAYERS, EF_CONSTRUCTION, DistCosine);
    let mut keys = Vec::with_capacity(rows.len());
    let mut vectors = Vec::with_capacity(rows.len());
    for (doc_id, ordinal, vector) in rows {
        if vector.len() != dimension {
            tracing::warn!(doc_id, ordinal, "skipped a chunk vector of the wrong length");
            continue;
        }
        keys.push(ChunkKey { doc_id, ordinal });
        vectors.push(vector);
    }
    let items: Vec<(&Vec<f32>, usize)> = vectors.iter().zip(0..).collect();
    hnsw.parallel_insert(&items);
    let mut hnsw = hnsw;
    hnsw.set_searching_mode(true);
    Graph { generation, dimension, hnsw, keys }
}
