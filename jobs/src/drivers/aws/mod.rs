//! The AWS shape's drivers (cargo feature `aws`): the same steps as the single-host shape,
//! on shared AWS infrastructure through the real aws-sdk-rust clients.
//!
//! Built so far: media (the site's prefix in the shared S3 bucket) and dns (Route 53 alias
//! records in the platform zone). They are not wired into the pipeline yet: that needs the
//! shape selection of issue 3. In tests they run against moto server
//! (`MYWP_TEST_AWS_ENDPOINT`, started by `scripts/test.sh`).

mod dns;
mod media;

use std::time::Duration;

use aws_config::{timeout::TimeoutConfig, BehaviorVersion, Region};
use aws_sdk_s3::{
    config::http::HttpResponse,
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
};

pub use dns::{AliasTargets, DnsDriver};
pub use media::{media_prefix, MediaDriver, MARKER_NAME, SITE_ID_METADATA};

use super::StepError;

/// CloudFront's hosted zone id: the same for every distribution, in every partition's
/// commercial regions. Route 53 alias records to a distribution name it.
pub const CLOUDFRONT_HOSTED_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// What an alias record points at: a DNS name and the hosted zone it belongs to
/// (CloudFront's [`CLOUDFRONT_HOSTED_ZONE_ID`], or an ALB's zone of its region).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasTarget {
    /// e.g. `d111111abcdef8.cloudfront.net`.
    pub dns_name: String,
    /// The target's hosted zone id (not the platform zone).
    pub hosted_zone_id: String,
}

impl AliasTarget {
    /// An alias to a CloudFront distribution's domain name.
    pub fn cloudfront(dns_name: impl Into<String>) -> Self {
        Self {
            dns_name: dns_name.into(),
            hosted_zone_id: CLOUDFRONT_HOSTED_ZONE_ID.to_string(),
        }
    }
}

/// The shared AWS infrastructure the drivers built so far work on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// The region of the shared infrastructure (Route 53 is global but signs in a region).
    pub region: String,
    /// An endpoint for every service instead of AWS's (the emulator in tests); S3 is then
    /// addressed path-style.
    pub endpoint_url: Option<String>,
    /// The shared media bucket: each site has the prefix `sites/<slug>/`.
    pub media_bucket: String,
    /// The platform's Route 53 hosted zone (`Z…`; a `/hostedzone/` prefix is dropped).
    pub hosted_zone_id: String,
    /// Sites are `<slug>.<platform_domain>`; the hosted zone is this domain's.
    pub platform_domain: String,
    /// Where the sites' alias records point until the cdn step gives each site its own
    /// distribution: a shared (multi-tenant) distribution or the ALB. [`DnsDriver`] can
    /// instead be given a per-site lookup ([`DnsDriver::with_targets`]).
    pub alias_target: AliasTarget,
}

/// Why the AWS configuration is not usable.
#[derive(Debug, thiserror::Error)]
pub enum AwsConfigError {
    #[error("{0} is not set (needed by the AWS shape)")]
    Missing(&'static str),
    #[error("{name}={value:?} is not valid: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: &'static str,
    },
}

impl AwsConfig {
    /// Reads the configuration from the process environment; see [`Self::from_vars`].
    pub fn from_env() -> Result<Self, AwsConfigError> {
        Self::from_vars(|key| std::env::var(key).ok())
    }

    /// Builds the configuration from `lookup`: `MYWP_AWS_REGION` (else `AWS_REGION`, else
    /// `us-east-1`), `MYWP_AWS_ENDPOINT_URL` (optional), `MYWP_AWS_MEDIA_BUCKET`,
    /// `MYWP_AWS_HOSTED_ZONE_ID`, `MYWP_PLATFORM_DOMAIN`, `MYWP_AWS_ALIAS_TARGET` (a DNS
    /// name) and `MYWP_AWS_ALIAS_TARGET_ZONE` (default CloudFront's zone).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AwsConfigError> {
        let get = |key: &'static str| lookup(key).filter(|v| !v.trim().is_empty());
        let need = |key: &'static str| get(key).ok_or(AwsConfigError::Missing(key));
        let region = get("MYWP_AWS_REGION")
            .or_else(|| get("AWS_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        let endpoint_url = get("MYWP_AWS_ENDPOINT_URL");
        if let Some(url) = &endpoint_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(AwsConfigError::Invalid {
                    name: "MYWP_AWS_ENDPOINT_URL",
                    value: url.clone(),
                    why: "it must start with http:// or https://",
                });
            }
        }
        let platform_domain = need("MYWP_PLATFORM_DOMAIN")?
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let alias_dns = need("MYWP_AWS_ALIAS_TARGET")?;
        let alias_zone = get("MYWP_AWS_ALIAS_TARGET_ZONE")
            .unwrap_or_else(|| CLOUDFRONT_HOSTED_ZONE_ID.to_string());
        Ok(Self {
            region,
            endpoint_url,
            media_bucket: need("MYWP_AWS_MEDIA_BUCKET")?,
            hosted_zone_id: normalize_zone_id(&need("MYWP_AWS_HOSTED_ZONE_ID")?),
            platform_domain,
            alias_target: AliasTarget {
                dns_name: alias_dns,
                hosted_zone_id: normalize_zone_id(&alias_zone),
            },
        })
    }
}

/// `/hostedzone/Z123` → `Z123` (the API returns the former and takes the latter).
pub fn normalize_zone_id(id: &str) -> String {
    id.trim()
        .trim_start_matches("/hostedzone/")
        .trim_start_matches("hostedzone/")
        .to_string()
}

/// The SDK clients the drivers use, built once from [`AwsConfig`] and shared (cheap clones).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub route53: aws_sdk_route53::Client,
}

impl AwsClients {
    /// Credentials come from aws-config's default chain (environment, profile, web
    /// identity, instance role). The SDK retries throttling and 5xx itself (standard mode,
    /// 3 attempts); what still fails comes back to the pipeline as [`StepError::Transient`].
    pub async fn new(cfg: &AwsConfig) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .operation_timeout(Duration::from_secs(90))
                    .build(),
            );
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        let s3 = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(cfg.endpoint_url.is_some())
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3),
            route53: aws_sdk_route53::Client::new(&shared),
        }
    }
}

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
    fn config_from_vars() {
        let vars = [
            ("MYWP_AWS_MEDIA_BUCKET", "media"),
            ("MYWP_AWS_HOSTED_ZONE_ID", "/hostedzone/Z123"),
            ("MYWP_PLATFORM_DOMAIN", "Example.COM."),
            ("MYWP_AWS_ALIAS_TARGET", "d1.cloudfront.net"),
            ("AWS_REGION", "eu-west-1"),
        ];
        let cfg = AwsConfig::from_vars(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        assert_eq!(cfg.region, "eu-west-1");
        assert_eq!(cfg.endpoint_url, None);
        assert_eq!(cfg.hosted_zone_id, "Z123");
        assert_eq!(cfg.platform_domain, "example.com");
        assert_eq!(
            cfg.alias_target,
            AliasTarget::cloudfront("d1.cloudfront.net")
        );

        let err = AwsConfig::from_vars(|_| None).unwrap_err();
        assert!(err.to_string().contains("is not set"), "{err}");
    }

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
