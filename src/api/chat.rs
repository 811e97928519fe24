//! `POST /v1/chat/completions`: grounded answers in OpenAI's chat format, streamed or not.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use tokio::sync::OwnedSemaphorePermit;

use super::error::ApiError;
use super::input_image::{resolve_image_url, ImagePolicy};
use super::types::{
    AssistantMessage, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Choice, ChunkChoice, Delta,
    MessageContent, RequestMessage, ResponseFormat, SourceInfo,
};
use super::{body_or_error, parse_json, AppState, ModelTarget};
use crate::answer::{AnswerError, Turn};
use crate::models::{ChatMessage, EngineError, EngineEvent, EventStream, GenerationParams, InputImage, Role, TokenUsage};

/// A request's messages, normalized: system text merged, turns paired, and the question last.
#[derive(Debug)]
struct Conversation {
    system: Option<String>,
    history: Vec<Turn>,
    question: String,
    /// Images of the question (the last user message).
    question_images: Vec<InputImage>,
    /// `param` of each image part, for errors about images.
    image_params: Vec<String>,
    /// The messages as given (roles normalized), for models used without retrieval.
    messages: Vec<ChatMessage>,
}

pub async fn chat_completions(State(state): State<Arc<AppState>>, body: Result<Bytes, BytesRejection>) -> Response {
    match handle(state, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn handle(state: Arc<AppState>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = body_or_error(body, state.config.max_body_bytes)?;
    let request: ChatCompletionRequest = parse_json(&body)?;

    let remote_images = state.images.fetch_remote_images(&request.messages).await?;
    let conversation = parse_conversation(&request.messages, state.images.policy(), &remote_images)?;
    if request.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid_request("Only n=1 is supported.", Some("n")));
    }
    let target = state.resolve_model(&request.model).await?;
    if let Some(param) = conversation.image_params.first() {
        if !state.engine.accepts_images() {
            return Err(ApiError::invalid_request(
                format!("The model `{}` reads text only and cannot take images.", state.engine.model_name()),
                Some(param),
            ));
        }
    }

    let requested_max_tokens = match (request.max_completion_tokens, request.max_tokens) {
        (Some(0), _) => return Err(ApiError::invalid_request("`max_completion_tokens` must be at least 1.", Some("max_completion_tokens"))),
        (None, Some(0)) => return Err(ApiError::invalid_request("`max_tokens` must be at least 1.", Some("max_tokens"))),
        (completion, plain) => completion.or(plain),
    };
    let json_schema = request.response_format.and_then(ResponseFormat::json_schema);
    if json_schema.as_ref().is_some_and(|schema| !schema.is_object()) {
        return Err(ApiError::invalid_request(
            "`response_format.json_schema.schema` must be a JSON Schema object.",
            Some("response_format.json_schema.schema"),
        ));
    }
    let params = GenerationParams {
        // The server's --max-tokens caps what a request may ask for.
        max_tokens: requested_max_tokens.map_or(state.options.generation.max_tokens, |requested| {
            requested.min(state.options.generation.max_tokens)
        }),
        temperature: request.temperature,
        top_p: request.top_p,
        stop: request.stop.map(|stop| stop.into_vec()).unwrap_or_default(),
        repetition_penalty: state.options.generation.repetition_penalty,
        json_schema,
        seed: request.seed.map(|seed| seed as u64),
    };

    // Held until the answer ends: dropped with the response stream, or after collecting.
    let permit = state.limiter.acquire().await?;
    let (sources, events) = match target {
        ModelTarget::KnowledgeBase(assistant) => {
            let mut options = state.options.clone();
            options.generation = params;
            let pending = assistant
                .answer_with_images(
                    &conversation.history,
                    &conversation.question,
                    conversation.question_images,
                    conversation.system.as_deref(),
                    &options,
                )
                .await
                .map_err(map_answer_error)?;
            state.metrics.record_retrieval(pending.retrieval_time);
            let sources: Vec<SourceInfo> =
                pending.sources.iter().map(SourceInfo::new).collect();
            (sources, pending.events)
        }
        ModelTarget::Engine => {
            let events = state.engine.stream_chat(conversation.messages, params).await.map_err(map_engine_error)?;
            (Vec::new(), events)
        }
    };

    let id = format!("chatcmpl-{}", completion_id_suffix());
    let created = unix_seconds();
    tracing::info!(model = %request.model, stream = request.stream, sources = sources.len(), "chat completion");
    if request.stream {
        let include_usage = request.stream_options.is_some_and(|options| options.include_usage);
        let events = count_usage(hold_permit(events, permit), Arc::clone(&state));
        Ok(stream_response(id, created, request.model, sources, events, include_usage).into_response())
    } else {
        let events = count_usage(events, Arc::clone(&state));
        let response = collect_response(id, created, request.model, sources, events).await;
        drop(permit);
        response
    }
}

