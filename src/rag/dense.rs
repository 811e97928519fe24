//! Dense retrieval: chunk or image vectors from the catalog in an HNSW graph (hnsw_rs), saved
//! in a folder of the knowledge base and rebuilt when the catalog's vectors change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use hnsw_rs::api::AnnT;
use hnsw_rs::hnswio::HnswIo;
use hnsw_rs::prelude::{DistCosine, Hnsw};

use super::catalog::{Catalog, VectorSource};

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

/// Nearest-neighbour search over one kind of a knowledge base's vectors.
pub struct DenseIndex {
    /// Folder of the saved graphs, one per vector generation.
    dir: PathBuf,
    source: VectorSource,
    graph: Mutex<Option<Arc<Graph>>>,
}

impl DenseIndex {
    pub fn new(dir: PathBuf, source: VectorSource) -> Self {
        Self { dir, source, graph: Mutex::new(None) }
    }

    /// Builds and saves the graph for the catalog's current vectors unless it is saved
    /// already, so that searches in later processes only load it.
    pub fn prepare(&self, catalog: &Catalog) -> Result<()> {
        self.current_graph(catalog).map(|_| ())
    }

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
                 the encoder differs from the one used at ingest",
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
        let graph = match load_graph(&self.dir, generation) {
            Ok(Some(graph)) => graph,
            loaded => {
                if let Err(error) = loaded {
                    tracing::warn!("rebuilding the vector index: the saved one could not be read: {error:#}");
                }
                let graph = build_graph(generation, catalog.load_vectors(self.source)?);
                if let Err(error) = save_graph(&self.dir, &graph) {
                    tracing::warn!("could not save the vector index in `{}`: {error:#}", self.dir.display());
                }
                graph
            }
        };
        tracing::debug!(vectors = graph.keys.len(), elapsed = ?started.elapsed(), "opened the vector index");
        let graph = Arc::new(graph);
        *slot = Some(Arc::clone(&graph));
        Ok(graph)
    }
}

fn graph_basename(generation: i64) -> String {
    format!("graph-{generation}")
}

/// Saves the graph as hnsw_rs's two dump files plus the chunk keys in graph order. The keys
/// file is renamed into place last, so a graph counts as saved only once it is complete.
fn save_graph(dir: &Path, graph: &Graph) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let basename = graph_basename(graph.generation);
    if !graph.keys.is_empty() {
        let dumped = graph.hnsw.file_dump(dir, &basename)?;
        if dumped != basename {
            bail!("hnsw_rs saved the graph as `{dumped}` instead of `{basename}`");
        }
    }
    let keys: Vec<(&str, u32)> = graph.keys.iter().map(|key| (key.doc_id.as_str(), key.ordinal)).collect();
    let partial = dir.join(format!("{basename}.keys.partial"));
    std::fs::write(&partial, serde_json::to_vec(&(graph.dimension, keys))?)?;
    std::fs::rename(&partial, dir.join(format!("{basename}.keys")))?;

    // Graphs of older generations are of no further use.
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("graph-") && !name.starts_with(&format!("{basename}.")) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Loads the saved graph of this generation; `None` if there is none.
fn load_graph(dir: &Path, generation: i64) -> Result<Option<Graph>> {
    let basename = graph_basename(generation);
    let keys_path = dir.join(format!("{basename}.keys"));
    let Ok(bytes) = std::fs::read(&keys_path) else {
        return Ok(None);
    };
    let (dimension, keys): (usize, Vec<(String, u32)>) =
        serde_json::from_slice(&bytes).with_context(|| format!("`{}` is damaged", keys_path.display()))?;
    let keys: Vec<ChunkKey> = keys.into_iter().map(|(doc_id, ordinal)| ChunkKey { doc_id, ordinal }).collect();
    let hnsw = if keys.is_empty() {
        Hnsw::new(MAX_CONNECTIONS, 1, MAX_LAYERS, EF_CONSTRUCTION, DistCosine)
    } else {
        // hnsw_rs ties a loaded graph's lifetime to its loader. The loader is small, so it
        // is leaked to give the graph a 'static lifetime: one per graph load.
        let loader: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, &basename)));
        loader.load_hnsw::<f32, DistCosine>().with_context(|| format!("could not load the graph `{basename}`"))?
    };
    let mut hnsw = hnsw;
    hnsw.set_searching_mode(true);
    Ok(Some(Graph { generation, dimension, hnsw, keys }))
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
