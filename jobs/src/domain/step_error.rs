//! How a provisioning step (or a snapshot) fails: worth retrying, or not until someone
//! changes something.

/// A driver's failure.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Worth retrying with backoff: a timeout, a throttled call, a lock wait.
    #[error("{0}")]
    Transient(String),
    /// A server the step needs cannot be reached (connection refused, server restarting):
    /// retried with backoff like a transient error, and then, instead of failing, the step
    /// waits and is tried again later — an outage of any length ends in the step done.
    #[error("{0}")]
    Unavailable(String),
    /// Retrying will not help until someone changes something: the message says what.
    #[error("{0}")]
    Permanent(String),
}

impl StepError {
    pub fn transient(e: impl std::fmt::Display) -> Self {
        Self::Transient(e.to_string())
    }
    pub fn permanent(e: impl std::fmt::Display) -> Self {
        Self::Permanent(e.to_string())
    }
    /// Worth trying again soon (transient, or a server away).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_) | Self::Unavailable(_))
    }
}
