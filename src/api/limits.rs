//! Admission control for generations: a fixed number run at once, a bounded number wait,
//! and the rest are turned away with 503 and `Retry-After` instead of piling up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ApiError;

/// Value of the `Retry-After` header sent to a rejected client, in seconds.
const RETRY_AFTER_SECONDS: u64 = 5;

pub struct GenerationLimiter {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl GenerationLimiter {
    pub fn new(max_running: usize, max_waiting: usize) -> Self {
        Self { running: Arc::new(Semaphore::new(max_running.max(1))), waiting: AtomicUsize::new(0), max_waiting }
    }

    /// Waits for a generation slot, or fails at once when the queue is full. The slot is
    /// released when the returned permit is dropped, at the end of the answer.
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = Arc::clone(&self.running).try_acquire_owned() {
            return Ok(permit);
        }
        let previously_waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        if previously_waiting >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(waiting = previously_waiting, "generation queue is full; rejecting a request");
            return Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "The server is busy with other answers; retry shortly.".into(),
                kind: "server_error",
                param: None,
                code: Some("server_overloaded"),
                retry_after_seconds: None,
            }
            .with_retry_after(RETRY_AFTER_SECONDS));
        }
        let permit = Arc::clone(&self.running).acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(|error| ApiError::internal(&error))
    }

    /// Returns the number of requests waiting for a slot.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}
