//! Chat engines behind one trait: `local` runs a model in-process through mistral.rs,
//! `remote` calls an OpenAI-compatible server.

pub mod engine;
pub mod local;
pub mod remote;

pub use engine::{
    ChatEngine, ChatMessage, EngineError, EngineEvent, EventStream, FinishReason, GenerationParams, InputImage, Role,
    TokenUsage,
};
pub use local::{LocalEngine, ModelSpec};
pub use remote::{RemoteConfig, RemoteEngine};
