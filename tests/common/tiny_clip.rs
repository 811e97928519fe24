//! Writes a tiny random-weight CLIP checkpoint in the Hugging Face layout of
//! `openai/clip-vit-base-patch32`, which docent's image encoder loads through
//! candle-transformers' `clip` module exactly as it loads the real model.
//!
//! Files written: `config.json`, `model.safetensors`, `tokenizer.json`,
//! `preprocessor_config.json`.

use std::path::Path;

use serde_json::{json, Value};

use super::random_weights::{byte_level_tokenizer_json, clip_preprocessor_config_json, write_json, write_random_safetensors, ClipTower, Init};

pub const TEXT_HIDDEN: usize = 32;
pub const VISION_HIDDEN: usize = 48;
pub const INTERMEDIATE: usize = 64;
pub const LAYERS: usize = 2;
pub const HEADS: usize = 2;
pub const IMAGE_SIZE: usize = 32;
pub const PATCH_SIZE: usize = 8;
pub const PROJECTION_DIM: usize = 16;
/// Text positions; longer texts are cut to this many tokens.
pub const MAX_POSITIONS: usize = 24;

// Tokenizer: byte-level BPE without merges, one token per UTF-8 byte (byte `b` is token `b`),
// then the start and end tokens. candle's CLIP pools the text at the highest token id, so the
// end-of-text token must have the highest id, as in CLIP's own vocabulary.
pub const START_ID: u32 = 256;
pub const END_ID: u32 = 257;
pub const VOCAB_SIZE: usize = END_ID as usize + 1;

/// Writes the whole checkpoint into `dir`, creating it. Panics on I/O errors.
pub fn write_tiny_clip(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create the model folder");
    write_json(dir, "config.json", &config_json());
    write_json(dir, "tokenizer.json", &tokenizer_json());
    write_json(dir, "preprocessor_config.json", &preprocessor_config_json());
    write_random_safetensors(&dir.join("model.safetensors"), &tensor_specs(), 0xc11f_0000_0000_0001);
}

/// Lists every tensor `ClipModel::new` reads, with its shape.
pub fn tensor_specs() -> Vec<(String, Vec<usize>, Init)> {
    // Weights far larger than a trained model's, so that different images and texts end up
    // in clearly different directions.
    const LAYER: Init = Init::Normal(0.2);
    const EMBEDDING: Init = Init::Normal(0.5);
    let mut specs: Vec<(String, Vec<usize>, Init)> = Vec::new();
    let mut add = |name: String, shape: Vec<usize>, init: Init| specs.push((name, shape, init));

    add("text_model.embeddings.token_embedding.weight".into(), vec![VOCAB_SIZE, TEXT_HIDDEN], EMBEDDING);
    add("text_model.embeddings.position_embedding.weight".into(), vec![MAX_POSITIONS, TEXT_HIDDEN], LAYER);
    let text = ClipTower { hidden: TEXT_HIDDEN, intermediate: INTERMEDIATE, layers: LAYERS, weight: LAYER };
    text.add_encoder_specs("text_model", &mut add);
    add("text_model.final_layer_norm.weight".into(), vec![TEXT_HIDDEN], Init::Ones);
    add("text_model.final_layer_norm.bias".into(), vec![TEXT_HIDDEN], Init::Zeros);

    let patches = (IMAGE_SIZE / PATCH_SIZE) * (IMAGE_SIZE / PATCH_SIZE);
    let vision = ClipTower { hidden: VISION_HIDDEN, intermediate: INTERMEDIATE, layers: LAYERS, weight: LAYER };
    vision.add_vision_specs("vision_model", PATCH_SIZE, patches + 1, &mut add);

    add("visual_projection.weight".into(), vec![PROJECTION_DIM, VISION_HIDDEN], EMBEDDING);
    add("text_projection.weight".into(), vec![PROJECTION_DIM, TEXT_HIDDEN], EMBEDDING);
    add("logit_scale".into(), vec![], Init::Ones);
    specs
}

pub fn config_json() -> Value {
    json!({
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": PROJECTION_DIM,
        "logit_scale_init_value": 2.6592,
        "text_config": {
            "model_type": "clip_text_model",
            "vocab_size": VOCAB_SIZE,
            "hidden_size": TEXT_HIDDEN,
            "intermediate_size": INTERMEDIATE,
            "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS,
            "max_position_embeddings": MAX_POSITIONS,
            "hidden_act": "quick_gelu",
            "bos_token_id": START_ID,
            "eos_token_id": END_ID
        },
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": VISION_HIDDEN,
            "intermediate_size": INTERMEDIATE,
            "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS,
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH_SIZE,
            "hidden_act": "quick_gelu"
        }
    })
}

pub fn preprocessor_config_json() -> Value {
    clip_preprocessor_config_json(IMAGE_SIZE)
}

/// Lowercases like CLIP's tokenizer and wraps every text in the start and end tokens.
pub fn tokenizer_json() -> Value {
    let specials = [(START_ID, "<|startoftext|>"), (END_ID, "<|endoftext|>")];
    let start = json!({ "SpecialToken": { "id": "<|startoftext|>", "type_id": 0 } });
    let end = json!({ "SpecialToken": { "id": "<|endoftext|>", "type_id": 0 } });
    let post_processor = json!({
        "type": "TemplateProcessing",
        "single": [start, { "Sequence": { "id": "A", "type_id": 0 } }, end],
        "pair": [start, { "Sequence": { "id": "A", "type_id": 0 } }, { "Sequence": { "id": "B", "type_id": 0 } }, end],
        "special_tokens": {
            "<|startoftext|>": { "id": "<|startoftext|>", "ids": [START_ID], "tokens": ["<|startoftext|>"] },
            "<|endoftext|>": { "id": "<|endoftext|>", "ids": [END_ID], "tokens": ["<|endoftext|>"] }
        }
    });
    byte_level_tokenizer_json(&specials, 0, json!({ "type": "Lowercase" }), post_processor)
}
