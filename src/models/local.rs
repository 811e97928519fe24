//! The local engine: a model run in-process by mistral.rs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use either::Either;
use futures::future::BoxFuture;
use mistralrs::{
    Constraint, DefaultSchedulerMethod, IsqType, Model, ModelBuilder, ModelDType, SchedulerConfig, RequestBuilder, Response, SamplingParams, StopTokens,
    TextMessageRole, TextMessages, TokenSource,
};
use mistralrs::core::SupportedModality;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::engine::{
    ChatEngine, ChatMessage, EngineError, EngineEvent, EventStream, FinishReason, GenerationParams, Role, TokenUsage,
};

/// Model to load: a GGUF file on disk, or a model id that mistral.rs resolves
/// (a Hugging Face hub id or a local model folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    GgufFile(PathBuf),
    ModelId(String),
}

/// In-situ quantization of a model loaded from safetensors (a hub id or a local folder):
/// mistral.rs quantizes the weights while loading them. GGUF files are already quantized
/// and load as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantization {
    None,
    Isq(IsqType),
}

impl std::str::FromStr for Quantization {
    type Err = String;

    /// Parses `none` or a mistral.rs ISQ type such as `q4k`, `q8_0` or `q4_1`.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.eq_ignore_ascii_case("none") {
            return Ok(Self::None);
        }
        mistralrs::parse_isq_value(value, None).map(Self::Isq).map_err(|_| {
            format!("`{value}` is not a quantization: use none, or an ISQ type such as q8_0, q6k, q5k, q4k, q4_0, q4_1, q3k or q2k")
        })
    }
}

/// Settings for loading a local model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    pub quantization: Quantization,
    /// Jinja chat template (a `.jinja` file) used instead of the one the model ships.
    pub chat_template: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { quantization: Quantization::Isq(IsqType::Q4K), chat_template: None }
    }
}

impl LoadOptions {
    /// Checks the chat template file and returns its path as mistral.rs takes it. mistral.rs
    /// panics on a name without `.jinja` or a file it cannot read, so both are checked here.
    fn chat_template_path(&self) -> Result<Option<String>> {
        let Some(path) = &self.chat_template else { return Ok(None) };
        if path.extension().is_none_or(|extension| extension != "jinja") {
            bail!("the chat template `{}` must be a .jinja file", path.display());
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("could not read the chat template `{}`", path.display()))?;
        if text.trim().is_empty() {
            bail!("the chat template `{}` is empty", path.display());
        }
        Ok(Some(path.display().to_string()))
    }
}

impl ModelSpec {
    /// Reads `--model`/`DOCENT_MODEL`: anything ending in `.gguf` is a file, an existing
    /// folder is a local model, and anything else is a model id.
    pub fn parse(value: &str) -> Self {
        let path = Path::new(value);
        let is_gguf = path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("gguf"));
        if is_gguf || path.is_file() {
            Self::GgufFile(path.to_path_buf())
        } else {
            Self::ModelId(value.to_string())
        }
    }
}

pub struct LocalEngine {
    model: Arc<Model>,
    name: String,
    context_length: Option<usize>,
    /// The model reads images (mistral.rs loaded it as a multimodal model with vision input).
    multimodal: bool,
    /// Estimated prompt tokens of one image, from the model's configuration.
    image_tokens: Option<usize>,
}

