//! Pieces shared by the tiny random-weight models the tests write: seeded weights in
//! safetensors, JSON files, a byte-level vocabulary and the tensors of a CLIP tower.
//!
//! Weights come from a seeded PRNG (candle's CPU `randn` cannot be seeded), so every run
//! writes the same bytes.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::{json, Map, Value};

#[derive(Clone, Copy, Debug)]
pub enum Init {
    Normal(f32),
    Ones,
    Zeros,
}

/// Writes one tensor per spec (name, row-major shape, initialization) to `path`.
pub fn write_random_safetensors(path: &Path, specs: &[(String, Vec<usize>, Init)], seed: u64) {
    let mut rng = SplitMix64(seed);
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for (name, shape, init) in specs {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = match init {
            Init::Normal(std) => (0..n).map(|_| rng.normal() * std).collect(),
            Init::Ones => vec![1.0; n],
            Init::Zeros => vec![0.0; n],
        };
        let tensor = Tensor::from_vec(data, shape.as_slice(), &Device::Cpu).expect("tensor");
        tensors.insert(name.clone(), tensor);
    }
    candle_core::safetensors::save(&tensors, path).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
}

/// Sizes of a CLIP transformer tower (text or vision), in the Hugging Face layout that
/// candle-transformers' `clip` module and mistral.rs's LLaVA vision tower read.
pub struct ClipTower {
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    /// Initialization of the linear weights and embeddings.
    pub weight: Init,
}

impl ClipTower {
    /// Adds the encoder layers under `{prefix}.encoder.layers.N`.
    pub fn add_encoder_specs(&self, prefix: &str, add: &mut impl FnMut(String, Vec<usize>, Init)) {
        let (hidden, intermediate, weight) = (self.hidden, self.intermediate, self.weight);
        for i in 0..self.layers {
            let l = format!("{prefix}.encoder.layers.{i}");
            for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                add(format!("{l}.self_attn.{proj}.weight"), vec![hidden, hidden], weight);
                add(format!("{l}.self_attn.{proj}.bias"), vec![hidden], Init::Zeros);
            }
            add(format!("{l}.layer_norm1.weight"), vec![hidden], Init::Ones);
            add(format!("{l}.layer_norm1.bias"), vec![hidden], Init::Zeros);
            add(format!("{l}.mlp.fc1.weight"), vec![intermediate, hidden], weight);
            add(format!("{l}.mlp.fc1.bias"), vec![intermediate], Init::Zeros);
            add(format!("{l}.mlp.fc2.weight"), vec![hidden, intermediate], weight);
            add(format!("{l}.mlp.fc2.bias"), vec![hidden], Init::Zeros);
            add(format!("{l}.layer_norm2.weight"), vec![hidden], Init::Ones);
            add(format!("{l}.layer_norm2.bias"), vec![hidden], Init::Zeros);
        }
    }

    /// Adds a vision tower under `prefix` (such as `vision_model`): patch and position
    /// embeddings for `positions` positions (patches plus the class token), the layer norms
    /// around the encoder, and the encoder.
    pub fn add_vision_specs(&self, prefix: &str, patch_size: usize, positions: usize, add: &mut impl FnMut(String, Vec<usize>, Init)) {
        let (hidden, weight) = (self.hidden, self.weight);
        add(format!("{prefix}.embeddings.class_embedding"), vec![hidden], weight);
        add(format!("{prefix}.embeddings.patch_embedding.weight"), vec![hidden, 3, patch_size, patch_size], weight);
        add(format!("{prefix}.embeddings.position_embedding.weight"), vec![positions, hidden], weight);
        add(format!("{prefix}.pre_layrnorm.weight"), vec![hidden], Init::Ones);
        add(format!("{prefix}.pre_layrnorm.bias"), vec![hidden], Init::Zeros);
        self.add_encoder_specs(prefix, add);
        add(format!("{prefix}.post_layernorm.weight"), vec![hidden], Init::Ones);
        add(format!("{prefix}.post_layernorm.bias"), vec![hidden], Init::Zeros);
    }
}

/// Builds a `preprocessor_config.json` of `CLIPImageProcessor` for square images of
/// `image_size` pixels, with the OpenAI CLIP normalization.
pub fn clip_preprocessor_config_json(image_size: usize) -> Value {
    json!({
        "image_processor_type": "CLIPImageProcessor",
        "do_convert_rgb": true,
        "do_resize": true,
        "size": { "shortest_edge": image_size },
        "resample": 3,
        "do_center_crop": true,
        "crop_size": { "height": image_size, "width": image_size },
        "do_rescale": true,
        "rescale_factor": 0.00392156862745098,
        "do_normalize": true,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711]
    })
}

/// Builds a `tokenizer.json` for byte-level BPE without merges: one token per UTF-8 byte, byte
/// `b` being token `byte_offset + b`, plus the special tokens. The ByteLevel decoder is required:
/// mistral.rs builds an llguidance token trie at load time
/// (`toktrie_hf_tokenizers::ByteTokenizer::from_tokenizer`), which fails with "can't determine
/// decoder type" unless the decoder is ByteLevel or ByteFallback.
pub fn byte_level_tokenizer_json(specials: &[(u32, &str)], byte_offset: u32, normalizer: Value, post_processor: Value) -> Value {
    let mut vocab = Map::new();
    for (id, content) in specials {
        vocab.insert(content.to_string(), json!(id));
    }
    for (byte, ch) in byte_chars().into_iter().enumerate() {
        vocab.insert(ch.to_string(), json!(byte_offset + byte as u32));
    }
    let added_tokens: Vec<Value> = specials
        .iter()
        .map(|(id, content)| {
            json!({
                "id": id, "content": content, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true
            })
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added_tokens,
        "normalizer": normalizer,
        "pre_tokenizer": { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true },
        "post_processor": post_processor,
        "decoder": { "type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true },
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": false,
            "vocab": vocab,
            "merges": []
        }
    })
}

/// GPT-2 `bytes_to_unicode`: the character byte `b` becomes in a ByteLevel vocabulary.
pub fn byte_chars() -> Vec<char> {
    let mut chars = vec!['\0'; 256];
    let mut next = 256u32;
    for b in 0..256u32 {
        let printable = (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
        chars[b as usize] = if printable {
            char::from_u32(b).unwrap()
        } else {
            let c = char::from_u32(next).unwrap();
            next += 1;
            c
        };
    }
    chars
}

pub fn write_json(dir: &Path, name: &str, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("serialize");
    std::fs::write(dir.join(name), text).unwrap_or_else(|error| panic!("write {name}: {error}"));
}

/// Small seeded PRNG (SplitMix64) with Box-Muller normals.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f32 {
        let (u1, u2) = (self.uniform(), self.uniform());
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
}
