//! Helpers shared by the `jobs` crate's integration tests.

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

#[allow(dead_code)]
/// A name no other test (in this run, an earlier one, or against the same shared service)
/// uses: `prefix` + pid + counter + time; lower-case, DNS- and bucket-safe.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    format!("{prefix}{}-{n}-{t}", std::process::id())
}

/// The moto server `make test` starts (scripts/moto.sh); these tests fail without it.
#[cfg(feature = "aws")]
#[allow(dead_code)]
pub fn aws_endpoint() -> String {
    std::env::var("MYWP_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "MYWP_TEST_AWS_ENDPOINT is not set: these tests need the moto server that \
             `make test` starts (run `make test`; or `scripts/moto.sh install && \
             scripts/moto.sh start` and export MYWP_TEST_AWS_ENDPOINT=<its URL> \
             AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1)"
        )
    })
}

/// An AWS-shape config against `endpoint` whose shared resources are placeholders: each
/// test makes the ones it uses and sets their names.
#[cfg(feature = "aws")]
#[allow(dead_code)]
pub fn aws_config(endpoint: String) -> mywp_jobs::drivers::aws::AwsConfig {
    let vars = [
        ("MYWP_AWS_ENDPOINT_URL", endpoint.as_str()),
        ("MYWP_AWS_REGION", "us-east-1"),
        ("MYWP_PLATFORM_DOMAIN", "placeholder.test"),
        ("MYWP_AWS_HOSTED_ZONE_ID", "ZPLACEHOLDER"),
        ("MYWP_AWS_MEDIA_BUCKET", "placeholder"),
        ("MYWP_AWS_ALB_DNS_NAME", "placeholder.elb.amazonaws.com"),
        (
            "MYWP_AWS_PLATFORM_CERT_ARN",
            "arn:aws:acm:us-east-1:123456789012:certificate/placeholder",
        ),
        ("MYWP_AWS_EFS_ID", "fs-placeholder"),
        (
            "MYWP_AWS_WEB_ACL_ARN",
            "arn:aws:wafv2:us-east-1:123456789012:global/webacl/placeholder/0",
        ),
        ("MYWP_AWS_RDS_ENDPOINT", "127.0.0.1:3306"),
        ("MYWP_AWS_RDS_ADMIN_PASSWORD", "placeholder"),
        ("MYWP_AWS_BACKUP_VAULT", "placeholder"),
        (
            "MYWP_AWS_BACKUP_ROLE_ARN",
            "arn:aws:iam::123456789012:role/placeholder",
        ),
        ("MYWP_AWS_WEB_ASG", "placeholder"),
        ("MYWP_AWS_BACKUP_SELECTIONS", "off"),
    ];
    let settings = mywp_jobs::settings::Settings::from_pairs(vars).expect("valid settings");
    mywp_jobs::drivers::aws::AwsConfig::from_settings(&settings)
        .expect("the test AWS config is valid")
}

#[allow(dead_code)]
/// A database namespace (`MYWP_DB_NAMESPACE`) no other test uses: 8 of `[a-z0-9]`.
pub fn db_namespace() -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(unique("ns").as_bytes());
    format!("t{}", &hex::encode(hash)[..7])
}
