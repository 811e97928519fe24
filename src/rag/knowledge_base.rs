//! A knowledge base on disk: `$DOCENT_HOME/kb/NAME/` with the catalog, the full-text index,
//! the chunk vectors and the image vectors, and hybrid search over them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use anyhow::{bail, Context, Result};
use image::RgbImage;

use super::catalog::{Catalog, VectorSource};
use super::clip::{ClipEncoder, ImageEncoder};
use super::dense::{ChunkKey, DenseIndex};
use super::edition::{edition_request, prefer_language};
use super::embed::{BertTextEncoder, TextEncoder};
use super::index::{Retriever, SearchHit, TextIndex};
use super::text::{contains_cjk, normalize};
use crate::config::{validate_kb_name, Paths};

/// Catalog settings naming the text encoder that made the knowledge base's vectors.
pub const TEXT_ENCODER_SETTING: &str = "text_encoder";
pub const TEXT_ENCODER_PATH_SETTING: &str = "text_encoder_path";

/// Catalog settings naming the image encoder that made the knowledge base's image vectors:
/// its id, and the folder or Hugging Face model id it was loaded from.
pub const IMAGE_ENCODER_SETTING: &str = "image_encoder";
pub const IMAGE_ENCODER_PATH_SETTING: &str = "image_encoder_path";

/// Retrievers a search runs, and the settings of the fusion of their rankings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchOptions {
    pub full_text: bool,
    pub dense: bool,
    /// Runs the image retriever (the query's text against the image vectors of an image
    /// encoder such as CLIP) when the knowledge base has image vectors.
    pub image_vectors: bool,
    /// Reciprocal rank fusion constant: a result at rank r (from 1) of a retriever adds
    /// `weight / (rrf_k + r)` to its fused score. On the 60-question development set, with
    /// PDF passages split at their outline's sections, hit@5 was 0.850 at k = 5 and 10 and
    /// 0.817 at 15 and 20.
    pub rrf_k: f32,
    pub full_text_weight: f32,
    pub dense_weight: f32,
    /// Dense weight for queries with Chinese, Japanese or Korean characters. The default
    /// encoder, all-MiniLM-L6-v2, was trained on English: on the development set its
    /// vectors lowered Chinese hit@5 from 0.643 (full text alone) to 0.357, so by default
    /// such queries use full text only. Raise it for a multilingual encoder.
    pub dense_weight_cjk: f32,
    /// Factor on the dense weight for image results. An image's text is a short caption that
    /// full text ranks low, so without it fusion buries images that dense search found. On
    /// the development set, dense search alone had 6 of the 7 figure questions' pages in its
    /// first five results, and fusion had 3. Factors 1, 1.5, 2 and 3 gave figure hit@5 0.429,
    /// 0.571, 0.714 and 0.714, overall 0.767, 0.783, 0.800 and 0.800, and left the other
    /// groups unchanged.
    pub image_weight: f32,
    /// Weight of the image retriever's ranking.
    // NOTE: not chosen by measurement: no CLIP weights could be downloaded where the other
    // weights were measured. Measure it with `docent eval` once a real model is configured.
    pub image_vector_weight: f32,
    /// Weight of the image retriever for queries with Chinese, Japanese or Korean characters.
    /// The OpenAI CLIP checkpoints learned English captions only, so by default such queries
    /// do not use it. Raise it for a multilingual CLIP.
    pub image_vector_weight_cjk: f32,
    /// Results taken from each retriever before fusion.
    pub candidates: usize,
    /// Dense results less similar than this (cosine) are dropped: nearest neighbours always
    /// exist, and without a floor a question about something absent from the knowledge
    /// base would still get passages.
    pub min_similarity: f32,
    /// Image results whose vector is less similar to the query's than this are dropped.
    // NOTE: an estimate from the CLIP paper's zero-shot setting, where matching captions of
    // ViT-B/32 score about 0.3 and unrelated ones 0.1 to 0.2; not measured on manuals.
    pub min_image_similarity: f32,
    /// Acts on a question's request for one language's edition, such as "the Chinese edition
    /// of the handbook": full text searches it without the language's name, and results in that
    /// language come first, with counterparts of the first results in the other language (see
    /// [`prefer_language`]).
    pub edition_requests: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            full_text: true,
            dense: true,
            rrf_k: 10.0,
            full_text_weight: 1.0,
            dense_weight: 1.0,
            dense_weight_cjk: 0.0,
            image_weight: 2.0,
            image_vectors: true,
            image_vector_weight: 1.0,
            image_vector_weight_cjk: 0.0,
            candidates: 50,
            min_similarity: 0.3,
            min_image_similarity: 0.2,
            edition_requests: true,
        }
    }
}