/// Normalizes the messages. Remote images come from `remote_images`, downloaded beforehand.
fn parse_conversation(
    messages: &[RequestMessage],
    image_policy: &ImagePolicy,
    remote_images: &HashMap<String, InputImage>,
) -> Result<Conversation, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid_request("`messages` must contain at least one message.", Some("messages")));
    }

    let mut system_parts = Vec::new();
    let mut turns: Vec<ChatMessage> = Vec::new();
    let mut image_params = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let MessageParts { text, images } = message_parts(message, index, image_policy, remote_images)?;
        if !images.is_empty() && message.role != "user" {
            return Err(ApiError::invalid_request(
                "Only user messages may carry images.",
                Some(&images[0].1),
            ));
        }
        image_params.extend(images.iter().map(|(_, param)| param.clone()));
        let images: Vec<InputImage> = images.into_iter().map(|(image, _)| image).collect();
        let role = match message.role.as_str() {
            "system" | "developer" => {
                system_parts.push(text);
                continue;
            }
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(ApiError::invalid_request(
                    format!("Unsupported role `{other}`: use system, developer, user or assistant."),
                    Some(&format!("messages[{index}].role")),
                ))
            }
        };
        // Consecutive messages of one role are merged, as chat templates expect alternation.
        match turns.last_mut() {
            Some(last) if last.role == role => {
                last.content.push_str("\n\n");
                last.content.push_str(&text);
                last.images.extend(images);
            }
            _ => {
                let mut message = ChatMessage::new(role, text);
                message.images = images;
                turns.push(message);
            }
        }
    }

    let question = match turns.last() {
        Some(last) if last.role == Role::User && last.content.trim().is_empty() => {
            return Err(ApiError::invalid_request(
                "The last user message is empty.",
                Some(&format!("messages[{}].content", messages.len() - 1)),
            ))
        }
        Some(last) if last.role == Role::User => last.content.clone(),
        _ => {
            return Err(ApiError::invalid_request(
                "The last message must come from the user.",
                Some(&format!("messages[{}]", messages.len() - 1)),
            ))
        }
    };

    let mut history = Vec::new();
    let mut pending_question: Option<&str> = None;
    for message in &turns[..turns.len() - 1] {
        match message.role {
            Role::User => pending_question = Some(&message.content),
            Role::Assistant => history.push(Turn {
                question: pending_question.take().unwrap_or_default().to_string(),
                answer: message.content.clone(),
            }),
            Role::System => {}
        }
    }

    let system = (!system_parts.is_empty()).then(|| system_parts.join("\n\n"));
    let mut all_messages = Vec::with_capacity(turns.len() + 1);
    if let Some(system) = &system {
        all_messages.push(ChatMessage::new(Role::System, system.clone()));
    }
    let question_images = turns.last().map(|last| last.images.clone()).unwrap_or_default();
    all_messages.extend(turns);
    Ok(Conversation { system, history, question, question_images, image_params, messages: all_messages })
}

