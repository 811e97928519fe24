//! The OpenAI-compatible HTTP API.
//!
//! The model name chooses what answers: `docent` is the knowledge base given to
//! `docent serve --kb`, `docent/NAME` is knowledge base NAME, and the engine's own model
//! name is plain chat without retrieval.

mod auth;
mod chat;
mod embeddings;
mod images;
mod input_image;
mod error;
mod limits;
mod metrics;
mod models_endpoint;
mod search;
pub mod types;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use input_image::{AllowedHost, ImagePolicy};

use crate::answer::{AnswerOptions, Assistant};
use crate::config::Paths;
use crate::models::ChatEngine;
use crate::rag::KnowledgeBase;

/// Model name that selects the server's default knowledge base.
pub const DEFAULT_MODEL_NAME: &str = "docent";

/// Server settings that are not about answers.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Bearer tokens accepted on every endpoint but `/health`; empty means no authentication.
    pub api_keys: Vec<String>,
    /// Origins allowed to call the API from a browser; empty means CORS is off.
    pub cors_origins: Vec<String>,
    pub max_body_bytes: usize,
    /// Generations that run at the same time.
    pub max_running_generations: usize,
    /// Generations that may wait for a slot before requests get 503.
    pub max_waiting_generations: usize,
    /// Limits on images in requests, and the hosts remote images may come from.
    pub images: ImagePolicy,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            api_keys: Vec::new(),
            cors_origins: Vec::new(),
            max_body_bytes: 4 * 1024 * 1024,
            max_running_generations: 2,
            max_waiting_generations: 16,
            images: ImagePolicy::default(),
        }
    }
}

pub struct AppState {
    config: ServeConfig,
    limiter: limits::GenerationLimiter,
    images: input_image::ImageFetcher,
    metrics: metrics::Metrics,
    paths: Paths,
    default_assistant: Assistant,
    engine: Arc<dyn ChatEngine>,
    options: AnswerOptions,
    /// Assistants for `docent/NAME` models, opened on first use.
    other_assistants: Mutex<HashMap<String, Assistant>>,
}

/// Target selected by a request's `model`.
enum ModelTarget {
    KnowledgeBase(Assistant),
    Engine,
}

impl AppState {
    pub fn new(
        config: ServeConfig,
        paths: Paths,
        knowledge_base: Arc<KnowledgeBase>,
        engine: Arc<dyn ChatEngine>,
        options: AnswerOptions,
    ) -> Result<Arc<Self>> {
        let images = input_image::ImageFetcher::new(config.images.clone()).context("could not set up the image downloader")?;
        let default_assistant = Assistant::new(knowledge_base, Arc::clone(&engine));
        let limiter = limits::GenerationLimiter::new(config.max_running_generations, config.max_waiting_generations);
        Ok(Arc::new(Self { config, limiter, images, metrics: metrics::Metrics::new(), paths, default_assistant, engine, options, other_assistants: Mutex::new(HashMap::new()) }))
    }

    async fn resolve_model(&self, model: &str) -> Result<ModelTarget, ApiError> {
        if model == DEFAULT_MODEL_NAME {
            return Ok(ModelTarget::KnowledgeBase(self.default_assistant.clone()));
        }
        if model == self.engine.model_name() {
            return Ok(ModelTarget::Engine);
        }
        let Some(name) = model.strip_prefix("docent/") else {
            return Err(ApiError::model_not_found(model));
        };
        if self.default_assistant.knowledge_base().is_some_and(|knowledge_base| knowledge_base.name == name) {
            return Ok(ModelTarget::KnowledgeBase(self.default_assistant.clone()));
        }

        let mut assistants = self.other_assistants.lock().await;
        if let Some(assistant) = assistants.get(name) {
            return Ok(ModelTarget::KnowledgeBase(assistant.clone()));
        }
        let paths = self.paths.clone();
        let kb_name = name.to_string();
        let opened = tokio::task::spawn_blocking(move || KnowledgeBase::open(&paths, &kb_name))
            .await
            .map_err(|error| ApiError::internal(&error))?;
        let knowledge_base = opened.map_err(|_| ApiError::model_not_found(model))?;
        let assistant = Assistant::new(Arc::new(knowledge_base), Arc::clone(&self.engine));
        assistants.insert(name.to_string(), assistant.clone());
        Ok(ModelTarget::KnowledgeBase(assistant))
    }
}

