//! `POST /v1/embeddings`: vectors from the text encoder of a knowledge base.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{body_or_error, parse_json, ApiError, AppState, ModelTarget};

#[derive(Debug, Deserialize)]
pub struct EmbeddingRequest {
    pub input: Value,
    /// The encoder's id as listed by `/v1/models`, or `docent` / `docent/NAME` for the
    /// encoder of that knowledge base.
    pub model: String,
    #[serde(default)]
    pub encoding_format: Option<String>,
    #[serde(default)]
    pub dimensions: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct EmbeddingResponse {
    pub object: &'static str,
    pub data: Vec<Embedding>,
    pub model: String,
    pub usage: EmbeddingUsage,
}

#[derive(Debug, Serialize)]
pub struct Embedding {
    pub object: &'static str,
    pub index: usize,
    /// An array of floats, or a base64 string of little-endian f32 values when the request
    /// asked for `encoding_format: "base64"`.
    pub embedding: Value,
}

#[derive(Debug, Serialize)]
pub struct EmbeddingUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

/// Maximum number of inputs in one request.
const MAX_INPUTS: usize = 2048;

pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EmbeddingResponse>, ApiError> {
    let body = body_or_error(body, state.config.max_body_bytes)?;
    let request: EmbeddingRequest = parse_json(&body)?;
    let inputs = parse_inputs(&request.input)?;
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid_request(
                format!("`encoding_format` must be `float` or `base64`, not `{other}`."),
                Some("encoding_format"),
            ))
        }
    };

    let encoder = state.text_encoder(&request.model).await?;
    if let Some(dimensions) = request.dimensions {
        if dimensions != encoder.dimension() {
            return Err(ApiError::invalid_request(
                format!("`{}` returns {} dimensions and cannot shorten them.", request.model, encoder.dimension()),
                Some("dimensions"),
            ));
        }
    }

    let model = encoder.model_id().to_string();
    let (vectors, tokens) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<Vec<f32>>, usize)> {
        let texts: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let mut tokens = 0;
        for text in &texts {
            tokens += encoder.count_tokens(text)?;
        }
        Ok((encoder.encode(&texts)?, tokens))
    })
    .await
    .map_err(|error| ApiError::internal(&error))?
    .map_err(|error| ApiError::internal(&format!("{error:#}")))?;

    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes = crate::rag::catalog::vector_to_bytes(&vector);
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                Value::from(vector)
            };
            Embedding { object: "embedding", index, embedding }
        })
        .collect();
    Ok(Json(EmbeddingResponse {
        object: "list",
        data,
        model,
        usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens },
    }))
}

/// Accepts a string or an array of strings. Token-id inputs are rejected because the ids
/// of OpenAI's tokenizers mean nothing to a local encoder.
fn parse_inputs(input: &Value) -> Result<Vec<String>, ApiError> {
    let invalid = |message: &str| ApiError::invalid_request(message.to_string(), Some("input"));
    let inputs = match input {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => {
            if items.is_empty() {
                return Err(invalid("`input` must not be an empty array."));
            }
            if items.len() > MAX_INPUTS {
                return Err(invalid(&format!("`input` may hold at most {MAX_INPUTS} strings.")));
            }
            let mut texts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(text) => texts.push(text.clone()),
                    _ => return Err(invalid("`input` must be a string or an array of strings; token ids are not supported.")),
                }
            }
            texts
        }
        _ => return Err(invalid("`input` must be a string or an array of strings.")),
    };
    if inputs.iter().any(|text| text.is_empty()) {
        return Err(invalid("`input` must not contain empty strings."));
    }
    Ok(inputs)
}

impl AppState {
    /// Finds the text encoder a request names: a knowledge base's model name or the
    /// encoder's own id.
    async fn text_encoder(&self, model: &str) -> Result<Arc<dyn crate::rag::embed::TextEncoder>, ApiError> {
        let no_encoder = || {
            ApiError::invalid_request(
                format!(
                    "`{model}` has no text encoder: its knowledge base was ingested without vectors, \
                     or its encoder could not be loaded (the server log says why)."
                ),
                Some("model"),
            )
        };
        let default_kb = super::served_knowledge_base(&self.default_assistant)?;
        let default_encoder = tokio::task::spawn_blocking(move || default_kb.text_encoder())
            .await
            .map_err(|error| ApiError::internal(&error))?;
        if default_encoder.as_ref().is_some_and(|encoder| encoder.model_id() == model) {
            return Ok(default_encoder.expect("checked above"));
        }
        match self.resolve_model(model).await? {
            ModelTarget::KnowledgeBase(assistant) => {
                let knowledge_base = super::served_knowledge_base(&assistant)?;
                tokio::task::spawn_blocking(move || knowledge_base.text_encoder())
                    .await
                    .map_err(|error| ApiError::internal(&error))?
                    .ok_or_else(no_encoder)
            }
            ModelTarget::Engine => Err(ApiError::invalid_request(
                format!("`{model}` is a chat model; use a text encoder or a `docent` model for embeddings."),
                Some("model"),
            )),
        }
    }
}