/// A message's text parts joined in order, and its images with the `param` of each part.
struct MessageParts {
    text: String,
    images: Vec<(InputImage, String)>,
}

fn message_parts(
    message: &RequestMessage,
    index: usize,
    image_policy: &ImagePolicy,
    remote_images: &HashMap<String, InputImage>,
) -> Result<MessageParts, ApiError> {
    let parts = match &message.content {
        None => return Ok(MessageParts { text: String::new(), images: Vec::new() }),
        Some(MessageContent::Text(text)) => return Ok(MessageParts { text: text.clone(), images: Vec::new() }),
        Some(MessageContent::Parts(parts)) => parts,
    };
    let mut texts = Vec::new();
    let mut images = Vec::new();
    for (part_index, part) in parts.iter().enumerate() {
        let param = format!("messages[{index}].content[{part_index}]");
        match (part.kind.as_str(), &part.text, &part.image_url) {
            ("text", Some(text), _) => texts.push(text.as_str()),
            ("text", None, _) => {
                return Err(ApiError::invalid_request("A text part needs a `text` field.", Some(&format!("{param}.text"))))
            }
            ("image_url", _, Some(image_url)) => {
                let url_param = format!("{param}.image_url.url");
                let image = resolve_image_url(&image_url.url, &url_param, image_policy, remote_images)?;
                images.push((image, param));
            }
            ("image_url", _, None) => {
                return Err(ApiError::invalid_request(
                    "An image part needs an `image_url` object with a `url`.",
                    Some(&format!("{param}.image_url")),
                ))
            }
            (other, _, _) => {
                return Err(ApiError::invalid_request(
                    format!("Unsupported content part type `{other}`: use `text` or `image_url`."),
                    Some(&format!("{param}.type")),
                ))
            }
        }
    }
    Ok(MessageParts { text: texts.join("\n"), images })
}

fn map_answer_error(error: AnswerError) -> ApiError {
    match error {
        AnswerError::Engine(engine_error) => map_engine_error(engine_error),
        AnswerError::Retrieval(retrieval_error) => ApiError::internal(&format!("{retrieval_error:#}")),
    }
}

/// Ties a generation slot to a stream, so that the slot is freed when the stream ends or
/// the client disconnects.
fn hold_permit(events: EventStream, permit: OwnedSemaphorePermit) -> EventStream {
    Box::pin(events.map(move |event| {
        let _slot = &permit;
        event
    }))
}

/// Adds the token usage of a finished generation to the metrics.
fn count_usage(events: EventStream, state: Arc<AppState>) -> EventStream {
    Box::pin(events.inspect(move |event| {
        if let Ok(EngineEvent::Finished { usage, .. }) = event {
            state.metrics.record_usage(*usage);
        }
    }))
}

fn map_engine_error(error: EngineError) -> ApiError {
    match error {
        EngineError::InvalidRequest(message) => ApiError::invalid_request(message, Some("messages")),
        error @ EngineError::ContextLengthExceeded { .. } => ApiError::context_length_exceeded(error.to_string()),
        EngineError::Generation(message) => ApiError::internal(&message),
    }
}

async fn collect_response(
    id: String,
    created: u64,
    model: String,
    sources: Vec<SourceInfo>,
    mut events: EventStream,
) -> Result<Response, ApiError> {
    let mut content = String::new();
    while let Some(event) = events.next().await {
        match event.map_err(map_engine_error)? {
            EngineEvent::Delta(text) => content.push_str(&text),
            EngineEvent::Finished { reason, usage } => {
                let response = ChatCompletionResponse {
                    id,
                    object: "chat.completion",
                    created,
                    model,
                    choices: vec![Choice {
                        index: 0,
                        message: AssistantMessage { role: "assistant", content },
                        finish_reason: reason.as_str(),
                    }],
                    usage,
                    sources,
                };
                return Ok(Json(response).into_response());
            }
        }
    }
    Err(ApiError::internal(&"the engine stream ended without a finish event"))
}