pub struct KnowledgeBase {
    pub name: String,
    pub dir: PathBuf,
    index: TextIndex,
    catalog: Mutex<Catalog>,
    dense: DenseIndex,
    /// The encoder recorded in the catalog, loaded on the first dense search. It is `None`
    /// when the knowledge base has no vectors or the encoder fails to load.
    encoder: OnceLock<Option<Arc<dyn TextEncoder>>>,
    image_dense: DenseIndex,
    /// The image encoder recorded in the catalog, loaded on the first search like `encoder`.
    image_encoder: OnceLock<Option<Arc<dyn ImageEncoder>>>,
    pub search_options: SearchOptions,
}

impl KnowledgeBase {
    /// Opens a knowledge base, creating it if it does not exist yet (for ingest).
    pub fn open_or_create(paths: &Paths, name: &str) -> Result<Self> {
        validate_kb_name(name)?;
        let dir = paths.knowledge_base(name);
        let index = TextIndex::open_or_create(&dir.join("index"))?;
        // Creating the catalog here means that a knowledge base always has both parts.
        let catalog = Catalog::open(&dir.join("catalog.sqlite3"))?;
        let dense = DenseIndex::new(dir.join("vectors"), VectorSource::Chunks);
        let image_dense = DenseIndex::new(dir.join("image_vectors"), VectorSource::Images);
        Ok(Self {
            name: name.to_string(),
            image_dense,
            image_encoder: OnceLock::new(),
            dir,
            index,
            catalog: Mutex::new(catalog),
            dense,
            encoder: OnceLock::new(),
            search_options: SearchOptions::default(),
        })
    }

    /// Reports whether a knowledge base of that name exists; fails on an invalid name.
    pub fn exists(paths: &Paths, name: &str) -> Result<bool> {
        validate_kb_name(name)?;
        Ok(paths.knowledge_base(name).join("catalog.sqlite3").is_file())
    }

    /// Opens an existing knowledge base; fails with a hint to ingest if there is none.
    pub fn open(paths: &Paths, name: &str) -> Result<Self> {
        if !Self::exists(paths, name)? {
            if let Some(candidate) = similar_knowledge_base(paths, name) {
                bail!(
                    "knowledge base `{name}` not found in `{}`: did you mean `{candidate}`? \
                     `docent kb list` shows all of them",
                    paths.knowledge_bases().display()
                );
            }
            let existing = list_knowledge_bases(paths);
            if !existing.is_empty() {
                // Names the existing knowledge bases for a user who left out `--kb`.
                const SHOWN: usize = 5;
                let mut names: Vec<String> = existing.iter().take(SHOWN).map(|name| format!("`{name}`")).collect();
                if existing.len() > SHOWN {
                    names.push(format!("{} more (`docent kb list`)", existing.len() - SHOWN));
                }
                bail!(
                    "knowledge base `{name}` not found in `{}`: choose an existing one with `--kb NAME` ({}), \
                     or create it with `docent ingest --kb {name} PATH...`",
                    paths.knowledge_bases().display(),
                    names.join(", ")
                );
            }
            bail!(
                "knowledge base `{name}` not found in `{}`: create it with `docent ingest --kb {name} PATH...`",
                paths.knowledge_bases().display()
            );
        }
        Self::open_or_create(paths, name)
    }

    /// Opens a second connection to the catalog, for a writer such as ingest.
    pub fn catalog(&self) -> Result<Catalog> {
        Catalog::open(&self.dir.join("catalog.sqlite3"))
    }

    fn shared_catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the folder of the images extracted from the documents.
    pub fn images_dir(&self) -> PathBuf {
        self.dir.join("images")
    }

