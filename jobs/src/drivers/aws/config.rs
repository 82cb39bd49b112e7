//! The AWS shape's configuration: the shared infrastructure every site is provisioned on,
//! named by `MYWP_AWS_*` keys (from the config file or the environment; see the README).

use std::path::PathBuf;

use super::WebAclArn;
use crate::{
    drivers::local::AdminLogin,
    secrets::Secret,
    settings::{AwsSettings, Settings},
};

/// CloudFront's hosted zone id: the same for every distribution, in every partition's
/// commercial regions. Route 53 alias records to a distribution name it.
pub const CLOUDFRONT_HOSTED_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// The shared AWS infrastructure, as the operator's configuration names it.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// The region of the shared infrastructure (Route 53, CloudFront and ACM for
    /// CloudFront are global or us-east-1 services but sign in a region).
    pub region: String,
    /// An endpoint for every service instead of AWS's (the emulator in tests); S3 is then
    /// addressed path-style.
    pub endpoint_url: Option<String>,
    /// Sites are `<slug>.<platform_domain>`; the hosted zone is this domain's.
    pub platform_domain: String,
    /// The platform's Route 53 hosted zone (`Z…`; a `/hostedzone/` prefix is dropped).
    pub hosted_zone_id: String,
    /// The shared media bucket: each site has the prefix `sites/<slug>/`.
    pub media_bucket: String,
    /// The web fleet's load balancer: every distribution's origin for dynamic pages.
    pub alb_dns_name: String,
    /// The platform's wildcard certificate (`*.<platform_domain>`, in us-east-1), used by
    /// every distribution until the site's own certificate is issued.
    pub platform_cert_arn: String,
    /// The platform's AWS WAF web ACL, attached to every site's distribution.
    pub web_acl: WebAclArn,
    /// The shared EFS file system (`fs-…`) where site directories live.
    pub efs_id: String,
    /// Where that file system is mounted on the workers and on every web node.
    pub efs_mount: PathBuf,
    /// The shared RDS MySQL endpoint and its administrator.
    pub rds: RdsConfig,
    /// The AWS Backup vault the sites' backup plans write to.
    pub backup_vault: String,
    /// The IAM role AWS Backup assumes to back up the sites' resources.
    pub backup_role_arn: String,
    /// Whether each site's plan gets its tag-based resource selection
    /// (`MYWP_AWS_BACKUP_SELECTIONS`, default on). Off only for an emulator without AWS
    /// Backup selections (moto): the selection logic is then proven by recorded responses.
    pub backup_selections: bool,
    /// The web fleet's Auto Scaling group (shown to staff).
    pub web_asg: String,
    /// The shared Redis (ElastiCache) `host:port` for WordPress's object cache, if any.
    pub redis_endpoint: Option<String>,
}