pub fn router(state: Arc<AppState>) -> Result<Router> {
    let mut router = Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/search", post(search::search))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/v1/images/{id}", get(images::image))
        .route("/v1/models", get(models_endpoint::list_models))
        .route("/v1/models/{*id}", get(models_endpoint::get_model))
        .route("/health", get(models_endpoint::health))
        .route("/metrics", get(metrics::render))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), auth::require_api_key))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), metrics::track))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(TraceLayer::new_for_http());
    if !state.config.cors_origins.is_empty() {
        router = router.layer(cors_layer(&state.config.cors_origins)?);
    }
    Ok(router.with_state(state))
}

async fn route_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        ..ApiError::invalid_request(format!(
            "No endpoint at `{}`. docent serves /v1/chat/completions, /v1/search, /v1/embeddings, /v1/images/ID, /v1/models, /health and /metrics.",
            uri.path()
        ), None)
    }
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        ..ApiError::invalid_request(format!("`{}` does not accept {method}.", uri.path()), None)
    }
}

/// Allows the configured origins, any method the API has, and whatever headers a preflight
/// requests (the OpenAI JavaScript SDK sends several `x-stainless-*` headers).
fn cors_layer(origins: &[String]) -> Result<CorsLayer> {
    let origins = origins
        .iter()
        .map(|origin| HeaderValue::from_str(origin).with_context(|| format!("invalid CORS origin `{origin}`")))
        .collect::<Result<Vec<_>>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request()))
}

/// Returns the knowledge base of one of the server's assistants. The server makes every
/// assistant with one, so its absence is an internal error.
fn served_knowledge_base(assistant: &Assistant) -> Result<Arc<KnowledgeBase>, ApiError> {
    assistant.knowledge_base().cloned().ok_or_else(|| ApiError::internal(&"the assistant has no knowledge base"))
}

/// Reads a JSON body. A body over the size limit is 413; a malformed body or a field of
/// the wrong type is 400, with `param` naming the field.
fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            ApiError::invalid_request(format!("Invalid JSON body: {inner}"), None)
        } else {
            ApiError::invalid_request(format!("Invalid value for `{path}`: {inner}"), Some(&path))
        }
    })
}

/// Turns a failed body read (too large, or cut off) into an OpenAI-shaped error.
fn body_or_error(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            format!("The request body is larger than the limit of {limit} bytes.")
        } else {
            format!("Could not read the request body: {rejection}")
        };
        ApiError { status, ..ApiError::invalid_request(message, None) }
    })
}

/// Binds the listening socket, with a one-line message for the usual failures. A host name
/// is resolved, and the first address that can be bound is used.
pub async fn bind(addr: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|error| match error.kind() {
        std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
            "address {addr} is already in use: stop the program using it, or choose another with --addr HOST:PORT"
        ),
        _ => anyhow::Error::new(error).context(format!("could not listen on {addr}")),
    })
}

/// Serves until Ctrl+C or SIGTERM, then lets open requests finish.
pub async fn serve(listener: TcpListener, state: Arc<AppState>) -> Result<()> {
    let addr = listener.local_addr().context("could not read the listening address")?;
    tracing::info!(%addr, "serving the OpenAI-compatible API on http://{addr}/v1");
    eprintln!("docent: serving on http://{addr}/v1 (model `{DEFAULT_MODEL_NAME}`); Ctrl+C stops");
    axum::serve(listener, router(state)?)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    tracing::info!("server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