impl LocalEngine {
    /// Loads the model. A missing GGUF file fails before mistral.rs is involved, with a
    /// message that explains how to get the default model.
    pub async fn load(spec: &ModelSpec, options: &LoadOptions) -> Result<Self> {
        let chat_template = options.chat_template_path()?;
        let mut image_tokens = None;
        let (model, name) = match spec {
            ModelSpec::GgufFile(path) => {
                if !path.is_file() {
                    bail!(
                        "model file `{}` not found: run `make setup` to fetch the default model, \
                         or point --model (or DOCENT_MODEL) at a GGUF file",
                        path.display()
                    );
                }
                check_gguf_architecture(path)?;
                let folder = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let file_name = path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .with_context(|| format!("model path `{}` has no usable file name", path.display()))?;
                let model = load_gguf(folder, file_name, chat_template)
                    .await
                    .with_context(|| format!("could not load the GGUF model `{}`", path.display()))?;
                (model, file_name.trim_end_matches(".gguf").to_string())
            }
            ModelSpec::ModelId(id) => {
                let folder = Path::new(id);
                if folder.is_dir() {
                    image_tokens = estimate_image_tokens(folder);
                }
                let model = load_model_id(id, folder.is_dir(), options.quantization, chat_template).await?;
                (model, id.trim_end_matches('/').to_string())
            }
        };
        let context_length = model.max_sequence_length().ok().flatten();
        let multimodal = model
            .config()
            .is_ok_and(|config| config.modalities.input.iter().any(|modality| matches!(modality, SupportedModality::Vision)));
        tracing::info!(model = %name, ?context_length, multimodal, "model loaded");
        Ok(Self { model: Arc::new(model), name, context_length, multimodal, image_tokens: image_tokens.filter(|_| multimodal) })
    }
}

/// Architectures of GGUF files that mistral.rs 0.8.1 runs (`pipeline/gguf.rs`).
const GGUF_ARCHITECTURES: [&str; 8] = ["llama", "mistral3", "phi2", "phi3", "starcoder2", "qwen2", "qwen3", "qwen3moe"];

/// Reads a GGUF file's header and checks its architecture, because mistral.rs 0.8.1 panics
/// on an architecture it does not know instead of returning an error.
fn check_gguf_architecture(path: &Path) -> Result<()> {
    let mut file = std::fs::File::open(path).with_context(|| format!("could not open the model file `{}`", path.display()))?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut file)
        .with_context(|| format!("`{}` is not a readable GGUF file", path.display()))?;
    let architecture = content
        .metadata
        .get("general.architecture")
        .and_then(|value| value.to_string().ok())
        .with_context(|| format!("the GGUF file `{}` names no architecture (general.architecture)", path.display()))?;
    if !GGUF_ARCHITECTURES.contains(&architecture.to_ascii_lowercase().as_str()) {
        bail!(
            "the GGUF file `{}` contains a `{architecture}` model, which mistral.rs cannot run from GGUF; supported architectures: {}",
            path.display(),
            GGUF_ARCHITECTURES.join(", ")
        );
    }
    Ok(())
}

/// Loads a model id or local folder of safetensors weights: mistral.rs reads its
/// `config.json` and picks the text or multimodal loader for its architecture.
async fn load_model_id(id: &str, is_local_folder: bool, quantization: Quantization, chat_template: Option<String>) -> Result<Model> {
    let device = mistralrs::best_device(false)?;
    // F32 on a CPU: mistral.rs's `Auto` picks BF16 there, which the CPU computes by converting.
    let dtype = if device.is_cpu() { ModelDType::F32 } else { ModelDType::Auto };
    let mut builder = ModelBuilder::new(id).with_dtype(dtype);
    if is_local_folder {
        // Every file comes from the folder, so no hub token is needed.
        builder = builder.with_token_source(TokenSource::None);
    }
    if let Quantization::Isq(isq) = quantization {
        builder = builder.with_isq(isq);
    }
    if let Some(chat_template) = chat_template {
        builder = builder.with_jinja_explicit(chat_template);
    }
    let hint = if is_local_folder {
        "the folder needs config.json, tokenizer.json, tokenizer_config.json with a chat template, and model*.safetensors"
    } else {
        "a model id needs network access to the Hugging Face hub; give a local model folder otherwise"
    };
    builder.build().await.with_context(|| format!("could not load model `{id}` ({hint})"))
}

