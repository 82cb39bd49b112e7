//! The AWS shape's drivers (cargo feature `aws`): the same steps as the single-host shape,
//! on shared, multi-AZ AWS infrastructure through the real aws-sdk-rust clients.
//!
//! | step | driver | AWS |
//! |---|---|---|
//! | database | [`crate::drivers::local::MariaDbDriver`] over TCP | RDS MySQL |
//! | files | [`EfsFilesDriver`] | an EFS access point + the site's directory on the mount |
//! | media | [`MediaDriver`] | the site's prefix in the shared S3 bucket |
//! | wordpress | [`crate::drivers::local::WordPressDriver`], server block on EFS | the web fleet, via `mywp agent` |
//! | cdn | [`CdnDriver`] | a CloudFront distribution per site |
//! | dns | [`DnsDriver`] | Route 53 alias records → the distribution |
//! | certificate | [`CertificateDriver`] | an ACM certificate per custom domain |
//! | backup | [`BackupDriver`] + [`super::VaultStep`] | an AWS Backup plan per site, selected by tag; logical snapshots in [`S3Vault`] |
//!
//! In tests they run against moto server (`MYWP_TEST_AWS_ENDPOINT`, started by
//! `scripts/test.sh`) and the test MariaDB.

mod backup;
mod cdn;
mod certificate;
mod check;
mod config;
mod dns;
mod errors;
mod files;
mod fleet;
mod media;
mod snapshot_vault;
mod waf;

use std::{sync::Arc, time::Duration};

use aws_config::{timeout::TimeoutConfig, BehaviorVersion, Region};

pub use backup::{backup_plan_name, BackupDriver, SITE_TAG};
pub use cdn::{CdnDriver, Distribution};
pub use certificate::{CertificateDriver, ValidationRecord};
pub use check::{check_infrastructure, Check, CheckOutcome};
pub use config::{
    normalize_zone_id, AwsConfig, AwsConfigError, RdsConfig, CLOUDFRONT_HOSTED_ZONE_ID,
};
pub use dns::{AliasTarget, AliasTargets, DnsDriver};
pub(crate) use errors::{classify, step_error};
pub use files::{access_point_uid, EfsFilesDriver};
pub use fleet::{web_fleet, FleetInstance};
pub use media::{delete_every_version, media_prefix, MediaDriver, MARKER_NAME, SITE_ID_METADATA};
pub use snapshot_vault::{snapshots_prefix, S3Vault};
pub use waf::{judge_web_acl, WebAclArn, MANAGED_RULE_GROUPS, RATE_LIMITED_PATHS};

use super::{
    local::{
        AdminLogin, DbServer, FilesDriver, LocalConfig, LocalConfigError, MariaDbDriver,
        ReloadLogin, WebPlacement, WordPressDriver,
    },
    AllOf, Drivers, VaultStep,
};
use crate::{settings::Settings, snapshots::Vault};

/// The SDK clients the drivers use, built once from [`AwsConfig`] and shared (cheap clones).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub route53: aws_sdk_route53::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub acm: aws_sdk_acm::Client,
    pub efs: aws_sdk_efs::Client,
    pub backup: aws_sdk_backup::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// AWS WAF, in us-east-1: where web ACLs for CloudFront live.
    pub wafv2: aws_sdk_wafv2::Client,
}

impl AwsClients {
    /// Credentials come from aws-config's default chain (environment, profile, web
    /// identity, instance role). The SDK retries throttling and 5xx itself (standard mode,
    /// 3 attempts); what still fails comes back to the pipeline as a transient step error.
    /// ACM certificates and WAF web ACLs for CloudFront live in us-east-1, whatever the
    /// region.
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
        Self::from_sdk_config(&shared, cfg.endpoint_url.is_some())
    }

    /// Every client from one SDK configuration (tests give it a recorded-response HTTP
    /// client); `path_style` addresses S3 buckets in the path, as emulators need.
    pub fn from_sdk_config(shared: &aws_config::SdkConfig, path_style: bool) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(shared)
            .force_path_style(path_style)
            .build();
        let acm = aws_sdk_acm::config::Builder::from(shared)
            .region(Region::new("us-east-1"))
            .build();
        let wafv2 = aws_sdk_wafv2::config::Builder::from(shared)
            .region(Region::new("us-east-1"))
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3),
            route53: aws_sdk_route53::Client::new(shared),
            cloudfront: aws_sdk_cloudfront::Client::new(shared),
            acm: aws_sdk_acm::Client::from_conf(acm),
            efs: aws_sdk_efs::Client::new(shared),
            backup: aws_sdk_backup::Client::new(shared),
            ec2: aws_sdk_ec2::Client::new(shared),
            autoscaling: aws_sdk_autoscaling::Client::new(shared),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(shared),
            secrets: aws_sdk_secretsmanager::Client::new(shared),
            wafv2: aws_sdk_wafv2::Client::from_conf(wafv2),
        }
    }
}

