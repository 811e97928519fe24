//! The OpenAI-compatible HTTP API.
//!
//! The model name chooses what answers: `docent` is the knowledge base given to
//! `docent serve --kb`, `docent/NAME` is knowledge base NAME, and the engine's own model
//! name is plain chat without retrieval.

mod chat;
mod error;
mod models_endpoint;
pub mod types;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

pub use error::ApiError;

use crate::answer::{AnswerOptions, Assistant};
use crate::config::Paths;
use crate::models::ChatEngine;
use crate::rag::KnowledgeBase;

/// Model name that selects the server's default knowledge base.
pub const DEFAULT_MODEL_NAME: &str = "docent";

pub struct AppState {
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
    pub fn new(paths: Paths, knowledge_base: Arc<KnowledgeBase>, engine: Arc<dyn ChatEngine>, options: AnswerOptions) -> Arc<Self> {
        let default_assistant = Assistant::new(knowledge_base, Arc::clone(&engine));
        Arc::new(Self { paths, default_assistant, engine, options, other_assistants: Mutex::new(HashMap::new()) })
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
        if name == self.default_assistant.knowledge_base().name {
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

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/models", get(models_endpoint::list_models))
        .route("/health", get(models_endpoint::health))
        .with_state(state)
}

/// Binds the listening socket, with a one-line message for the usual failures.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
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
    axum::serve(listener, router(state))
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
