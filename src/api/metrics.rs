//! `GET /metrics` in the Prometheus text format: requests by endpoint and status, request
//! latency, tokens, retrieval time, and the generation queue.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::AppState;
use crate::models::TokenUsage;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<EndpointLabels, Histogram>,
    prompt_tokens: Counter,
    completion_tokens: Counter,
    retrieval: Histogram,
    queue_depth: Gauge,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("docent");
        let requests = Family::<RequestLabels, Counter>::default();
        // 5 ms to about 10 minutes: health checks up to long streamed answers.
        let latency = Family::<EndpointLabels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 3.0, 12)));
        let prompt_tokens = Counter::default();
        let completion_tokens = Counter::default();
        let retrieval = Histogram::new(exponential_buckets(0.0005, 2.5, 12));
        let queue_depth = Gauge::default();

        registry.register("http_requests", "HTTP requests by endpoint and status", requests.clone());
        registry.register("http_request_duration_seconds", "Time to the response head, by endpoint", latency.clone());
        registry.register("prompt_tokens", "Prompt tokens of finished generations", prompt_tokens.clone());
        registry.register("completion_tokens", "Generated tokens of finished generations", completion_tokens.clone());
        registry.register("retrieval_duration_seconds", "Time spent retrieving passages per question", retrieval.clone());
        registry.register("generation_queue_depth", "Requests waiting for a generation slot", queue_depth.clone());
        Self { registry, requests, latency, prompt_tokens, completion_tokens, retrieval, queue_depth }
    }

    pub fn record_usage(&self, usage: TokenUsage) {
        self.prompt_tokens.inc_by(usage.prompt_tokens as u64);
        self.completion_tokens.inc_by(usage.completion_tokens as u64);
    }

    pub fn record_retrieval(&self, elapsed: Duration) {
        self.retrieval.observe(elapsed.as_secs_f64());
    }

    fn encode(&self, queue_depth: usize) -> String {
        self.queue_depth.set(queue_depth as i64);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing metrics to a String cannot fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts every request and times it until its response head, labelled with the route
/// pattern (not the raw path, which would make one series per model id).
pub async fn track(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let response = next.run(request).await;

    let status = response.status().as_u16();
    state.metrics.requests.get_or_create(&RequestLabels { endpoint: endpoint.clone(), status }).inc();
    state.metrics.latency.get_or_create(&EndpointLabels { endpoint }).observe(started.elapsed().as_secs_f64());
    response
}

pub async fn render(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let body = state.metrics.encode(state.limiter.queue_depth());
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}
