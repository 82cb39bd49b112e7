//! The one error type of MyWP's server functions: what the user is told.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Bad input in a form field: shown next to the field.
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("Please log in first.")]
    Unauthorized,
    #[error("This page is for staff.")]
    Forbidden,
    /// Also what a customer gets for another customer's site: existence is not disclosed.
    #[error("There is no such site in your account.")]
    NotFound,
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Conflict(String),
    /// Details went to the server's log, not to the user.
    #[error("Something went wrong on our side; it has been logged. Please try again.")]
    Internal,
    #[error("The request could not be handled: {0}")]
    Request(String),
    /// Something the panel depends on (an AWS API) did not answer: try again later.
    #[error("{0}")]
    Unavailable(String),
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The message for `field`, if this error is about it.
    pub fn for_field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Invalid { field, message } if field == name => Some(message.clone()),
            _ => None,
        }
    }

    /// The message for the form as a whole (errors not tied to a field).
    pub fn general(&self) -> Option<String> {
        match self {
            AppError::Invalid { .. } => None,
            other => Some(other.to_string()),
        }
    }

    /// The HTTP status of a response that carries this error: set from here, and only here,
    /// by `api::ssr::respond`.
    #[cfg(feature = "ssr")]
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AppError::Invalid { .. } | AppError::Request(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Logs what went wrong and tells the user only that something did.
    #[cfg(feature = "ssr")]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "server function failed");
        AppError::Internal
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Request(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<mywp_jobs::domain::Invalid> for AppError {
    fn from(e: mywp_jobs::domain::Invalid) -> Self {
        AppError::Invalid {
            field: e.field.into(),
            message: e.message,
        }
    }
}

/// A store's refusal of a duplicate says what is taken; any other store error is ours, logged
/// here (where its cause still exists) and not shown.
#[cfg(feature = "ssr")]
impl From<mywp_jobs::store::StoreError> for AppError {
    fn from(e: mywp_jobs::store::StoreError) -> Self {
        match e {
            mywp_jobs::store::StoreError::Conflict(what) => {
                AppError::Conflict(format!("That {what} already exists."))
            }
            other => AppError::internal(other),
        }
    }
}