/// Estimates the prompt tokens one image takes from a model folder's `config.json`. LLaVA
/// 1.5 gives every image `(image_size / patch_size)^2` tokens whatever its size. Other
/// architectures tile or resize images, so their count depends on the image: `None`.
fn estimate_image_tokens(folder: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(folder.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    if config["model_type"] != "llava" {
        return None;
    }
    let image_size = config["vision_config"]["image_size"].as_u64()?;
    let patch_size = config["vision_config"]["patch_size"].as_u64().filter(|size| *size > 0)?;
    usize::try_from((image_size / patch_size).pow(2)).ok()
}

/// Loads a GGUF file the way mistral.rs's `GgufModelBuilder` does, except for the
/// activation dtype: the builder always asks for `Auto`, which picks F16 on a CPU. F32 is
/// faster there because the CPU computes F16 by converting. Measured on 2 cores with the
/// default model, a 696-token prompt and a 32-token answer took 11.9 s instead of 14.8 s.
async fn load_gguf(folder: &Path, file_name: &str, chat_template: Option<String>) -> Result<Model> {
    use mistralrs::core::{
        AutoDeviceMapParams, DeviceMapSetting, GGUFLoaderBuilder, GGUFSpecificConfig, MistralRsBuilder,
        TokenSource,
    };

    /// Sequences the scheduler runs at once, as in `GgufModelBuilder`.
    const MAX_RUNNING_SEQUENCES: usize = 32;
    /// Finished sequences kept for prefix reuse, as in `GgufModelBuilder`.
    const PREFIX_CACHE_SEQUENCES: usize = 16;

    let loader = GGUFLoaderBuilder::new(
        None,
        None,
        folder.display().to_string(),
        vec![file_name.to_string()],
        GGUFSpecificConfig { topology: None },
        false,
        chat_template,
    )
    .build();
    let device = mistralrs::best_device(false)?;
    let dtype = if device.is_cpu() { ModelDType::F32 } else { ModelDType::Auto };
    let pipeline = loader.load_model_from_hf(
        None,
        TokenSource::None,
        &dtype,
        &device,
        true,
        DeviceMapSetting::Auto(AutoDeviceMapParams::default_text()),
        None,
        None,
    )?;
    let scheduler = SchedulerConfig::DefaultScheduler {
        method: DefaultSchedulerMethod::Fixed(MAX_RUNNING_SEQUENCES.try_into()?),
    };
    let runner = MistralRsBuilder::new(pipeline, scheduler, false, None)
        .with_no_kv_cache(false)
        .with_no_prefix_cache(false)
        .with_prefix_cache_n(PREFIX_CACHE_SEQUENCES)
        .build()
        .await;
    Ok(Model::new(runner))
}

impl ChatEngine for LocalEngine {
    fn model_name(&self) -> &str {
        &self.name
    }

    fn context_length(&self) -> Option<usize> {
        self.context_length
    }

    fn accepts_images(&self) -> bool {
        self.multimodal
    }

    fn is_multimodal(&self) -> bool {
        self.multimodal
    }

    fn image_prompt_tokens(&self) -> Option<usize> {
        self.image_tokens
    }

    fn count_tokens<'a>(&'a self, messages: &'a [ChatMessage]) -> BoxFuture<'a, Result<Option<usize>, EngineError>> {
        Box::pin(async move { count_prompt_tokens(&self.model, messages).await.map(Some) })
    }

    fn stream_chat(&self, messages: Vec<ChatMessage>, params: GenerationParams) -> BoxFuture<'_, Result<EventStream, EngineError>> {
        let model = Arc::clone(&self.model);
        Box::pin(async move {
            let mut params = params;
            let image_count: usize = messages.iter().map(|message| message.images.len()).sum();
            if image_count > 0 && !self.multimodal {
                return Err(EngineError::InvalidRequest(format!(
                    "the model `{}` reads text only: images need a multimodal model (--model) or a \
                     server that serves one (--remote-url)",
                    self.model_name()
                )));
            }
            let prompt_tokens = count_prompt_tokens(&model, &messages).await?
                + image_count * self.image_tokens.unwrap_or(0);
            if let Some(context_length) = self.context_length {
                if prompt_tokens >= context_length {
                    return Err(EngineError::ContextLengthExceeded { prompt_tokens, context_length });
                }
                // The answer gets whatever room the prompt leaves, at most `max_tokens`.
                params.max_tokens = params.max_tokens.min(context_length - prompt_tokens);
            }
            let request = build_request(messages, &params)?;
            let (sender, receiver) = mpsc::channel(64);
            let expected = ExpectedGeneration {
                prompt_tokens,
                max_tokens: params.max_tokens,
                json_answer: params.json_schema.is_some(),
            };
            tokio::spawn(forward_responses(model, request, expected, sender));
            Ok(Box::pin(ReceiverStream::new(receiver)) as EventStream)
        })
    }
}

