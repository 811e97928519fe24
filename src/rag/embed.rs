//! Dense text vectors: sentence encoders behind [`TextEncoder`].
//!
//! The default encoder is all-MiniLM-L6-v2, a BERT model run through candle-transformers
//! with mean pooling and L2 normalization, as sentence-transformers configures it. Any
//! BERT-architecture sentence encoder in the same folder layout (config.json,
//! tokenizer.json, model.safetensors) loads the same way.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use rayon::prelude::*;
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

/// Texts encoded together. Batches are formed from texts of similar token length, so the
/// padding they carry stays small.
const BATCH_SIZE: usize = 16;

/// Token limit when the model folder does not give one (sentence-transformers'
/// `max_seq_length` for all-MiniLM-L6-v2).
const DEFAULT_MAX_TOKENS: usize = 256;

/// An encoder that maps texts to unit-length vectors, for queries and passages alike.
pub trait TextEncoder: Send + Sync {
    /// Identifies the model; vectors of different models are never compared.
    fn model_id(&self) -> &str;

    /// Length of every vector.
    fn dimension(&self) -> usize;

    /// Tokens of a text the encoder reads; the rest is cut.
    fn max_tokens(&self) -> usize;

    /// Encodes texts into L2-normalized vectors, in the order given. Text beyond the
    /// model's token limit is cut.
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;

    /// Counts the tokens the encoder reads from `text`, special tokens included and the
    /// token limit applied.
    fn count_tokens(&self, text: &str) -> Result<usize>;
}

/// A BERT sentence encoder with mean pooling, loaded from a sentence-transformers folder.
pub struct BertTextEncoder {
    model: BertModel,
    tokenizer: Tokenizer,
    model_id: String,
    dimension: usize,
    max_tokens: usize,
    /// The model's own limit: its position embeddings or sentence-transformers' setting.
    model_max_tokens: usize,
    pad_id: u32,
    device: Device,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
}

