//! Image vectors: CLIP encoders behind [`ImageEncoder`].
//!
//! A CLIP model maps images (its vision tower) and texts (its text tower) into one space, so a
//! question's text vector finds the figures it is about. The model runs through
//! candle-transformers' CLIP from a Hugging Face folder: `config.json`, `tokenizer.json`,
//! `model.safetensors` and optionally `preprocessor_config.json`, as in
//! `openai/clip-vit-base-patch32`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::clip::text_model::{Activation, ClipTextConfig};
use candle_transformers::models::clip::vision_model::ClipVisionConfig;
use candle_transformers::models::clip::{div_l2_norm, ClipConfig, ClipModel};
use image::{imageops::FilterType, DynamicImage, RgbImage};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use tokenizers::{Tokenizer, TruncationParams};

/// Images encoded in one forward pass.
const IMAGE_BATCH_SIZE: usize = 8;

/// Normalization of the OpenAI CLIP checkpoints, used when a folder has no
/// `preprocessor_config.json`.
const OPENAI_CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
const OPENAI_CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// An encoder that maps images and query texts into one space of unit-length vectors.
pub trait ImageEncoder: Send + Sync {
    /// Identifies the model; vectors of different models are never compared.
    fn model_id(&self) -> &str;

    /// Length of every vector.
    fn dimension(&self) -> usize;

    /// Encodes images into L2-normalized vectors, in the order given.
    fn encode_images(&self, images: &[&RgbImage]) -> Result<Vec<Vec<f32>>>;

    /// Encodes a query text into an L2-normalized vector comparable to the image vectors.
    fn encode_query(&self, text: &str) -> Result<Vec<f32>>;
}

/// The parts of a Hugging Face `CLIPConfig` that candle's CLIP needs. Absent fields take
/// the defaults of `transformers`' `CLIPTextConfig` and `CLIPVisionConfig`, which are the
/// values of `openai/clip-vit-base-patch32`.
#[derive(Deserialize)]
struct HfClipConfig {
    model_type: Option<String>,
    text_config: HfTextConfig,
    vision_config: HfVisionConfig,
    #[serde(default = "default_projection_dim")]
    projection_dim: usize,
    #[serde(default = "default_logit_scale")]
    logit_scale_init_value: f32,
}

#[derive(Deserialize)]
struct HfTextConfig {
    #[serde(default = "default_vocab_size")]
    vocab_size: usize,
    #[serde(default = "default_text_hidden_size")]
    hidden_size: usize,
    #[serde(default = "default_text_intermediate_size")]
    intermediate_size: usize,
    #[serde(default = "default_layers")]
    num_hidden_layers: usize,
    #[serde(default = "default_text_heads")]
    num_attention_heads: usize,
    #[serde(default = "default_text_positions")]
    max_position_embeddings: usize,
    #[serde(default = "default_activation")]
    hidden_act: String,
}

#[derive(Deserialize)]
struct HfVisionConfig {
    #[serde(default = "default_vision_hidden_size")]
    hidden_size: usize,
    #[serde(default = "default_vision_intermediate_size")]
    intermediate_size: usize,
    #[serde(default = "default_layers")]
    num_hidden_layers: usize,
    #[serde(default = "default_vision_heads")]
    num_attention_heads: usize,
    #[serde(default = "default_image_size")]
    image_size: usize,
    #[serde(default = "default_patch_size")]
    patch_size: usize,
    #[serde(default = "default_channels")]
    num_channels: usize,
    #[serde(default = "default_activation")]
    hidden_act: String,
}

fn default_projection_dim() -> usize {
    512
}
fn default_logit_scale() -> f32 {
    2.6592
}
fn default_vocab_size() -> usize {
    49408
}
fn default_text_hidden_size() -> usize {
    512
}
fn default_text_intermediate_size() -> usize {
    2048
}
fn default_layers() -> usize {
    12
}
fn default_text_heads() -> usize {
    8
}
fn default_text_positions() -> usize {
    77
}
fn default_vision_hidden_size() -> usize {
    768
}
fn default_vision_intermediate_size() -> usize {
    3072
}
fn default_vision_heads() -> usize {
    12
}
fn default_image_size() -> usize {
    224
}
fn default_patch_size() -> usize {
    32
}
fn default_channels() -> usize {
    3
}
fn default_activation() -> String {
    "quick_gelu".into()
}