/// The shared RDS MySQL endpoint: sites' databases and users are made there.
#[derive(Debug, Clone)]
pub struct RdsConfig {
    pub host: String,
    pub port: u16,
    /// The master user and password (never printed). The password is empty until
    /// [`super::resolve_rds_secret`] has read it when the configuration names a Secrets
    /// Manager secret instead; from then on it is read again whenever RDS refuses it.
    pub admin: AdminLogin,
    /// The Secrets Manager secret holding `{"username", "password"}` (what RDS makes with
    /// `ManageMasterUserPassword`); it wins over a configured password.
    pub admin_secret_arn: Option<String>,
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
    #[error("cannot read {name} from {path}: {source}")]
    File {
        name: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl AwsConfig {
    /// The AWS shape's configuration from the settings' `MYWP_AWS_*` keys
    /// ([`crate::settings::AwsSettings`]) and the platform domain; names the key of
    /// anything missing or malformed.
    pub fn from_settings(settings: &Settings) -> Result<Self, AwsConfigError> {
        let aws = &settings.aws;
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let need =
            |v: &Option<String>, key: &'static str| given(v).ok_or(AwsConfigError::Missing(key));
        let region = given(&aws.region)
            .or_else(|| given(&aws.sdk_region))
            .unwrap_or_else(|| "us-east-1".to_string());
        let endpoint_url = given(&aws.endpoint_url);
        if let Some(url) = &endpoint_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(AwsConfigError::Invalid {
                    name: "MYWP_AWS_ENDPOINT_URL",
                    value: url.clone(),
                    why: "it must start with http:// or https://",
                });
            }
        }
        let efs_mount = aws.efs_mount.clone();
        if !efs_mount.is_absolute() {
            return Err(AwsConfigError::Invalid {
                name: "MYWP_AWS_EFS_MOUNT",
                value: efs_mount.display().to_string(),
                why: "it must be an absolute path",
            });
        }
        let efs_id = need(&aws.efs_id, "MYWP_AWS_EFS_ID")?;
        if !efs_id.starts_with("fs-") {
            return Err(AwsConfigError::Invalid {
                name: "MYWP_AWS_EFS_ID",
                value: efs_id,
                why: "an EFS file system id starts with fs-",
            });
        }
        let cert = need(&aws.platform_cert_arn, "MYWP_AWS_PLATFORM_CERT_ARN")?;
        if !cert.starts_with("arn:") || !cert.contains(":acm:") {
            return Err(AwsConfigError::Invalid {
                name: "MYWP_AWS_PLATFORM_CERT_ARN",
                value: cert,
                why: "it must be an ACM certificate ARN (arn:aws:acm:us-east-1:…)",
            });
        }
        let web_acl = need(&aws.web_acl_arn, "MYWP_AWS_WEB_ACL_ARN")?;
        let web_acl = WebAclArn::parse(&web_acl).map_err(|why| AwsConfigError::Invalid {
            name: "MYWP_AWS_WEB_ACL_ARN",
            value: web_acl,
            why,
        })?;
        Ok(Self {
            region,
            endpoint_url,
            platform_domain: settings.sites.platform_domain.to_string(),
            hosted_zone_id: normalize_zone_id(&need(
                &aws.hosted_zone_id,
                "MYWP_AWS_HOSTED_ZONE_ID",
            )?),
            media_bucket: need(&aws.media_bucket, "MYWP_AWS_MEDIA_BUCKET")?,
            alb_dns_name: need(&aws.alb_dns_name, "MYWP_AWS_ALB_DNS_NAME")?
                .trim_end_matches('.')
                .to_ascii_lowercase(),
            platform_cert_arn: cert,
            web_acl,
            efs_id,
            efs_mount,
            rds: RdsConfig::from_settings(aws)?,
            backup_vault: need(&aws.backup_vault, "MYWP_AWS_BACKUP_VAULT")?,
            backup_role_arn: need(&aws.backup_role_arn, "MYWP_AWS_BACKUP_ROLE_ARN")?,
            backup_selections: aws.backup_selections,
            web_asg: need(&aws.web_asg, "MYWP_AWS_WEB_ASG")?,
            redis_endpoint: given(&aws.redis_endpoint),
        })
    }

    /// The sites' directories on the shared file system: `<mount>/sites/<slug>` (each
    /// site's EFS access point is rooted at `/sites/<slug>`).
    pub fn sites_dir(&self) -> PathBuf {
        self.efs_mount.join("sites")
    }

    /// The server blocks the web nodes' `mywp agent` applies: `<mount>/nginx/<slug>.conf`.
    pub fn server_blocks_dir(&self) -> PathBuf {
        self.efs_mount.join("nginx")
    }
}

