//! The chat-engine interface: messages in, a cancellable stream of text deltas out,
//! ending with the finish reason and token usage.

use std::pin::Pin;

use futures::future::BoxFuture;
use futures::Stream;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Images of a user message, for engines that accept them.
    pub images: Vec<InputImage>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), images: Vec::new() }
    }
}

/// An image given with a question: encoded bytes (PNG, JPEG, WebP or GIF) and their media
/// type, checked to decode within the limits before they reach an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputImage {
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl InputImage {
    /// Largest image file [`InputImage::read_file`] reads, in bytes.
    pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

    /// Reads an image file and checks from its header that it is PNG, JPEG, WebP or GIF
    /// within the pixel limit of image documents. Files over [`Self::MAX_FILE_BYTES`] are
    /// rejected before they are read.
    pub fn read_file(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context;

        let size = std::fs::metadata(path).with_context(|| format!("could not read the image `{}`", path.display()))?.len();
        if size > Self::MAX_FILE_BYTES {
            anyhow::bail!("the image `{}` is {size} bytes, more than the limit of {} bytes", path.display(), Self::MAX_FILE_BYTES);
        }
        let bytes = std::fs::read(path).with_context(|| format!("could not read the image `{}`", path.display()))?;
        let (format, _, _) = crate::rag::extract::inspect_image(&bytes).map_err(|error| match error {
            crate::rag::extract::ExtractError::ImageTooLarge { .. } => anyhow::anyhow!("`{}`: {error}", path.display()),
            _ => anyhow::anyhow!("`{}` is not a PNG, JPEG, WebP or GIF image ({error})", path.display()),
        })?;
        let media_type = match format {
            image::ImageFormat::Png => "image/png",
            image::ImageFormat::Jpeg => "image/jpeg",
            image::ImageFormat::WebP => "image/webp",
            image::ImageFormat::Gif => "image/gif",
            other => anyhow::bail!("`{}` is a {other:?} image: use PNG, JPEG, WebP or GIF", path.display()),
        };
        Ok(Self { media_type: media_type.into(), bytes })
    }
}

/// Sampling settings for one generation. `temperature: None` means the engine's greedy
/// (deterministic) sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    pub max_tokens: usize,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    /// Divides the logits of tokens already in the prompt or answer (1.0 disables it).
    /// Small models decoding greedily fall into loops without it.
    pub repetition_penalty: Option<f32>,
    /// A JSON schema the answer must match; the engine constrains decoding to it.
    pub json_schema: Option<serde_json::Value>,
    /// Seed for sampling. Remote servers receive it. The local engine's sampler has one
    /// random generator for all requests, so there a seed cannot make sampling repeatable;
    /// greedy decoding (no temperature) is repeatable without one.
    pub seed: Option<u64>,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: None,
            top_p: None,
            stop: Vec::new(),
            repetition_penalty: None,
            json_schema: None,
            seed: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenUsage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// The model ended its answer or hit a stop sequence.
    Stop,
    /// The answer reached `max_tokens` or the context length.
    Length,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    Delta(String),
    Finished { reason: FinishReason, usage: TokenUsage },
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request cannot be served as given (too long for the context, for example).
    #[error("{0}")]
    InvalidRequest(String),
    #[error(
        "the prompt has {prompt_tokens} tokens, but the model's context length is {context_length} \
         tokens: shorten the conversation or ask with fewer or shorter sources"
    )]
    ContextLengthExceeded { prompt_tokens: usize, context_length: usize },
    #[error("generation failed: {0}")]
    Generation(String),
}

/// Stream of generation events; dropping it cancels the generation.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<EngineEvent, EngineError>> + Send>>;

pub trait ChatEngine: Send + Sync {
    /// Name of the underlying model, as reported to API clients.
    fn model_name(&self) -> &str;

    /// Maximum number of tokens (prompt and answer together), if the engine reports it.
    fn context_length(&self) -> Option<usize>;

    /// Counts the prompt tokens of a conversation as the engine will see it (chat template
    /// applied), or returns `None` when the engine cannot count them locally.
    fn count_tokens<'a>(&'a self, messages: &'a [ChatMessage]) -> BoxFuture<'a, Result<Option<usize>, EngineError>>;

    /// Tells whether the engine takes images in user messages. A remote server decides for
    /// itself, so remote engines forward them.
    fn accepts_images(&self) -> bool {
        false
    }

    /// Tells whether the model is known to read images. Remote engines return false
    /// because the server's model is unknown.
    fn is_multimodal(&self) -> bool {
        false
    }

    /// Returns an estimate of the prompt tokens one image takes, for the prompt budget;
    /// `None` where the engine cannot tell.
    fn image_prompt_tokens(&self) -> Option<usize> {
        None
    }

    /// Starts generating an answer to the conversation.
    fn stream_chat(&self, messages: Vec<ChatMessage>, params: GenerationParams) -> BoxFuture<'_, Result<EventStream, EngineError>>;
}
