//! Request and response bodies of the OpenAI-compatible endpoints.

use serde::{Deserialize, Serialize};

use crate::models::TokenUsage;
use crate::answer::Source;
use crate::rag::HitKind;

#[derive(Debug, Deserialize)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<RequestMessage>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub max_tokens: Option<usize>,
    #[serde(default)]
    pub max_completion_tokens: Option<usize>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub stop: Option<StopSequences>,
    #[serde(default)]
    pub n: Option<usize>,
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
}

/// `response_format`: plain text, any JSON object, or JSON matching a schema.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Debug, Deserialize)]
pub struct JsonSchemaFormat {
    pub name: String,
    pub schema: serde_json::Value,
    #[serde(default)]
    pub strict: Option<bool>,
}

impl ResponseFormat {
    /// Returns the schema that generation must follow, if any.
    pub fn json_schema(self) -> Option<serde_json::Value> {
        match self {
            Self::Text => None,
            Self::JsonObject => Some(serde_json::json!({ "type": "object" })),
            Self::JsonSchema { json_schema } => Some(json_schema.schema),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StopSequences {
    One(String),
    Many(Vec<String>),
}

impl StopSequences {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(stop) => vec![stop],
            Self::Many(stops) => stops,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RequestMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<MessageContent>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub image_url: Option<ImageUrlPart>,
}

#[derive(Debug, Deserialize)]
pub struct ImageUrlPart {
    pub url: String,
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ChatCompletionResponse {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: TokenUsage,
    /// docent's extra field: the passages the answer was grounded in.
    pub sources: Vec<SourceInfo>,
}

#[derive(Debug, Serialize)]
pub struct Choice {
    pub index: usize,
    pub message: AssistantMessage,
    pub finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
pub struct AssistantMessage {
    pub role: &'static str,
    pub content: String,
}

#[derive(Debug, Serialize)]
pub struct ChatCompletionChunk<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<&'a [SourceInfo]>,
}

#[derive(Debug, Serialize)]
pub struct ChunkChoice {
    pub index: usize,
    pub delta: Delta,
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Default, Serialize)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// A source as API clients see it: `number` is the `[n]` the answer cites.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    pub number: usize,
    pub kind: HitKind,
    pub doc: String,
    pub pages: Vec<u32>,
    pub score: f32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub heading: String,
    /// For an image source, its id: `GET /v1/images/ID` returns the PNG.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// For an image source: whether the model was given the image itself (true) or only its
    /// caption (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_seen: Option<bool>,
}

impl SourceInfo {
    pub fn new(source: &Source) -> Self {
        let hit = &source.hit;
        Self {
            number: source.number,
            kind: hit.kind,
            doc: hit.doc.clone(),
            pages: hit.pages.clone(),
            score: hit.score,
            heading: hit.heading.clone(),
            image: hit.image.clone(),
            image_seen: hit.image.is_some().then_some(source.image_seen),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelInfo>,
}

#[derive(Debug, Serialize)]
pub struct ModelInfo {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: &'static str,
}