    /// Counts the stored images, and among them pages without a text layer.
    pub fn image_counts(&self) -> Result<(u64, u64)> {
        self.shared_catalog().image_counts()
    }

    pub fn index(&self) -> &TextIndex {
        &self.index
    }

    /// Returns the id and folder of the text encoder recorded for this knowledge base.
    pub fn recorded_text_encoder(&self) -> Result<Option<(String, PathBuf)>> {
        let catalog = self.shared_catalog();
        let id = catalog.setting(TEXT_ENCODER_SETTING)?;
        let path = catalog.setting(TEXT_ENCODER_PATH_SETTING)?;
        Ok(id.zip(path.map(PathBuf::from)))
    }

    /// Uses `encoder` for queries instead of loading the recorded one (ingest has it loaded).
    pub fn set_text_encoder(&self, encoder: Arc<dyn TextEncoder>) {
        let _ = self.encoder.set(Some(encoder));
    }

    /// Returns the text encoder for queries, if this knowledge base has vectors.
    pub fn text_encoder(&self) -> Option<Arc<dyn TextEncoder>> {
        self.encoder
            .get_or_init(|| {
                let (id, path) = match self.recorded_text_encoder() {
                    Ok(Some(recorded)) => recorded,
                    Ok(None) => return None,
                    Err(error) => {
                        tracing::warn!("dense search is off: {error:#}");
                        return None;
                    }
                };
                match load_text_encoder(&path, None) {
                    Ok(encoder) => Some(encoder),
                    Err(error) => {
                        tracing::warn!(
                            "dense search is off: the text encoder `{id}` recorded for knowledge base `{}` \
                             could not be loaded: {error:#}",
                            self.name
                        );
                        None
                    }
                }
            })
            .clone()
    }

    /// Returns the id and location of the image encoder recorded for this knowledge base.
    pub fn recorded_image_encoder(&self) -> Result<Option<(String, String)>> {
        let catalog = self.shared_catalog();
        let id = catalog.setting(IMAGE_ENCODER_SETTING)?;
        let location = catalog.setting(IMAGE_ENCODER_PATH_SETTING)?;
        Ok(id.zip(location))
    }

    /// Uses `encoder` for queries instead of loading the recorded one (ingest has it loaded).
    pub fn set_image_encoder(&self, encoder: Arc<dyn ImageEncoder>) {
        let _ = self.image_encoder.set(Some(encoder));
    }

    /// Returns the image encoder for queries, if this knowledge base has image vectors.
    pub fn image_encoder(&self) -> Option<Arc<dyn ImageEncoder>> {
        self.image_encoder
            .get_or_init(|| {
                let (id, location) = match self.recorded_image_encoder() {
                    Ok(Some(recorded)) => recorded,
                    Ok(None) => return None,
                    Err(error) => {
                        tracing::warn!("image search is off: {error:#}");
                        return None;
                    }
                };
                match load_image_encoder(&location) {
                    Ok((encoder, _)) => Some(encoder),
                    Err(error) => {
                        tracing::warn!(
                            "image search is off: the image encoder `{id}` recorded for knowledge base `{}` \
                             could not be loaded: {error:#}",
                            self.name
                        );
                        None
                    }
                }
            })
            .clone()
    }

    /// Searches with the knowledge base's default options.
    pub fn search(&self, query: &str, top_k: usize) -> Result<Vec<SearchHit>> {
        self.search_with(query, top_k, &self.search_options)
    }

    /// Runs the chosen retrievers and fuses their rankings with reciprocal rank fusion.
    /// With one retriever, its own order and scores are kept.
    pub fn search_with(&self, query: &str, top_k: usize, options: &SearchOptions) -> Result<Vec<SearchHit>> {
        self.search_with_images(query, &[], top_k, options)
    }