/// Settings that turn an image into the vision tower's input as `CLIPImageProcessor` does.
/// The image is resized so that its shorter side is `shortest_edge` (bicubic), cropped around
/// the centre, scaled to 0..1, and each channel is normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePreprocessing {
    pub shortest_edge: u32,
    pub crop_width: u32,
    pub crop_height: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl ImagePreprocessing {
    /// Returns the OpenAI checkpoints' settings for a vision tower of `image_size` pixels.
    pub fn openai(image_size: u32) -> Self {
        Self {
            shortest_edge: image_size,
            crop_width: image_size,
            crop_height: image_size,
            mean: OPENAI_CLIP_MEAN,
            std: OPENAI_CLIP_STD,
        }
    }

    /// Reads `preprocessor_config.json`. `size` and `crop_size` may be a number or an object
    /// (`shortest_edge`, `height`, `width`), as different `transformers` versions write them.
    fn from_json(value: &Value, image_size: u32) -> Result<Self> {
        let mut settings = Self::openai(image_size);
        let number = |value: &Value| value.as_u64().map(|n| n as u32);
        if let Some(size) = value.get("size") {
            settings.shortest_edge = number(size)
                .or_else(|| size.get("shortest_edge").and_then(number))
                .context("`size` has no `shortest_edge`")?;
        }
        let crops = value.get("do_center_crop").and_then(Value::as_bool).unwrap_or(true);
        match value.get("crop_size") {
            Some(crop) if crops => {
                settings.crop_height = number(crop).or_else(|| crop.get("height").and_then(number)).context("`crop_size` has no `height`")?;
                settings.crop_width = number(crop).or_else(|| crop.get("width").and_then(number)).context("`crop_size` has no `width`")?;
            }
            _ => {}
        }
        let triple = |key: &str| -> Result<Option<[f32; 3]>> {
            let Some(values) = value.get(key) else { return Ok(None) };
            let values: Vec<f32> = serde_json::from_value(values.clone()).with_context(|| format!("`{key}` is not a list of numbers"))?;
            match values[..] {
                [r, g, b] => Ok(Some([r, g, b])),
                _ => bail!("`{key}` has {} values instead of 3", values.len()),
            }
        };
        if let Some(mean) = triple("image_mean")? {
            settings.mean = mean;
        }
        if let Some(std) = triple("image_std")? {
            settings.std = std;
        }
        Ok(settings)
    }

    /// Turns an image into a `3 x crop_height x crop_width` tensor of normalized values.
    pub fn apply(&self, rgb: &RgbImage, device: &Device) -> Result<Tensor> {
        let (width, height) = rgb.dimensions();
        let scale = self.shortest_edge as f64 / width.min(height).max(1) as f64;
        let resized_width = ((width as f64 * scale).round() as u32).max(self.crop_width);
        let resized_height = ((height as f64 * scale).round() as u32).max(self.crop_height);
        let resized = image::imageops::resize(rgb, resized_width, resized_height, FilterType::CatmullRom);
        let left = (resized_width - self.crop_width) / 2;
        let top = (resized_height - self.crop_height) / 2;
        let cropped = image::imageops::crop_imm(&resized, left, top, self.crop_width, self.crop_height).to_image();

        let plane = (self.crop_width * self.crop_height) as usize;
        let mut values = vec![0f32; 3 * plane];
        for (index, pixel) in cropped.pixels().enumerate() {
            for channel in 0..3 {
                let value = f32::from(pixel[channel]) / 255.0;
                values[channel * plane + index] = (value - self.mean[channel]) / self.std[channel];
            }
        }
        Ok(Tensor::from_vec(values, (3, self.crop_height as usize, self.crop_width as usize), device)?)
    }
}

