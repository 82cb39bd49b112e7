//! How a provisioning step (or a snapshot) fails: worth retrying, or not until someone
//! changes something.

/// A driver's failure.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Worth retrying with backoff: a timeout, a refused connection, a throttled call.
    #[error("{0}")]
    Transient(String),
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
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}