    /// Searches like [`Self::search_with`] for a question that comes with images, such as a
    /// screenshot. Where the knowledge base has image vectors, each question image adds the
    /// ranking of the stored images closest to it, weighted by `image_vector_weight` in any
    /// language. Without image vectors the images are not used.
    // NOTE: these rankings have no similarity floor, because no image-to-image threshold was
    // measured; the closest stored images always take part in the fusion.
    pub fn search_with_images(
        &self,
        query: &str,
        query_images: &[RgbImage],
        top_k: usize,
        options: &SearchOptions,
    ) -> Result<Vec<SearchHit>> {
        if top_k == 0 {
            return Ok(Vec::new());
        }
        let candidates = options.candidates.max(top_k);
        let edition = if options.edition_requests { edition_request(query) } else { None };
        let full_text_query = edition.as_ref().map_or(query, |request| request.full_text_query.as_str());
        let query_image_weight = options.image_vector_weight;
        let mut options = *options;
        if contains_cjk(query) {
            options.dense_weight = options.dense_weight_cjk;
            options.image_vector_weight = options.image_vector_weight_cjk;
        }
        // A zero weight turns a retriever off, unless it is the only one asked for.
        let alone = [options.full_text, options.dense, options.image_vectors].into_iter().filter(|on| *on).count() == 1;
        let run_dense = options.dense && (options.dense_weight > 0.0 || alone);
        let run_images = options.image_vectors && (options.image_vector_weight > 0.0 || alone);
        let options = &options;

        let full_text = if options.full_text { self.index.search(full_text_query, candidates)? } else { Vec::new() };
        let mut dense = if run_dense { self.dense_search(query, candidates)? } else { Vec::new() };
        dense.retain(|(_, similarity)| *similarity >= options.min_similarity);
        let mut image_rankings = Vec::new();
        if run_images {
            let mut images = self.image_search(query, candidates)?;
            images.retain(|(_, similarity)| *similarity >= options.min_image_similarity);
            image_rankings.push((options.image_vector_weight, images));
        }
        if options.image_vectors && query_image_weight > 0.0 {
            for images in self.similar_images(query_images, candidates)? {
                image_rankings.push((query_image_weight, images));
            }
        }
        image_rankings.retain(|(_, images)| !images.is_empty());

        // A request for one language's edition reorders the results, so it takes all candidates.
        let depth = if edition.is_some() { candidates } else { top_k };
        let hits = match (options.full_text, dense.is_empty(), image_rankings.len()) {
            // No vector retriever found anything (or the knowledge base has no vectors): the
            // full-text ranking and BM25 scores stand alone.
            (_, true, 0) => full_text.into_iter().take(depth).collect(),
            // Text vectors alone: their order and cosine similarities.
            (false, false, 0) => self.resolve_vector_hits(dense.into_iter().take(depth), Retriever::Dense)?,
            // One image ranking alone: its order and cosine similarities.
            (false, true, 1) => {
                let (_, images) = image_rankings.remove(0);
                self.resolve_vector_hits(images.into_iter().take(depth), Retriever::Image)?
            }
            // Several rankings: fused.
            _ => self.fuse(full_text, dense, image_rankings, depth, options)?,
        };
        match edition {
            Some(request) => prefer_language(&self.index, hits, request.language, top_k),
            None => Ok(hits),
        }
    }

    fn dense_search(&self, query: &str, top_k: usize) -> Result<Vec<(ChunkKey, f32)>> {
        let Some(encoder) = self.text_encoder() else {
            return Ok(Vec::new());
        };
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        // Folded like full-text queries, so that full-width letters (ｃｌｏｃｋ) read as ASCII.
        let query_vector = encoder.encode(&[normalize(query).as_str()])?.remove(0);
        let catalog = self.shared_catalog();
        self.dense.search(&catalog, &query_vector, top_k)
    }

    /// Finds the images closest to the query's text in the image encoder's space.
    fn image_search(&self, query: &str, top_k: usize) -> Result<Vec<(ChunkKey, f32)>> {
        let Some(encoder) = self.image_encoder() else {
            return Ok(Vec::new());
        };
        if query.trim().is_empty() {
            return Ok(Vec::new());
        }
        let query_vector = encoder.encode_query(query)?;
        let catalog = self.shared_catalog();
        self.image_dense.search(&catalog, &query_vector, top_k)
    }

