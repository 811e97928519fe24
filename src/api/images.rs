//! `GET /v1/images/{id}`: the PNG of an image that a source or search result names.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, AppState, ModelTarget};

#[derive(Debug, Deserialize)]
pub struct ImageQuery {
    /// `docent` or `docent/NAME`: the knowledge base the image belongs to; `docent` when absent.
    #[serde(default)]
    pub model: Option<String>,
}

pub async fn image(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<ImageQuery>,
) -> Result<Response, ApiError> {
    // Ids are sha256 digests in hex; anything else could name a path outside the folder.
    if id.len() != 64 || !id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(ApiError::not_found(&format!("No image `{id}`.")));
    }
    let model = query.model.as_deref().unwrap_or(super::DEFAULT_MODEL_NAME);
    let ModelTarget::KnowledgeBase(assistant) = state.resolve_model(model).await? else {
        return Err(ApiError::invalid_request(format!("`{model}` has no knowledge base: use `docent` or `docent/NAME`."), Some("model")));
    };
    let path = super::served_knowledge_base(&assistant)?.images_dir().join(format!("{id}.png"));
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "max-age=86400, immutable")], bytes).into_response()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(ApiError::not_found(&format!("No image `{id}`."))),
        Err(error) => {
            tracing::error!(%error, path = %path.display(), "could not read an image");
            Err(ApiError::internal(&error))
        }
    }
}