/// Converts an image to RGB, laying transparent parts over white as a page shows them.
pub fn flatten_on_white(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let alpha = u16::from(a);
        let over_white = |channel: u8| ((u16::from(channel) * alpha + 255 * (255 - alpha)) / 255) as u8;
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

/// A CLIP model loaded from a Hugging Face folder.
pub struct ClipEncoder {
    model: ClipModel,
    tokenizer: Tokenizer,
    preprocessing: ImagePreprocessing,
    model_id: String,
    dimension: usize,
    device: Device,
}

impl ClipEncoder {
    /// Loads the model in `dir`; `model_id` names it in the catalog and in messages.
    ///
    /// # Errors
    /// A missing file, a configuration that is not CLIP or uses an activation other than
    /// `quick_gelu` (the only one candle-transformers 0.10's CLIP implements), or weights that
    /// do not match the configuration.
    pub fn load(dir: &Path, model_id: &str) -> Result<Self> {
        let file = |name: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            if !path.is_file() {
                bail!("image encoder folder `{}` has no `{name}`", dir.display());
            }
            Ok(path)
        };
        let config_path = file("config.json")?;
        let config_text = std::fs::read_to_string(&config_path)
            .with_context(|| format!("could not read `{}`", config_path.display()))?;
        let config: HfClipConfig = serde_json::from_str(&config_text)
            .with_context(|| format!("`{}` is not a CLIP configuration", config_path.display()))?;
        if let Some(model_type) = config.model_type.as_deref().filter(|model_type| *model_type != "clip") {
            bail!("image encoder `{}` is a `{model_type}` model; docent runs CLIP models", dir.display());
        }
        for (tower, activation) in [("text", &config.text_config.hidden_act), ("vision", &config.vision_config.hidden_act)] {
            if activation != "quick_gelu" {
                bail!(
                    "image encoder `{}` uses the `{activation}` activation in its {tower} tower; \
                     candle's CLIP runs `quick_gelu` models such as openai/clip-vit-base-patch32",
                    dir.display()
                );
            }
        }
        let clip_config = candle_config(&config);

        let preprocessing = match std::fs::read_to_string(dir.join("preprocessor_config.json")) {
            Ok(text) => {
                let value: Value = serde_json::from_str(&text)
                    .with_context(|| format!("`{}` is not JSON", dir.join("preprocessor_config.json").display()))?;
                ImagePreprocessing::from_json(&value, config.vision_config.image_size as u32)
                    .with_context(|| format!("invalid `{}`", dir.join("preprocessor_config.json").display()))?
            }
            Err(_) => ImagePreprocessing::openai(config.vision_config.image_size as u32),
        };
        let image_size = config.vision_config.image_size as u32;
        if (preprocessing.crop_width, preprocessing.crop_height) != (image_size, image_size) {
            bail!(
                "`{}` crops images to {}x{} but the vision tower reads {image_size}x{image_size}",
                dir.join("preprocessor_config.json").display(),
                preprocessing.crop_width,
                preprocessing.crop_height
            );
        }

        let tokenizer_path = file("tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|error| anyhow::anyhow!("could not load `{}`: {error}", tokenizer_path.display()))?;
        // One text per forward pass, so no padding; texts longer than the position table are cut.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: config.text_config.max_position_embeddings,
                ..Default::default()
            }))
            .map_err(|error| anyhow::anyhow!("could not set the token limit: {error}"))?;

        let weights_path = file("model.safetensors")?;
        let device = Device::Cpu;
        // SAFETY: the weights file is memory-mapped read-only; docent never writes to model
        // folders, and the mapping stays valid for the life of the model.
        let weights = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights_path], DType::F32, &device) }
            .with_context(|| format!("could not read `{}`", weights_path.display()))?;
        let model = ClipModel::new(weights, &clip_config)
            .with_context(|| format!("`{}` does not match `{}`", weights_path.display(), config_path.display()))?;

        Ok(Self {
            model,
            tokenizer,
            preprocessing,
            model_id: model_id.to_string(),
            dimension: config.projection_dim,
            device,
        })
    }
}

fn candle_config(config: &HfClipConfig) -> ClipConfig {
    let text = &config.text_config;
    let vision = &config.vision_config;
    ClipConfig {
        text_config: ClipTextConfig {
            vocab_size: text.vocab_size,
            embed_dim: text.hidden_size,
            activation: Activation::QuickGelu,
            intermediate_size: text.intermediate_size,
            max_position_embeddings: text.max_position_embeddings,
            pad_with: None,
            num_hidden_layers: text.num_hidden_layers,
            num_attention_heads: text.num_attention_heads,
            projection_dim: config.projection_dim,
        },
        vision_config: ClipVisionConfig {
            embed_dim: vision.hidden_size,
            activation: Activation::QuickGelu,
            intermediate_size: vision.intermediate_size,
            num_hidden_layers: vision.num_hidden_layers,
            num_attention_heads: vision.num_attention_heads,
            projection_dim: config.projection_dim,
            num_channels: vision.num_channels,
            image_size: vision.image_size,
            patch_size: vision.patch_size,
        },
        logit_scale_init_value: config.logit_scale_init_value,
        image_size: vision.image_size,
    }
}