    /// Finds, for each image, the stored images closest to it in the image encoder's space.
    fn similar_images(&self, images: &[RgbImage], top_k: usize) -> Result<Vec<Vec<(ChunkKey, f32)>>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let Some(encoder) = self.image_encoder() else {
            return Ok(Vec::new());
        };
        let references: Vec<&RgbImage> = images.iter().collect();
        let vectors = encoder.encode_images(&references)?;
        let catalog = self.shared_catalog();
        vectors.iter().map(|vector| self.image_dense.search(&catalog, vector, top_k)).collect()
    }

    fn resolve_vector_hits(
        &self,
        found: impl Iterator<Item = (ChunkKey, f32)>,
        retriever: Retriever,
    ) -> Result<Vec<SearchHit>> {
        let mut hits = Vec::new();
        for (key, similarity) in found {
            if let Some(mut hit) = self.index.chunk(&key, similarity, retriever)? {
                match retriever {
                    Retriever::Image => hit.image_similarity = Some(similarity),
                    Retriever::Dense | Retriever::FullText | Retriever::Counterpart => hit.similarity = Some(similarity),
                }
                hits.push(hit);
            }
        }
        Ok(hits)
    }

    fn fuse(
        &self,
        full_text: Vec<SearchHit>,
        dense: Vec<(ChunkKey, f32)>,
        image_rankings: Vec<(f32, Vec<(ChunkKey, f32)>)>,
        top_k: usize,
        options: &SearchOptions,
    ) -> Result<Vec<SearchHit>> {
        let contribution = |weight: f32, rank: usize| weight / (options.rrf_k + rank as f32 + 1.0);
        let similarities: HashMap<ChunkKey, f32> = dense.iter().cloned().collect();
        // An image found by the question's text and by a question image keeps its best similarity.
        let mut image_similarities: HashMap<ChunkKey, f32> = HashMap::new();
        for (key, similarity) in image_rankings.iter().flat_map(|(_, images)| images) {
            let best = image_similarities.entry(key.clone()).or_insert(*similarity);
            *best = best.max(*similarity);
        }
        let mut fused: HashMap<ChunkKey, (f32, Option<SearchHit>, Vec<Retriever>)> = HashMap::new();
        for (rank, hit) in full_text.into_iter().enumerate() {
            let entry = fused.entry(hit.key.clone()).or_insert((0.0, None, Vec::new()));
            entry.0 += contribution(options.full_text_weight, rank);
            entry.2.push(Retriever::FullText);
            entry.1 = Some(hit);
        }
        for (rank, (key, similarity)) in dense.into_iter().enumerate() {
            let entry = fused.entry(key.clone()).or_insert((0.0, None, Vec::new()));
            // Only a factor other than 1 needs to know which results are images. A chunk loaded
            // for that is kept, so that it is not loaded again for the results.
            if options.image_weight != 1.0 && entry.1.is_none() {
                entry.1 = self.index.chunk(&key, similarity, Retriever::Dense)?;
            }
            let is_image = entry.1.as_ref().is_some_and(|hit| hit.image.is_some());
            let weight = if is_image { options.dense_weight * options.image_weight } else { options.dense_weight };
            entry.0 += contribution(weight, rank);
            entry.2.push(Retriever::Dense);
        }
        for (weight, images) in image_rankings {
            for (rank, (key, _)) in images.into_iter().enumerate() {
                let entry = fused.entry(key).or_insert((0.0, None, Vec::new()));
                entry.0 += contribution(weight, rank);
                if !entry.2.contains(&Retriever::Image) {
                    entry.2.push(Retriever::Image);
                }
            }
        }

        let mut ranked: Vec<(ChunkKey, (f32, Option<SearchHit>, Vec<Retriever>))> = fused.into_iter().collect();
        ranked.sort_by(|a, b| {
            b.1 .0
                .total_cmp(&a.1 .0)
                .then_with(|| a.0.doc_id.cmp(&b.0.doc_id))
                .then_with(|| a.0.ordinal.cmp(&b.0.ordinal))
        });

        let mut hits = Vec::with_capacity(top_k);
        for (key, (score, hit, retrievers)) in ranked {
            if hits.len() == top_k {
                break;
            }
            let hit = match hit {
                Some(hit) => Some(hit),
                None => self.index.chunk(&key, score, Retriever::Dense)?,
            };
            if let Some(mut hit) = hit {
                hit.score = score;
                hit.retrievers = retrievers;
                hit.similarity = similarities.get(&key).copied();
                hit.image_similarity = image_similarities.get(&key).copied();
                hits.push(hit);
            }
        }
        Ok(hits)
    }

    /// Builds and saves the vector indexes whose vectors changed since they were last saved.
    pub fn prepare_dense_indexes(&self) -> Result<()> {
        let catalog = self.shared_catalog();
        if catalog.vector_count()? > 0 {
            self.dense.prepare(&catalog)?;
        }
        if catalog.image_vector_count(None)? > 0 {
            self.image_dense.prepare(&catalog)?;
        }
        Ok(())
    }

    /// Returns the number of image chunks with an image vector.
    pub fn image_vector_count(&self) -> Result<u64> {
        self.shared_catalog().image_vector_count(None)
    }

    /// Returns the number of chunk vectors stored.
    pub fn vector_count(&self) -> Result<u64> {
        self.shared_catalog().vector_count()
    }
}

