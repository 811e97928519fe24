//! `GET /v1/models` and `GET /health`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::types::{ModelInfo, ModelList};
use super::{ApiError, AppState};
use crate::rag::list_knowledge_bases;

pub async fn list_models(State(state): State<Arc<AppState>>) -> Json<ModelList> {
    let model = |id: String| ModelInfo { id, object: "model", created: 0, owned_by: "docent" };
    let mut data = vec![model(super::DEFAULT_MODEL_NAME.to_string())];
    let paths = state.paths.clone();
    let names = tokio::task::spawn_blocking(move || list_knowledge_bases(&paths)).await.unwrap_or_default();
    data.extend(names.into_iter().map(|name| model(format!("{}/{name}", super::DEFAULT_MODEL_NAME))));
    let knowledge_base = state.default_assistant.knowledge_base().cloned();
    let encoder = match knowledge_base {
        Some(knowledge_base) => tokio::task::spawn_blocking(move || knowledge_base.text_encoder()).await.ok().flatten(),
        None => None,
    };
    if let Some(encoder) = encoder {
        data.push(model(encoder.model_id().to_string()));
    }
    data.push(model(state.engine.model_name().to_string()));
    Json(ModelList { object: "list", data })
}

pub async fn get_model(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<ModelInfo>, ApiError> {
    let Json(list) = list_models(State(state)).await;
    list.data.into_iter().find(|model| model.id == id).map(Json).ok_or_else(|| ApiError::model_not_found(&id))
}

pub async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({ "status": "ok", "queued_generations": state.limiter.queue_depth() }))
}
