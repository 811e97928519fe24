//! The remote engine: any OpenAI-compatible server (vLLM, a mistral.rs server, another
//! docent) reached through async-openai; the scale-out path when one machine is not enough.

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessageArgs, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessageArgs,
    ChatCompletionRequestUserMessageArgs, ChatCompletionStreamOptions, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs, FinishReason as OpenAiFinishReason, StopConfiguration,
    ChatCompletionRequestUserMessageContent, ChatCompletionRequestUserMessageContentPart, ImageUrl, ResponseFormat,
    ResponseFormatJsonSchema,
};
use async_openai::Client;
use base64::Engine as _;
use futures::future::BoxFuture;
use futures::StreamExt;

use super::engine::{
    ChatEngine, ChatMessage, EngineError, EngineEvent, EventStream, FinishReason, GenerationParams, Role, TokenUsage,
};

#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Base URL of the API, including `/v1` (e.g. `http://gpu-host:8000/v1`).
    pub base_url: String,
    pub api_key: Option<String>,
    /// Name of the model on the server.
    pub model: String,
}

pub struct RemoteEngine {
    client: Client<OpenAIConfig>,
    config: RemoteConfig,
}

impl RemoteEngine {
    pub fn new(config: RemoteConfig) -> Self {
        let mut openai_config = OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/'));
        if let Some(key) = &config.api_key {
            openai_config = openai_config.with_api_key(key);
        }
        Self { client: Client::with_config(openai_config), config }
    }

    fn request(&self, messages: Vec<ChatMessage>, params: &GenerationParams) -> Result<CreateChatCompletionRequest, EngineError> {
        let invalid = |error: OpenAIError| EngineError::InvalidRequest(error.to_string());
        let mut converted: Vec<ChatCompletionRequestMessage> = Vec::with_capacity(messages.len());
        for message in messages {
            let converted_message = match message.role {
                Role::System => ChatCompletionRequestSystemMessageArgs::default().content(message.content).build().map_err(invalid)?.into(),
                Role::User if !message.images.is_empty() => {
                    let mut parts = vec![ChatCompletionRequestUserMessageContentPart::Text(message.content.into())];
                    for image in &message.images {
                        let encoded = base64::engine::general_purpose::STANDARD.encode(&image.bytes);
                        parts.push(ChatCompletionRequestUserMessageContentPart::ImageUrl(
                            ImageUrl { url: format!("data:{};base64,{encoded}", image.media_type), detail: None }.into(),
                        ));
                    }
                    ChatCompletionRequestUserMessageArgs::default()
                        .content(ChatCompletionRequestUserMessageContent::Array(parts))
                        .build()
                        .map_err(invalid)?
                        .into()
                }
                Role::User => ChatCompletionRequestUserMessageArgs::default().content(message.content).build().map_err(invalid)?.into(),
                Role::Assistant => {
                    ChatCompletionRequestAssistantMessageArgs::default().content(message.content).build().map_err(invalid)?.into()
                }
            };
            converted.push(converted_message);
        }

        let mut builder = CreateChatCompletionRequestArgs::default();
        builder
            .model(self.config.model.clone())
            .messages(converted)
            .stream(true)
            .stream_options(ChatCompletionStreamOptions { include_usage: Some(true), include_obfuscation: None })
            // `max_tokens` rather than `max_completion_tokens`: older vLLM releases know only it.
            .max_tokens(u32::try_from(params.max_tokens).unwrap_or(u32::MAX))
            .temperature(params.temperature.unwrap_or(0.0) as f32);
        if let Some(top_p) = params.top_p {
            builder.top_p(top_p as f32);
        }
        if !params.stop.is_empty() {
            builder.stop(StopConfiguration::StringArray(params.stop.clone()));
        }
        if let Some(schema) = &params.json_schema {
            builder.response_format(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: None,
                    name: "docent_answer".into(),
                    schema: schema.clone(),
                    strict: Some(true),
                },
            });
        }
        if let Some(seed) = params.seed {
            builder.seed(seed as i64);
        }
        builder.build().map_err(invalid)
    }
}

impl ChatEngine for RemoteEngine {
    fn model_name(&self) -> &str {
        &self.config.model
    }

    fn context_length(&self) -> Option<usize> {
        None
    }

    fn accepts_images(&self) -> bool {
        true
    }

    fn count_tokens<'a>(&'a self, _messages: &'a [ChatMessage]) -> BoxFuture<'a, Result<Option<usize>, EngineError>> {
        Box::pin(async { Ok(None) })
    }

    fn stream_chat(&self, messages: Vec<ChatMessage>, params: GenerationParams) -> BoxFuture<'_, Result<EventStream, EngineError>> {
        Box::pin(async move {
            let request = self.request(messages, &params)?;
            let base_url = self.config.base_url.clone();
            let mut chunks = self
                .client
                .chat()
                .create_stream(request)
                .await
                .map_err(|error| map_error(error, &base_url))?;

            let events = async_stream::stream! {
                let mut finish_reason = None;
                let mut usage = TokenUsage::default();
                while let Some(chunk) = chunks.next().await {
                    let chunk = match chunk {
                        Ok(chunk) => chunk,
                        Err(error) => {
                            yield Err(map_error(error, &base_url));
                            return;
                        }
                    };
                    if let Some(reported) = chunk.usage {
                        usage = TokenUsage {
                            prompt_tokens: reported.prompt_tokens as usize,
                            completion_tokens: reported.completion_tokens as usize,
                            total_tokens: reported.total_tokens as usize,
                        };
                    }
                    for choice in chunk.choices {
                        if let Some(content) = choice.delta.content.filter(|content| !content.is_empty()) {
                            yield Ok(EngineEvent::Delta(content));
                        }
                        if let Some(reason) = choice.finish_reason {
                            finish_reason = Some(match reason {
                                OpenAiFinishReason::Length => FinishReason::Length,
                                _ => FinishReason::Stop,
                            });
                        }
                    }
                }
                match finish_reason {
                    Some(reason) => yield Ok(EngineEvent::Finished { reason, usage }),
                    None => yield Err(EngineError::Generation(format!("the server at {base_url} ended the stream without a finish reason"))),
                }
            };
            Ok(Box::pin(events) as EventStream)
        })
    }
}

fn map_error(error: OpenAIError, base_url: &str) -> EngineError {
    match error {
        OpenAIError::ApiError(response) if response.status_code.is_client_error() => EngineError::InvalidRequest(format!(
            "the server at {base_url} rejected the request ({}): {}",
            response.status_code, response.api_error.message
        )),
        OpenAIError::ApiError(response) => {
            EngineError::Generation(format!("the server at {base_url} failed ({}): {}", response.status_code, response.api_error.message))
        }
        OpenAIError::Reqwest(reqwest_error) => EngineError::Generation(format!("could not reach the server at {base_url}: {reqwest_error}")),
        OpenAIError::JSONDeserialize(json_error, _) => EngineError::Generation(format!("the server at {base_url} sent an invalid response: {json_error}")),
        other => EngineError::Generation(format!("request to {base_url} failed: {other}")),
    }
}