/// Loads a text encoder folder; `max_tokens` lowers the model's own token limit.
pub fn load_text_encoder(dir: &Path, max_tokens: Option<usize>) -> Result<Arc<dyn TextEncoder>> {
    let mut encoder =
        BertTextEncoder::load(dir).with_context(|| format!("could not load text encoder `{}`", dir.display()))?;
    if let Some(max_tokens) = max_tokens {
        encoder.set_max_tokens(max_tokens)?;
    }
    Ok(Arc::new(encoder))
}

/// Loads an image encoder from a model folder, or from the Hugging Face cache for a model id
/// such as `openai/clip-vit-base-patch32` (`docent models pull ID` downloads it there).
/// Returns the encoder and the location to record: the folder's absolute path, or the id.
pub fn load_image_encoder(location: &str) -> Result<(Arc<dyn ImageEncoder>, String)> {
    let path = Path::new(location);
    let (dir, model_id, recorded) = if path.is_dir() {
        let dir = std::fs::canonicalize(path).with_context(|| format!("could not read `{location}`"))?;
        let name = dir.file_name().map_or_else(|| location.to_string(), |name| name.to_string_lossy().into_owned());
        let recorded = dir.display().to_string();
        (dir, name, recorded)
    } else if is_model_id(location) {
        let cached = hf_hub::Cache::from_env().model(location.to_string()).get("config.json");
        let Some(config) = cached else {
            bail!(
                "image encoder `{location}` is not a folder and not in the Hugging Face cache: \
                 download it with `docent models pull {location}`, or pass a model folder"
            );
        };
        let dir = config.parent().context("a cached file has a parent folder")?.to_path_buf();
        (dir, location.to_string(), location.to_string())
    } else {
        bail!(
            "image encoder folder `{location}` not found: pass a CLIP model folder, or the id of a model \
             that `docent models pull` downloaded, such as openai/clip-vit-base-patch32"
        );
    };
    let encoder = ClipEncoder::load(&dir, &model_id)
        .with_context(|| format!("could not load image encoder `{location}`"))?;
    Ok((Arc::new(encoder), recorded))
}

/// Tells whether `value` has the form of a Hugging Face model id: `owner/name`.
fn is_model_id(value: &str) -> bool {
    let mut parts = value.split('/');
    let valid = |part: Option<&str>| {
        part.is_some_and(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    valid(parts.next()) && valid(parts.next()) && parts.next().is_none()
}

/// Returns the existing knowledge base whose name is closest to `name`, within two edits
/// (insertions, deletions, substitutions or swaps of neighbours), to catch a typo.
pub fn similar_knowledge_base(paths: &Paths, name: &str) -> Option<String> {
    list_knowledge_bases(paths)
        .into_iter()
        .filter(|candidate| candidate != name)
        .map(|candidate| (strsim::damerau_levenshtein(name, &candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Lists the names of the knowledge bases under `$DOCENT_HOME`, sorted.
pub fn list_knowledge_bases(paths: &Paths) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(paths.knowledge_bases()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("catalog.sqlite3").is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}