/// Reads RDS's master user and password from the Secrets Manager secret the configuration
/// names, if it names one, and makes the login reload from it whenever RDS refuses it (RDS
/// rotates a managed master secret every 7 days by default).
pub async fn resolve_rds_secret(cfg: &mut AwsConfig, clients: &AwsClients) -> Result<(), String> {
    let Some(arn) = cfg.rds.admin_secret_arn.clone() else {
        return Ok(());
    };
    let fallback_user = cfg.rds.admin.user();
    let secrets = clients.secrets.clone();
    let reload: ReloadLogin = Arc::new(move || {
        let (secrets, arn, fallback_user) = (secrets.clone(), arn.clone(), fallback_user.clone());
        Box::pin(async move { read_rds_secret(&secrets, &arn, &fallback_user).await })
    });
    let (user, password) = reload().await?;
    cfg.rds.admin = AdminLogin::reloadable(user, password, reload);
    Ok(())
}

/// The master login in secret `arn`: `{"username", "password"}` as RDS writes it.
async fn read_rds_secret(
    secrets: &aws_sdk_secretsmanager::Client,
    arn: &str,
    fallback_user: &str,
) -> Result<(String, crate::secrets::Secret), String> {
    let out = secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read the RDS secret {arn}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        })?;
    #[derive(serde::Deserialize)]
    struct Master {
        username: Option<String>,
        password: String,
    }
    let master: Master = out
        .secret_string()
        .ok_or_else(|| format!("the RDS secret {arn} has no string value"))
        .and_then(|s| {
            serde_json::from_str(s).map_err(|_| {
                format!("the RDS secret {arn} is not JSON with a \"password\" (as RDS writes it)")
            })
        })?;
    Ok((
        master.username.unwrap_or_else(|| fallback_user.to_string()),
        crate::secrets::Secret::new(master.password),
    ))
}

/// The site database server of the AWS shape: RDS MySQL, administered over TCP.
pub fn rds_server(cfg: &AwsConfig) -> DbServer {
    DbServer::Tcp {
        host: cfg.rds.host.clone(),
        port: cfg.rds.port,
        admin: cfg.rds.admin.clone(),
    }
}

/// The web nodes' data plane as the AWS shape's drivers see it: sites and server blocks on
/// the EFS mount, databases on RDS, the sites reached over https through CloudFront, the
/// wordpress step's checks sent to the load balancer. The web nodes' own paths (shared
/// core, php-fpm's socket…) come from `settings`, under the same keys as on a single host;
/// the FastCGI parameters default to Debian's `/etc/nginx/fastcgi_params`.
pub fn web_data_plane(
    settings: &Settings,
    aws: &AwsConfig,
) -> Result<LocalConfig, LocalConfigError> {
    let placement = WebPlacement {
        db: rds_server(aws),
        sites_dir: aws.sites_dir(),
        nginx_sites_dir: aws.server_blocks_dir(),
        nginx_conf: None,
        fastcgi_params: settings
            .host
            .fastcgi_params
            .clone()
            .unwrap_or_else(|| "/etc/nginx/fastcgi_params".into()),
        default_listen: "80".into(),
        default_probe: Some(format!("{}:80", aws.alb_dns_name)),
        // RDS users connect from the web nodes, whose addresses change.
        default_db_user_host: "%",
        // The web ACL limits logins; nginx behind the load balancer sees only its address.
        login_limit: false,
    };
    LocalConfig::new(settings, placement)
}

/// Every step's driver in the AWS shape. `web` describes the web nodes' data plane
/// ([`web_data_plane`]); `vault` keeps the sites' snapshots (an [`S3Vault`]): the backup
/// step runs the AWS Backup plan and makes the site's place there as one step.
pub fn aws_drivers(
    cfg: Arc<AwsConfig>,
    clients: AwsClients,
    web: Arc<LocalConfig>,
    vault: Arc<dyn Vault>,
) -> Drivers {
    let cdn = Arc::new(CdnDriver::new(clients.clone(), Arc::clone(&cfg)));
    let dns = DnsDriver::new(clients.clone(), Arc::clone(&cfg), cdn.clone());
    Drivers {
        database: Some(Arc::new(MariaDbDriver::new(Arc::clone(&web)))),
        files: Some(Arc::new(EfsFilesDriver::new(
            clients.clone(),
            Arc::clone(&cfg),
            FilesDriver::new(Arc::clone(&web)),
        ))),
        media: Some(Arc::new(MediaDriver::new(
            clients.clone(),
            Arc::clone(&cfg),
        ))),
        wordpress: Some(Arc::new(WordPressDriver::new(web))),
        certificate: Some(Arc::new(CertificateDriver::new(
            clients.clone(),
            Arc::clone(&cfg),
            Arc::clone(&cdn),
        ))),
        backup: Some(Arc::new(AllOf(vec![
            Arc::new(BackupDriver::new(clients, Arc::clone(&cfg))),
            Arc::new(VaultStep::new(vault)),
        ]))),
        dns: Some(Arc::new(dns)),
        cdn: Some(cdn),
    }
}
