//! `POST /v1/search`: retrieval only, the same results as `docent search --json`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{body_or_error, parse_json, ApiError, AppState, ModelTarget};
use crate::rag::SearchHit;

#[derive(Debug, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    /// `docent` or `docent/NAME`, as for chat completions; `docent` when absent.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub top_k: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct SearchResponse {
    pub results: Vec<SearchHit>,
}

/// Largest `top_k` a request may ask for.
const MAX_TOP_K: usize = 100;

pub async fn search(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let body = body_or_error(body, state.config.max_body_bytes)?;
    let request: SearchRequest = parse_json(&body)?;
    let top_k = request.top_k.unwrap_or(5);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(ApiError::invalid_request(format!("`top_k` must be between 1 and {MAX_TOP_K}."), Some("top_k")));
    }
    let model = request.model.as_deref().unwrap_or(super::DEFAULT_MODEL_NAME);
    let ModelTarget::KnowledgeBase(assistant) = state.resolve_model(model).await? else {
        return Err(ApiError::invalid_request(format!("`{model}` has no knowledge base: use `docent` or `docent/NAME`."), Some("model")));
    };

    let knowledge_base = super::served_knowledge_base(&assistant)?;
    let results = tokio::task::spawn_blocking(move || knowledge_base.search(&request.query, top_k))
        .await
        .map_err(|error| ApiError::internal(&error))?
        .map_err(|error| ApiError::internal(&format!("{error:#}")))?;
    Ok(Json(SearchResponse { results }))
}