impl ImageEncoder for ClipEncoder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    /// Encodes batches side by side, as the text encoder does, because only candle's matrix
    /// products use more than one core.
    fn encode_images(&self, images: &[&RgbImage]) -> Result<Vec<Vec<f32>>> {
        let batches: Vec<&[&RgbImage]> = images.chunks(IMAGE_BATCH_SIZE).collect();
        let encoded = batches
            .par_iter()
            .map(|batch| {
                let pixels = batch
                    .iter()
                    .map(|image| self.preprocessing.apply(image, &self.device))
                    .collect::<Result<Vec<_>>>()?;
                let pixels = Tensor::stack(&pixels, 0)?;
                let features = self.model.get_image_features(&pixels).context("the image encoder failed")?;
                Ok(div_l2_norm(&features)?.to_vec2::<f32>()?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(encoded.into_iter().flatten().collect())
    }

    /// Encodes the text alone, without padding: candle's CLIP pools the hidden state at the
    /// highest token id, which is the end-of-text token in CLIP's vocabulary.
    fn encode_query(&self, text: &str) -> Result<Vec<f32>> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|error| anyhow::anyhow!("could not tokenize text for the image encoder: {error}"))?;
        let ids = encoding.get_ids();
        if ids.is_empty() {
            bail!("the image encoder's tokenizer produced no tokens");
        }
        let ids = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let features = self.model.get_text_features(&ids).context("the image encoder's text tower failed")?;
        Ok(div_l2_norm(&features)?.squeeze(0)?.to_vec1::<f32>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halves(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, _| if x < width / 2 { image::Rgb([255, 0, 0]) } else { image::Rgb([0, 0, 255]) })
    }

    #[test]
    fn preprocessing_crops_the_centre_and_normalizes() {
        // 8x4, left half red, right half blue: no resize is needed, and the 4x4 centre crop
        // keeps two red and two blue columns.
        let settings = ImagePreprocessing { shortest_edge: 4, crop_width: 4, crop_height: 4, mean: [0.5; 3], std: [0.5; 3] };
        let tensor = settings.apply(&halves(8, 4), &Device::Cpu).unwrap();
        assert_eq!(tensor.dims(), &[3, 4, 4]);
        let values = tensor.to_vec3::<f32>().unwrap();
        // (1 - 0.5) / 0.5 = 1 for a full channel, (0 - 0.5) / 0.5 = -1 for an empty one.
        let close = |value: f32, expected: f32| (value - expected).abs() < 1e-5;
        assert!(close(values[0][0][1], 1.0), "red of the left half: {}", values[0][0][1]);
        assert!(close(values[2][0][1], -1.0), "blue of the left half: {}", values[2][0][1]);
        assert!(close(values[0][3][2], -1.0), "red of the right half: {}", values[0][3][2]);
        assert!(close(values[2][3][2], 1.0), "blue of the right half: {}", values[2][3][2]);
    }

    #[test]
    fn preprocessing_resizes_the_shorter_side() {
        // 40x20 becomes 8x4, then the 4x4 centre: the left column is red, the right one blue.
        let settings = ImagePreprocessing { shortest_edge: 4, crop_width: 4, crop_height: 4, mean: [0.0; 3], std: [1.0; 3] };
        let values = settings.apply(&halves(40, 20), &Device::Cpu).unwrap().to_vec3::<f32>().unwrap();
        assert!(values[0][2][0] > 0.9, "red of the left column: {}", values[0][2][0]);
        assert!(values[2][2][0] < 0.1, "blue of the left column: {}", values[2][2][0]);
        assert!(values[0][2][3] < 0.1, "red of the right column: {}", values[0][2][3]);
        assert!(values[2][2][3] > 0.9, "blue of the right column: {}", values[2][2][3]);
    }

    #[test]
    fn transparency_laid_over_white() {
        let image = image::RgbaImage::from_fn(2, 1, |x, _| if x == 0 { image::Rgba([0, 0, 0, 0]) } else { image::Rgba([0, 0, 0, 255]) });
        let rgb = flatten_on_white(&DynamicImage::ImageRgba8(image));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255], "transparent");
        assert_eq!(rgb.get_pixel(1, 0).0, [0, 0, 0], "opaque");
    }

    #[test]
    fn preprocessor_config_in_both_layouts() {
        let nested = serde_json::json!({
            "size": { "shortest_edge": 336 },
            "crop_size": { "height": 336, "width": 336 },
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.25, 0.25, 0.25]
        });
        let settings = ImagePreprocessing::from_json(&nested, 224).unwrap();
        assert_eq!(settings.shortest_edge, 336);
        assert_eq!((settings.crop_width, settings.crop_height), (336, 336));
        assert_eq!(settings.mean, [0.5; 3]);
        assert_eq!(settings.std, [0.25; 3]);

        let flat = serde_json::json!({ "size": 224, "crop_size": 224 });
        let settings = ImagePreprocessing::from_json(&flat, 224).unwrap();
        assert_eq!(settings, ImagePreprocessing::openai(224));

        let broken = serde_json::json!({ "image_mean": [0.5, 0.5] });
        let error = ImagePreprocessing::from_json(&broken, 224).unwrap_err();
        assert!(error.to_string().contains("`image_mean` has 2 values"), "{error}");
    }
}
