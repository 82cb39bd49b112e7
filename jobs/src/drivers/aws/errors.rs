//! AWS errors as step errors: what is worth retrying, and messages staff can act on.

use aws_sdk_s3::{
    config::http::HttpResponse,
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
};

use crate::drivers::StepError;

/// Error codes that mean "try again later" whatever the HTTP status says.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
];

/// Error codes about the panel's own credentials or permissions.
const ACCESS_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AllAccessDisabled",
];

/// Error codes about shared infrastructure the configuration names but AWS does not have.
const MISSING_CODES: &[&str] = &["NoSuchBucket", "NoSuchHostedZone"];

/// Maps an SDK error of `what` (e.g. "list the media of sites/blog/") to a step error:
/// timeouts, dropped connections, throttling and 5xx are transient; the rest is permanent,
/// with a message staff can act on.
pub(crate) fn step_error<E>(what: &str, err: SdkError<E, HttpResponse>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StepError::Transient(format!(
                "cannot {what}: AWS did not answer ({})",
                DisplayErrorContext(&err)
            ))
        }
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status();
            let code = ctx.err().code().unwrap_or("");
            let message = ctx.err().message().unwrap_or("");
            classify(what, status.as_u16(), code, message)
        }
        _ => StepError::Permanent(format!(
            "cannot {what}: the request could not be made ({})",
            DisplayErrorContext(&err)
        )),
    }
}

/// Classifies a service error by HTTP status and AWS error code (also used for the
/// per-key errors of S3's DeleteObjects, which carry no status).
pub(crate) fn classify(what: &str, status: u16, code: &str, message: &str) -> StepError {
    let detail = match (code.is_empty(), message.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (false, true) => code.to_string(),
        (true, false) => message.to_string(),
        (false, false) => format!("{code}: {message}"),
    };
    if TRANSIENT_CODES.contains(&code) || status == 429 || status >= 500 {
        StepError::Transient(format!("cannot {what} yet, AWS asked to retry ({detail})"))
    } else if ACCESS_CODES.contains(&code) || status == 403 {
        StepError::Permanent(format!(
            "cannot {what}: the panel's AWS credentials are not allowed to; check its IAM \
             policy ({detail})"
        ))
    } else if MISSING_CODES.contains(&code) {
        StepError::Permanent(format!(
            "cannot {what}: it does not exist in AWS; check the panel's AWS configuration \
             ({detail})"
        ))
    } else {
        StepError::Permanent(format!("cannot {what}: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified() {
        assert!(classify("x", 503, "SlowDown", "").is_transient());
        assert!(classify("x", 400, "Throttling", "Rate exceeded").is_transient());
        assert!(classify("x", 500, "", "").is_transient());
        let denied = classify("delete the media", 403, "AccessDenied", "Access Denied");
        assert!(!denied.is_transient());
        assert!(denied.to_string().contains("IAM policy"), "{denied}");
        let missing = classify("list the media", 404, "NoSuchBucket", "no such bucket");
        assert!(!missing.is_transient());
        assert!(missing.to_string().contains("does not exist"), "{missing}");
    }
}