impl BertTextEncoder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`. The model id
    /// is the folder's name.
    pub fn load(dir: &Path) -> Result<Self> {
        let file = |name: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            if !path.is_file() {
                bail!("text encoder folder `{}` has no `{name}`", dir.display());
            }
            Ok(path)
        };
        let config_path = file("config.json")?;
        let config_text = std::fs::read_to_string(&config_path)
            .with_context(|| format!("could not read `{}`", config_path.display()))?;
        let config: BertConfig = serde_json::from_str(&config_text)
            .with_context(|| format!("`{}` is not a BERT configuration", config_path.display()))?;
        if let Some(model_type) = config.model_type.as_deref() {
            if model_type != "bert" {
                bail!(
                    "text encoder `{}` is a `{model_type}` model; docent runs BERT sentence encoders",
                    dir.display()
                );
            }
        }

        let model_max_tokens = std::fs::read_to_string(dir.join("sentence_bert_config.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<SentenceBertConfig>(&text).ok())
            .and_then(|settings| settings.max_seq_length)
            .unwrap_or(DEFAULT_MAX_TOKENS)
            .min(config.max_position_embeddings);

        let tokenizer_path = file("tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|error| anyhow::anyhow!("could not load `{}`: {error}", tokenizer_path.display()))?;
        tokenizer.with_padding(None);

        let weights_path = file("model.safetensors")?;
        let device = Device::Cpu;
        // SAFETY: the weights file is memory-mapped read-only; docent never writes to model
        // folders, and the mapping stays valid for the life of the model.
        let weights = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights_path], DType::F32, &device) }
            .with_context(|| format!("could not read `{}`", weights_path.display()))?;
        let model = BertModel::load(weights, &config)
            .with_context(|| format!("`{}` does not match `{}`", weights_path.display(), config_path.display()))?;

        let model_id = dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let mut encoder = Self {
            model,
            tokenizer,
            model_id,
            dimension: config.hidden_size,
            max_tokens: model_max_tokens,
            model_max_tokens,
            pad_id: config.pad_token_id as u32,
            device,
        };
        encoder.set_max_tokens(model_max_tokens)?;
        Ok(encoder)
    }

    /// Lowers the number of tokens read from each text, within the model's own limit. The
    /// encoder's cost grows with it, a little faster than linearly.
    pub fn set_max_tokens(&mut self, max_tokens: usize) -> Result<()> {
        let max_tokens = max_tokens.clamp(1, self.model_max_tokens);
        self.tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_tokens, ..Default::default() }))
            .map_err(|error| anyhow::anyhow!("could not set the token limit {max_tokens}: {error}"))?;
        self.max_tokens = max_tokens;
        Ok(())
    }

    fn encode_batch(&self, encodings: &[&tokenizers::Encoding]) -> Result<Vec<Vec<f32>>> {
        let length = encodings.iter().map(|encoding| encoding.get_ids().len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(encodings.len() * length);
        let mut mask = Vec::with_capacity(encodings.len() * length);
        for encoding in encodings {
            let tokens = encoding.get_ids();
            ids.extend_from_slice(tokens);
            ids.extend(std::iter::repeat_n(self.pad_id, length - tokens.len()));
            mask.extend(std::iter::repeat_n(1u32, tokens.len()));
            mask.extend(std::iter::repeat_n(0u32, length - tokens.len()));
        }
        let shape = (encodings.len(), length);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let token_types = ids.zeros_like()?;

        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;
        // Mean over the real tokens only: padding positions are zeroed by the mask.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
        let normalized = mean.broadcast_div(&norms)?;
        Ok(normalized.to_vec2::<f32>()?)
    }
}

impl TextEncoder for BertTextEncoder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|error| anyhow::anyhow!("could not tokenize text for the encoder: {error}"))?;
        Ok(encoding.get_ids().len())
    }

    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| anyhow::anyhow!("could not tokenize text for the encoder: {error}"))?;

        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());

        // Batches run in parallel: candle spreads a matrix product over the cores, but the
        // other operations of a BERT layer run on one.
        let batches: Vec<&[usize]> = order.chunks(BATCH_SIZE).collect();
        let encoded = batches
            .par_iter()
            .map(|batch| {
                let members: Vec<&tokenizers::Encoding> = batch.iter().map(|&i| &encodings[i]).collect();
                self.encode_batch(&members).context("the text encoder failed")
            })
            .collect::<Result<Vec<_>>>()?;

        let mut vectors = vec![Vec::new(); encodings.len()];
        for (batch, batch_vectors) in batches.iter().zip(encoded) {
            for (&i, vector) in batch.iter().zip(batch_vectors) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Loads the encoder that `make setup` installs; `make test` runs the set-up first.
    fn default_encoder() -> BertTextEncoder {
        let dir = crate::config::Paths::from_env().unwrap().default_text_encoder();
        BertTextEncoder::load(&dir).expect("the default text encoder is installed: run `make setup`")
    }

    #[test]
    fn minilm_vectors_are_unit_length_and_ordered() {
        let encoder = default_encoder();
        let texts = [
            "How do I reset the router to factory settings?",
            "Hold the reset button for ten seconds to restore the factory configuration.",
            "The cafeteria serves lunch from noon to two.",
        ];
        let vectors = encoder.encode(&texts).unwrap();
        assert_eq!(vectors.len(), 3);
        for vector in &vectors {
            assert_eq!(vector.len(), 384);
            let norm = cosine(vector, vector).sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        }
        let related = cosine(&vectors[0], &vectors[1]);
        let unrelated = cosine(&vectors[0], &vectors[2]);
        assert!(related > unrelated + 0.2, "related {related}, unrelated {unrelated}");
    }

    #[test]
    fn batching_does_not_change_vectors() {
        let encoder = default_encoder();
        let long = "word ".repeat(400);
        let texts = ["short text", long.as_str(), "a somewhat longer sentence about printers"];
        let together = encoder.encode(&texts).unwrap();
        for (text, expected) in texts.iter().zip(&together) {
            let alone = encoder.encode(&[text]).unwrap().remove(0);
            assert!(cosine(&alone, expected) > 0.9999, "batched and single vectors differ for {text:.20}");
        }
    }
}
