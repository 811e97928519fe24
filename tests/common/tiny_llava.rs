//! Writes a tiny random-weight LLaVA-1.5 checkpoint (Hugging Face layout, as in
//! `llava-hf/llava-1.5-7b-hf`) that mistral.rs 0.8.1 loads with its `llava` loader.
//!
//! Files written: `config.json`, `model.safetensors`, `tokenizer.json`,
//! `tokenizer_config.json` (with the chat template), `preprocessor_config.json`,
//! `generation_config.json`.
//!
//! Dependencies: `candle-core` 0.10.2 and `serde_json` 1 only.

use std::path::Path;

use serde_json::{json, Value};

use super::random_weights::{byte_level_tokenizer_json, clip_preprocessor_config_json, write_json, write_random_safetensors, ClipTower, Init};

// ---- Vision tower (CLIP ViT) ----
pub const VISION_HIDDEN: usize = 32;
pub const VISION_INTERMEDIATE: usize = 64;
pub const VISION_LAYERS: usize = 2;
pub const VISION_HEADS: usize = 2;
pub const PATCH_SIZE: usize = 14;
/// Must equal `crop_size` in preprocessor_config.json: the CLIP position embedding has
/// `(IMAGE_SIZE / PATCH_SIZE)^2 + 1` rows and the processor always crops to `crop_size`.
pub const IMAGE_SIZE: usize = 56;
/// Placeholder tokens each image adds to the prompt (`LLaVAInputProcessor::get_num_image_tokens`).
pub const NUM_IMAGE_TOKENS: usize = (IMAGE_SIZE / PATCH_SIZE) * (IMAGE_SIZE / PATCH_SIZE);

// ---- Language model (Llama) ----
pub const TEXT_HIDDEN: usize = 64;
pub const TEXT_INTERMEDIATE: usize = 128;
pub const TEXT_LAYERS: usize = 2;
pub const TEXT_HEADS: usize = 4;
pub const TEXT_KV_HEADS: usize = 2;
pub const HEAD_DIM: usize = TEXT_HIDDEN / TEXT_HEADS;
pub const MAX_POSITIONS: usize = 4096;

// ---- Tokenizer: byte-level BPE without merges, one token per UTF-8 byte ----
pub const UNK_ID: u32 = 0;
pub const BOS_ID: u32 = 1;
pub const EOS_ID: u32 = 2;
/// Byte `b` is token `BYTE_OFFSET + b`.
pub const BYTE_OFFSET: u32 = 3;
pub const IMAGE_TOKEN_ID: u32 = BYTE_OFFSET + 256; // 259
pub const PAD_ID: u32 = IMAGE_TOKEN_ID + 1; // 260
pub const VOCAB_SIZE: usize = PAD_ID as usize + 1; // 261

/// LLaVA-1.5 prompt format. mistral.rs flattens a message with images to its text (the
/// `llava` processor uses `MessagesAction::FlattenOnlyText`), and the `llava` prefixer puts
/// one `<image>` per image in front of that text, so `content` is always a string here.
pub const CHAT_TEMPLATE: &str = "{{ bos_token }}{% for message in messages %}\
{% if message['role'] == 'system' %}{{ message['content'] }}\n\
{% elif message['role'] == 'user' %}USER: {{ message['content'] }}\n\
{% elif message['role'] == 'assistant' %}ASSISTANT: {{ message['content'] }}{{ eos_token }}\n\
{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}";

/// `usage.prompt_tokens` mistral.rs reports for one user message `text` (ASCII or any
/// UTF-8) sent with `images` images: `<s>` + `USER: ` + the image placeholders + text +
/// `\nASSISTANT:`, one token per byte.
pub fn expected_prompt_tokens(text: &str, images: usize) -> usize {
    1 + "USER: ".len() + images * NUM_IMAGE_TOKENS + text.len() + "\nASSISTANT:".len()
}

/// Writes the whole checkpoint into `dir` (which must exist). Panics on I/O errors.
pub fn write_tiny_llava(dir: &Path) {
    write_json(dir, "config.json", &config_json());
    write_json(dir, "tokenizer.json", &tokenizer_json());
    write_json(dir, "tokenizer_config.json", &tokenizer_config_json());
    write_json(dir, "preprocessor_config.json", &preprocessor_config_json());
    write_json(dir, "generation_config.json", &json!({ "bos_token_id": BOS_ID, "eos_token_id": EOS_ID }));

    write_random_safetensors(&dir.join("model.safetensors"), &tensor_specs(), 0x11a7_a15e_ed00_0001);
}

