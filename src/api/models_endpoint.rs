//! `GET /v1/models` and `GET /health`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::types::{ModelInfo, ModelList};
use super::AppState;
use crate::rag::list_knowledge_bases;

pub async fn list_models(State(state): State<Arc<AppState>>) -> Json<ModelList> {
    let model = |id: String| ModelInfo { id, object: "model", created: 0, owned_by: "docent" };
    let mut data = vec![model(super::DEFAULT_MODEL_NAME.to_string())];
    let paths = state.paths.clone();
    let names = tokio::task::spawn_blocking(move || list_knowledge_bases(&paths)).await.unwrap_or_default();
    data.extend(names.into_iter().map(|name| model(format!("{}/{name}", super::DEFAULT_MODEL_NAME))));
    data.push(model(state.engine.model_name().to_string()));
    Json(ModelList { object: "list", data })
}

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