/// Counts the prompt's tokens as the engine will see them: chat template applied, with the
/// generation prompt, using the model's own tokenizer.
async fn count_prompt_tokens(model: &Model, messages: &[ChatMessage]) -> Result<usize, EngineError> {
    let mut text_messages = TextMessages::new();
    for message in messages {
        text_messages = text_messages.add_message(text_role(message.role), message.content.clone());
    }
    let tokens = model
        .tokenize(Either::Left(text_messages), None, true, true, None)
        .await
        .map_err(|error| EngineError::InvalidRequest(format!("could not apply the chat template: {error}")))?;
    Ok(tokens.len())
}

fn text_role(role: Role) -> TextMessageRole {
    match role {
        Role::System => TextMessageRole::System,
        Role::User => TextMessageRole::User,
        Role::Assistant => TextMessageRole::Assistant,
    }
}

/// Rebuilds the finish reason and usage of a stream that closed without its final chunk.
/// An answer whose text, tokenized again, falls short of `max_tokens` ended on its own (an
/// end-of-sequence token); otherwise it hit the limit. Re-tokenizing can merge a token or
/// two, so answers within two tokens of the limit count as cut off.
fn finish_without_final_chunk(expected: &ExpectedGeneration, text_tokens: Option<usize>) -> (FinishReason, TokenUsage) {
    tracing::debug!(max_tokens = expected.max_tokens, ?text_tokens, "the engine closed the stream without a final chunk");
    let (reason, completion_tokens) = match text_tokens {
        // The end-of-sequence token counts as generated, as in mistral.rs's own usage.
        Some(tokens) if tokens + 2 < expected.max_tokens => (FinishReason::Stop, tokens + 1),
        _ => (FinishReason::Length, expected.max_tokens),
    };
    let usage = TokenUsage {
        prompt_tokens: expected.prompt_tokens,
        completion_tokens,
        total_tokens: expected.prompt_tokens + completion_tokens,
    };
    (reason, usage)
}

/// Tells whether text is a whole JSON object or array. Those close themselves, so nothing
/// the model could add would still belong to the value.
fn is_complete_json(text: &str) -> bool {
    let text = text.trim();
    (text.starts_with('{') || text.starts_with('[')) && serde_json::from_str::<serde_json::Value>(text).is_ok()
}

/// Counts the tokens of generated text with the model's tokenizer; `None` if that fails.
async fn count_text_tokens(model: &Model, text: &str) -> Option<usize> {
    match model.tokenize(Either::Right(text.to_string()), None, false, false, None).await {
        Ok(tokens) => Some(tokens.len()),
        Err(error) => {
            tracing::debug!(%error, "could not count the answer's tokens");
            None
        }
    }
}