/// Lists every tensor the `llava` loader reads, with its shape (row-major, as in PyTorch).
pub fn tensor_specs() -> Vec<(String, Vec<usize>, Init)> {
    const W: Init = Init::Normal(0.02);
    let mut specs: Vec<(String, Vec<usize>, Init)> = Vec::new();
    let mut add = |name: String, shape: Vec<usize>, init: Init| specs.push((name, shape, init));

    // Projector: vision hidden -> text hidden -> text hidden, with biases (llava15.rs MMProjector).
    add("multi_modal_projector.linear_1.weight".into(), vec![TEXT_HIDDEN, VISION_HIDDEN], W);
    add("multi_modal_projector.linear_1.bias".into(), vec![TEXT_HIDDEN], Init::Zeros);
    add("multi_modal_projector.linear_2.weight".into(), vec![TEXT_HIDDEN, TEXT_HIDDEN], W);
    add("multi_modal_projector.linear_2.bias".into(), vec![TEXT_HIDDEN], Init::Zeros);

    // CLIP vision transformer (clip.rs).
    let positions = NUM_IMAGE_TOKENS + 1;
    let vision = ClipTower { hidden: VISION_HIDDEN, intermediate: VISION_INTERMEDIATE, layers: VISION_LAYERS, weight: W };
    vision.add_vision_specs("vision_tower.vision_model", PATCH_SIZE, positions, &mut add);

    // Llama language model (llava_llm/llama.rs), no biases, untied lm_head.
    let kv = TEXT_KV_HEADS * HEAD_DIM;
    add("language_model.model.embed_tokens.weight".into(), vec![VOCAB_SIZE, TEXT_HIDDEN], Init::Normal(1.0));
    for i in 0..TEXT_LAYERS {
        let l = format!("language_model.model.layers.{i}");
        add(format!("{l}.self_attn.q_proj.weight"), vec![TEXT_HIDDEN, TEXT_HIDDEN], W);
        add(format!("{l}.self_attn.k_proj.weight"), vec![kv, TEXT_HIDDEN], W);
        add(format!("{l}.self_attn.v_proj.weight"), vec![kv, TEXT_HIDDEN], W);
        add(format!("{l}.self_attn.o_proj.weight"), vec![TEXT_HIDDEN, TEXT_HIDDEN], W);
        add(format!("{l}.mlp.gate_proj.weight"), vec![TEXT_INTERMEDIATE, TEXT_HIDDEN], W);
        add(format!("{l}.mlp.up_proj.weight"), vec![TEXT_INTERMEDIATE, TEXT_HIDDEN], W);
        add(format!("{l}.mlp.down_proj.weight"), vec![TEXT_HIDDEN, TEXT_INTERMEDIATE], W);
        add(format!("{l}.input_layernorm.weight"), vec![TEXT_HIDDEN], Init::Ones);
        add(format!("{l}.post_attention_layernorm.weight"), vec![TEXT_HIDDEN], Init::Ones);
    }
    add("language_model.model.norm.weight".into(), vec![TEXT_HIDDEN], Init::Ones);
    add("language_model.lm_head.weight".into(), vec![VOCAB_SIZE, TEXT_HIDDEN], Init::Normal(0.5));
    specs
}

pub fn config_json() -> Value {
    json!({
        "architectures": ["LlavaForConditionalGeneration"],
        "model_type": "llava",
        "ignore_index": -100,
        "image_token_index": IMAGE_TOKEN_ID,
        "pad_token_id": PAD_ID,
        "projector_hidden_act": "gelu",
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
        "tie_word_embeddings": false,
        "torch_dtype": "float32",
        "text_config": {
            "model_type": "llama",
            "architectures": ["LlamaForCausalLM"],
            "hidden_size": TEXT_HIDDEN,
            "intermediate_size": TEXT_INTERMEDIATE,
            "num_hidden_layers": TEXT_LAYERS,
            "num_attention_heads": TEXT_HEADS,
            "num_key_value_heads": TEXT_KV_HEADS,
            "max_position_embeddings": MAX_POSITIONS,
            "max_length": MAX_POSITIONS,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "rope_scaling": null,
            "vocab_size": VOCAB_SIZE,
            "hidden_act": "silu",
            "tie_word_embeddings": false
        },
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": VISION_HIDDEN,
            "intermediate_size": VISION_INTERMEDIATE,
            "num_hidden_layers": VISION_LAYERS,
            "num_attention_heads": VISION_HEADS,
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH_SIZE,
            "projection_dim": VISION_HIDDEN,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-5
        }
    })
}

pub fn tokenizer_config_json() -> Value {
    json!({
        "add_bos_token": false,
        "add_eos_token": false,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "model_max_length": MAX_POSITIONS,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": CHAT_TEMPLATE
    })
}

pub fn preprocessor_config_json() -> Value {
    let mut config = clip_preprocessor_config_json(IMAGE_SIZE);
    config["processor_class"] = json!("LlavaProcessor");
    config
}

/// Byte-level BPE with no merges and LLaVA's special tokens.
pub fn tokenizer_json() -> Value {
    let specials = [(UNK_ID, "<unk>"), (BOS_ID, "<s>"), (EOS_ID, "</s>"), (IMAGE_TOKEN_ID, "<image>"), (PAD_ID, "<pad>")];
    byte_level_tokenizer_json(&specials, BYTE_OFFSET, Value::Null, Value::Null)
}