impl RdsConfig {
    fn from_settings(aws: &AwsSettings) -> Result<Self, AwsConfigError> {
        let endpoint = aws
            .rds_endpoint
            .clone()
            .filter(|e| !e.trim().is_empty())
            .ok_or(AwsConfigError::Missing("MYWP_AWS_RDS_ENDPOINT"))?;
        let (host, port) = match endpoint.rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse().map_err(|_| AwsConfigError::Invalid {
                    name: "MYWP_AWS_RDS_ENDPOINT",
                    value: endpoint.clone(),
                    why: "it must be host or host:port",
                })?;
                (host.to_string(), port)
            }
            None => (endpoint.clone(), 3306),
        };
        if host.is_empty() || host.contains('/') || host.contains('@') {
            return Err(AwsConfigError::Invalid {
                name: "MYWP_AWS_RDS_ENDPOINT",
                value: endpoint,
                why: "it must be host or host:port",
            });
        }
        let admin_secret_arn = aws.rds_admin_secret_arn.clone().filter(|a| !a.is_empty());
        let password = match (&aws.rds_admin_password, &aws.rds_admin_password_file) {
            _ if admin_secret_arn.is_some() => Secret::new(""),
            (Some(password), _) => password.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| Secret::new(s.trim()))
                .map_err(|source| AwsConfigError::File {
                    name: "MYWP_AWS_RDS_ADMIN_PASSWORD_FILE",
                    path: path.clone(),
                    source,
                })?,
            (None, None) => {
                return Err(AwsConfigError::Missing(
                    "MYWP_AWS_RDS_ADMIN_SECRET_ARN (or MYWP_AWS_RDS_ADMIN_PASSWORD, or \
                     MYWP_AWS_RDS_ADMIN_PASSWORD_FILE)",
                ))
            }
        };
        Ok(Self {
            host,
            port,
            admin: AdminLogin::fixed(aws.rds_admin_user.clone(), password),
            admin_secret_arn,
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

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: [(&str, &str); 14] = [
        ("MYWP_PLATFORM_DOMAIN", "Example.COM."),
        ("MYWP_AWS_HOSTED_ZONE_ID", "/hostedzone/Z123"),
        ("MYWP_AWS_MEDIA_BUCKET", "media"),
        (
            "MYWP_AWS_ALB_DNS_NAME",
            "web-123.us-east-1.elb.amazonaws.com",
        ),
        (
            "MYWP_AWS_PLATFORM_CERT_ARN",
            "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        ),
        ("MYWP_AWS_EFS_ID", "fs-0123"),
        (
            "MYWP_AWS_WEB_ACL_ARN",
            "arn:aws:wafv2:us-east-1:123456789012:global/webacl/mywp-sites/a1b2c3d4-5678-90ab-cdef-1234567890ab",
        ),
        ("MYWP_AWS_RDS_ENDPOINT", "db.internal:3307"),
        ("MYWP_AWS_RDS_ADMIN_PASSWORD", "s3cret-pw"),
        ("MYWP_AWS_BACKUP_VAULT", "mywp"),
        (
            "MYWP_AWS_BACKUP_ROLE_ARN",
            "arn:aws:iam::123456789012:role/backup",
        ),
        ("MYWP_AWS_WEB_ASG", "mywp-web"),
        ("AWS_REGION", "eu-west-1"),
        ("MYWP_AWS_EFS_MOUNT", "/mnt/efs"),
    ];

    fn parse(vars: &[(&str, &str)]) -> Result<AwsConfig, AwsConfigError> {
        let settings = Settings::from_pairs(vars.iter().copied()).expect("valid settings");
        AwsConfig::from_settings(&settings)
    }

    #[test]
    fn config_from_vars() {
        let cfg = parse(&SAMPLE).unwrap();
        assert_eq!(cfg.region, "eu-west-1");
        assert_eq!(cfg.endpoint_url, None);
        assert_eq!(cfg.hosted_zone_id, "Z123");
        assert_eq!(cfg.platform_domain, "example.com");
        assert_eq!(cfg.rds.host, "db.internal");
        assert_eq!(cfg.rds.port, 3307);
        assert_eq!(cfg.rds.admin.user(), "admin");
        assert_eq!(cfg.sites_dir(), PathBuf::from("/mnt/efs/sites"));
        assert_eq!(cfg.web_acl.name(), "mywp-sites");
        assert_eq!(cfg.web_acl.id(), "a1b2c3d4-5678-90ab-cdef-1234567890ab");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");

        let err = parse(&[]).unwrap_err();
        assert!(err.to_string().contains("is not set"), "{err}");
    }

    /// deploy/render-config.py's output for the fixture stack is a configuration MyWP takes.
    #[test]
    fn the_rendered_stack_outputs_are_a_valid_config() {
        let text = include_str!("../../../../deploy/testdata/mywp.env");
        let vars: Vec<(&str, &str)> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split_once('=').expect("KEY=value"))
            .collect();
        let cfg = parse(&vars).expect("a valid AWS config");
        assert_eq!(cfg.region, "eu-west-1");
        assert!(cfg.rds.admin_secret_arn.is_some());
        assert_eq!(cfg.efs_mount, PathBuf::from("/mnt/efs"));
        assert!(cfg.backup_selections);
        assert!(vars.contains(&("MYWP_SHAPE", "aws")));
    }

    #[test]
    fn bad_values_are_named() {
        let mut vars = SAMPLE.to_vec();
        vars.retain(|(k, _)| *k != "MYWP_AWS_EFS_ID");
        vars.push(("MYWP_AWS_EFS_ID", "/mnt/efs"));
        let err = parse(&vars).unwrap_err();
        assert!(err.to_string().contains("MYWP_AWS_EFS_ID"), "{err}");

        // A regional web ACL cannot be attached to a distribution.
        let mut vars = SAMPLE.to_vec();
        vars.retain(|(k, _)| *k != "MYWP_AWS_WEB_ACL_ARN");
        vars.push((
            "MYWP_AWS_WEB_ACL_ARN",
            "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/mywp/a1b2",
        ));
        let err = parse(&vars).unwrap_err();
        assert!(err.to_string().contains("MYWP_AWS_WEB_ACL_ARN"), "{err}");
        assert!(err.to_string().contains("CLOUDFRONT"), "{err}");

        let mut vars = SAMPLE.to_vec();
        vars.retain(|(k, _)| *k != "MYWP_AWS_RDS_ADMIN_PASSWORD");
        let err = parse(&vars).unwrap_err();
        assert!(
            err.to_string().contains("MYWP_AWS_RDS_ADMIN_PASSWORD"),
            "{err}"
        );
    }
}