fn build_request(messages: Vec<ChatMessage>, params: &GenerationParams) -> Result<RequestBuilder, EngineError> {
    let mut request = RequestBuilder::new();
    for message in messages {
        if message.images.is_empty() {
            request = request.add_message(text_role(message.role), message.content);
            continue;
        }
        let images = message
            .images
            .iter()
            .map(|image| {
                image::load_from_memory(&image.bytes)
                    .map_err(|error| EngineError::InvalidRequest(format!("could not decode a {} image: {error}", image.media_type)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        request = request.add_image_message(text_role(message.role), message.content, images);
    }
    let mut sampling = SamplingParams::deterministic();
    if let Some(temperature) = params.temperature.filter(|temperature| *temperature > 0.0) {
        sampling.temperature = Some(temperature);
        sampling.top_k = None;
    }
    sampling.top_p = params.top_p;
    sampling.max_len = Some(params.max_tokens);
    sampling.repetition_penalty = params.repetition_penalty.filter(|penalty| *penalty != 1.0);
    if !params.stop.is_empty() {
        sampling.stop_toks = Some(StopTokens::Seqs(params.stop.clone()));
    }
    if let Some(schema) = &params.json_schema {
        request = request.set_constraint(Constraint::JsonSchema(schema.clone()));
    }
    Ok(request.set_sampling(sampling))
}

/// Runs one generation and forwards its chunks. When the receiver is dropped the send
/// fails, this task returns, and dropping the mistral.rs stream makes the engine cancel
/// the sequence.
/// Facts about a generation fixed before it starts, used to finish a stream that mistral.rs
/// closes without its final chunk.
struct ExpectedGeneration {
    prompt_tokens: usize,
    max_tokens: usize,
    /// The answer is constrained to a JSON schema.
    json_answer: bool,
}

async fn forward_responses(
    model: Arc<Model>,
    request: RequestBuilder,
    expected: ExpectedGeneration,
    sender: mpsc::Sender<Result<EngineEvent, EngineError>>,
) {
    let mut stream = match model.stream_chat_request(request).await {
        Ok(stream) => stream,
        Err(error) => {
            let _ = sender.send(Err(EngineError::InvalidRequest(error.to_string()))).await;
            return;
        }
    };

    let mut finish_reason = None;
    let mut usage = None;
    let mut generated = String::new();
    while let Some(response) = stream.next().await {
        match response {
            Response::Chunk(chunk) => {
                tracing::trace!(choices = chunk.choices.len(), usage = chunk.usage.is_some(), "chunk");
                if let Some(chunk_usage) = chunk.usage {
                    usage = Some(chunk_usage);
                }
                for choice in chunk.choices {
                    if let Some(content) = choice.delta.content.filter(|content| !content.is_empty()) {
                        generated.push_str(&content);
                        if sender.send(Ok(EngineEvent::Delta(content))).await.is_err() {
                            return;
                        }
                    }
                    if let Some(reason) = choice.finish_reason {
                        finish_reason = Some(reason);
                    }
                }
                if finish_reason.is_some() {
                    break;
                }
                if expected.json_answer && is_complete_json(&generated) {
                    // NOTE: with a JSON-schema constraint on SmolLM2's GGUF, mistral.rs 0.8.1
                    // keeps generating empty tokens after the JSON is complete until
                    // max_tokens (the end token the grammar forces is not one it stops on).
                    // Dropping the stream here cancels that sequence.
                    break;
                }
            }
            Response::Done(done) => {
                usage = Some(done.usage);
                finish_reason = done.choices.first().map(|choice| choice.finish_reason.clone());
                break;
            }
            Response::ModelError(message, _) => {
                let _ = sender.send(Err(EngineError::Generation(message))).await;
                return;
            }
            Response::InternalError(error) => {
                let _ = sender.send(Err(EngineError::Generation(error.to_string()))).await;
                return;
            }
            Response::ValidationError(error) => {
                let _ = sender.send(Err(EngineError::InvalidRequest(error.to_string()))).await;
                return;
            }
            Response::CompletionModelError(message, _) => {
                let _ = sender.send(Err(EngineError::Generation(message))).await;
                return;
            }
            _ => tracing::debug!("ignored an unexpected mistral.rs response"),
        }
    }

    let (reason, usage) = match (finish_reason.as_deref(), usage) {
        (Some(reason), Some(usage)) => {
            let reason = if reason == "length" { FinishReason::Length } else { FinishReason::Stop };
            let usage = TokenUsage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                total_tokens: usage.prompt_tokens + usage.completion_tokens,
            };
            (reason, usage)
        }
        // NOTE: mistral.rs 0.8.1 sends no final chunk (neither finish reason nor usage) when
        // the last token adds no text: a token that ends inside a multi-byte UTF-8
        // character (common for Chinese cut at max_tokens), or the end-of-sequence token
        // that a JSON-schema constraint forces once the JSON is complete. `get_delta`
        // returns nothing, so the chunk that would carry both is skipped and the stream just
        // closes. The usage is rebuilt here from docent's own token counts.
        _ => {
            let completion_tokens = count_text_tokens(&model, &generated).await;
            finish_without_final_chunk(&expected, completion_tokens)
        }
    };
    let _ = sender.send(Ok(EngineEvent::Finished { reason, usage })).await;
}