/// Streams chunks: the role first, then text deltas, then a chunk with the sources, the
/// chunk with the finish reason, the usage chunk if requested, and `[DONE]`. An engine
/// error mid-stream is sent as an error event before `[DONE]`.
fn stream_response(
    id: String,
    created: u64,
    model: String,
    sources: Vec<SourceInfo>,
    mut events: EventStream,
    include_usage: bool,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let stream = async_stream::stream! {
        let chunk = |choices: Vec<ChunkChoice>, usage: Option<TokenUsage>, with_sources: bool| {
            let chunk = ChatCompletionChunk {
                id: &id,
                object: "chat.completion.chunk",
                created,
                model: &model,
                choices,
                usage,
                sources: with_sources.then_some(sources.as_slice()),
            };
            Event::default().data(serde_json::to_string(&chunk).expect("chunk serializes to JSON"))
        };
        let delta_choice = |delta: Delta, finish_reason: Option<&'static str>| vec![ChunkChoice { index: 0, delta, finish_reason }];

        yield Ok(chunk(delta_choice(Delta { role: Some("assistant"), content: Some(String::new()) }, None), None, false));
        while let Some(event) = events.next().await {
            match event {
                Ok(EngineEvent::Delta(text)) => {
                    yield Ok(chunk(delta_choice(Delta { role: None, content: Some(text) }, None), None, false));
                }
                Ok(EngineEvent::Finished { reason, usage }) => {
                    yield Ok(chunk(delta_choice(Delta::default(), None), None, true));
                    yield Ok(chunk(delta_choice(Delta::default(), Some(reason.as_str())), None, false));
                    if include_usage {
                        yield Ok(chunk(Vec::new(), Some(usage), false));
                    }
                    break;
                }
                Err(error) => {
                    let api_error = map_engine_error(error);
                    let body = serde_json::to_string(&api_error.body()).expect("error serializes to JSON");
                    yield Ok(Event::default().data(body));
                    break;
                }
            }
        }
        yield Ok(Event::default().data("[DONE]"));
    };
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or_default()
}

/// Builds a completion id suffix from the nanoseconds since the epoch and a process-wide
/// counter, unique within one server and very unlikely to repeat across restarts.
fn completion_id_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_nanos()).unwrap_or_default();
    format!("{nanos:x}{:04x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(role: &str, text: &str) -> RequestMessage {
        RequestMessage { role: role.into(), content: Some(MessageContent::Text(text.into())) }
    }

    fn parse_text_only(messages: &[RequestMessage]) -> Result<Conversation, ApiError> {
        parse_conversation(messages, &ImagePolicy::default(), &HashMap::new())
    }

    #[test]
    fn conversation_pairs_turns_and_merges() {
        let messages = [
            message("system", "s1"),
            message("user", "q1"),
            message("assistant", "a1"),
            message("system", "s2"),
            message("user", "q2a"),
            message("user", "q2b"),
        ];
        let conversation = parse_text_only(&messages).unwrap();
        assert_eq!(conversation.system.as_deref(), Some("s1\n\ns2"));
        assert_eq!(conversation.question, "q2a\n\nq2b");
        assert_eq!(conversation.history.len(), 1);
        assert_eq!(conversation.history[0].question, "q1");
        assert_eq!(conversation.history[0].answer, "a1");
    }

    #[test]
    fn conversation_rejects_bad_shapes() {
        let empty = parse_text_only(&[]).unwrap_err();
        assert_eq!(empty.param.as_deref(), Some("messages"));
        let last_assistant = parse_text_only(&[message("user", "q"), message("assistant", "a")]).unwrap_err();
        assert_eq!(last_assistant.param.as_deref(), Some("messages[1]"));
        let bad_role = parse_text_only(&[message("robot", "q")]).unwrap_err();
        assert_eq!(bad_role.param.as_deref(), Some("messages[0].role"));
    }
}
