//! `mywp infra check`: reads every piece of shared infrastructure the configuration names
//! back through the APIs, and says plainly what is missing or misconfigured.

use aws_sdk_s3::error::ProvideErrorMetadata;
use sqlx::{ConnectOptions, Row};

use super::{rds_server, AwsClients, AwsConfig};

/// One piece of infrastructure and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. "media bucket mywp-media".
    pub what: String,
    pub outcome: CheckOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// It is there and usable; the detail says what was seen.
    Ok(String),
    /// Missing or misconfigured; the message says what to fix.
    Problem(String),
}

impl Check {
    pub(super) fn ok(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            outcome: CheckOutcome::Ok(detail.into()),
        }
    }
    pub(super) fn problem(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            outcome: CheckOutcome::Problem(message.into()),
        }
    }
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, CheckOutcome::Ok(_))
    }
}

/// An SDK error as one readable line: the service's code and message, or the cause.
pub(super) fn explain<E: ProvideErrorMetadata + std::error::Error>(e: &E) -> String {
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
    }
}

/// Checks everything, one after another, and returns every finding (never stops early).
pub async fn check_infrastructure(cfg: &AwsConfig, clients: &AwsClients) -> Vec<Check> {
    vec![
        check_bucket(cfg, clients).await,
        check_zone(cfg, clients).await,
        check_alb(cfg, clients).await,
        check_certificate(cfg, clients).await,
        super::waf::check_web_acl(cfg, clients).await,
        check_efs(cfg, clients).await,
        check_mount(cfg),
        check_rds(cfg).await,
        check_vault(cfg, clients).await,
        check_asg(cfg, clients).await,
    ]
}

async fn check_bucket(cfg: &AwsConfig, c: &AwsClients) -> Check {
    let what = format!("media bucket {} (MYWP_AWS_MEDIA_BUCKET)", cfg.media_bucket);
    match c.s3.head_bucket().bucket(&cfg.media_bucket).send().await {
        Ok(_) => Check::ok(what, "exists and the panel may use it"),
        Err(e) => Check::problem(what, format!("cannot be reached: {}", explain(&e))),
    }
}

async fn check_zone(cfg: &AwsConfig, c: &AwsClients) -> Check {
    let what = format!(
        "hosted zone {} (MYWP_AWS_HOSTED_ZONE_ID)",
        cfg.hosted_zone_id
    );
    match c
        .route53
        .get_hosted_zone()
        .id(&cfg.hosted_zone_id)
        .send()
        .await
    {
        Ok(out) => {
            let name = out
                .hosted_zone()
                .map(|z| z.name().trim_end_matches('.').to_ascii_lowercase())
                .unwrap_or_default();
            if name == cfg.platform_domain {
                Check::ok(what, format!("serves {name}"))
            } else {
                Check::problem(
                    what,
                    format!(
                        "is the zone of {name:?}, not of the platform domain {} \
                         (MYWP_PLATFORM_DOMAIN)",
                        cfg.platform_domain
                    ),
                )
            }
        }
        Err(e) => Check::problem(what, format!("cannot be read: {}", explain(&e))),
    }
}

async fn check_alb(cfg: &AwsConfig, c: &AwsClients) -> Check {
    let what = format!("load balancer {} (MYWP_AWS_ALB_DNS_NAME)", cfg.alb_dns_name);
    let mut marker: Option<String> = None;
    loop {
        let out = match c
            .elb
            .describe_load_balancers()
            .set_marker(marker.take())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => return Check::problem(what, format!("cannot be listed: {}", explain(&e))),
        };
        let found = out.load_balancers().iter().find(|lb| {
            lb.dns_name().is_some_and(|d| {
                d.trim_end_matches('.')
                    .eq_ignore_ascii_case(&cfg.alb_dns_name)
            })
        });
        if let Some(lb) = found {
            let state = lb
                .state()
                .and_then(|s| s.code())
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "unknown".into());
            let zones = lb.availability_zones().len();
            return if state == "active" && zones >= 2 {
                Check::ok(what, format!("active in {zones} availability zones"))
            } else if state != "active" {
                Check::problem(what, format!("is {state}, not active"))
            } else {
                Check::problem(
                    what,
                    format!("spans {zones} availability zone(s): give it at least two"),
                )
            };
        }
        match out.next_marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_string()),
            _ => return Check::problem(what, "no load balancer has this DNS name"),
        }
    }
}

async fn check_certificate(cfg: &AwsConfig, c: &AwsClients) -> Check {
    let what = "platform certificate (MYWP_AWS_PLATFORM_CERT_ARN)".to_string();
    if !cfg.platform_cert_arn.contains(":us-east-1:") {
        return Check::problem(
            what,
            "is not in us-east-1: CloudFront only uses certificates from us-east-1",
        );
    }
    let out = match c
        .acm
        .describe_certificate()
        .certificate_arn(&cfg.platform_cert_arn)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Check::problem(what, format!("cannot be read: {}", explain(&e))),
    };
    let Some(cert) = out.certificate() else {
        return Check::problem(what, "ACM returned nothing");
    };
    let status = cert.status().map(|s| s.as_str()).unwrap_or("unknown");
    let wildcard = format!("*.{}", cfg.platform_domain);
    let covers = cert.domain_name() == Some(wildcard.as_str())
        || cert.subject_alternative_names().contains(&wildcard);
    match (status, covers) {
        ("ISSUED", true) => Check::ok(what, format!("issued, covers {wildcard}")),
        ("ISSUED", false) => Check::problem(what, format!("does not cover {wildcard}")),
        (status, _) => Check::problem(what, format!("is {status}, not ISSUED")),
    }
}

async fn check_efs(cfg: &AwsConfig, c: &AwsClients) -> Check {
    let what = format!("file system {} (MYWP_AWS_EFS_ID)", cfg.efs_id);
    match c
        .efs
        .describe_file_systems()
        .file_system_id(&cfg.efs_id)
        .send()
        .await
    {
        Ok(out) => match out.file_systems().first() {
            Some(fs) if fs.life_cycle_state().as_str() != "available" => Check::problem(
                what,
                format!("is {}, not available", fs.life_cycle_state().as_str()),
            ),
            Some(fs) if fs.number_of_mount_targets() < 2 => Check::problem(
                what,
                format!(
                    "has {} mount target(s): give it one in each availability zone of the \
                     web fleet (at least two)",
                    fs.number_of_mount_targets()
                ),
            ),
            Some(fs) => Check::ok(
                what,
                format!("available, {} mount targets", fs.number_of_mount_targets()),
            ),
            None => Check::problem(what, "does not exist"),
        },
        Err(e) => Check::problem(what, format!("cannot be read: {}", explain(&e))),
    }
}

fn check_mount(cfg: &AwsConfig) -> Check {
    let what = format!(
        "mount path {} (MYWP_AWS_EFS_MOUNT)",
        cfg.efs_mount.display()
    );
    if !cfg.efs_mount.is_dir() {
        return Check::problem(what, "is not a directory: mount the file system there");
    }
    let probe = cfg
        .efs_mount
        .join(format!(".mywp-check-{}", std::process::id()));
    match std::fs::write(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe)) {
        Ok(()) => Check::ok(what, "mounted and writable"),
        Err(e) => Check::problem(what, format!("is not writable: {e}")),
    }
}

async fn check_rds(cfg: &AwsConfig) -> Check {
    let what = format!(
        "RDS MySQL {}:{} as {} (MYWP_AWS_RDS_*)",
        cfg.rds.host,
        cfg.rds.port,
        cfg.rds.admin.user()
    );
    let options = rds_server(cfg).admin_options();
    let connect = options.connect();
    let mut conn = match tokio::time::timeout(std::time::Duration::from_secs(15), connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Check::problem(what, format!("cannot connect: {e}")),
        Err(_) => return Check::problem(what, "does not answer within 15 s"),
    };
    let version: String = match sqlx::query("SELECT VERSION() AS v")
        .fetch_one(&mut conn)
        .await
        .and_then(|row| row.try_get("v"))
    {
        Ok(v) => v,
        Err(e) => return Check::problem(what, format!("cannot query: {e}")),
    };
    let grants: Vec<String> = match sqlx::query("SHOW GRANTS").fetch_all(&mut conn).await {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>(0).ok())
            .collect(),
        Err(e) => return Check::problem(what, format!("cannot read its grants: {e}")),
    };
    let text = grants.join(" ").to_ascii_uppercase();
    let can_grant = text.contains("WITH GRANT OPTION");
    let can_create = text.contains("ALL PRIVILEGES ON *.*") || text.contains("CREATE USER");
    if can_grant && can_create {
        Check::ok(
            what,
            format!("MySQL {version}, may create databases and users"),
        )
    } else {
        Check::problem(
            what,
            "connects, but may not create users and grant them: use RDS's master user",
        )
    }
}

async fn check_vault(cfg: &AwsConfig, c: &AwsClients) -> Check {
    let what = format!("backup vault {} (MYWP_AWS_BACKUP_VAULT)", cfg.backup_vault);
    let role_ok = cfg.backup_role_arn.starts_with("arn:") && cfg.backup_role_arn.contains(":role/");
    if !role_ok {
        return Check::problem(
            what,
            format!(
                "its role {:?} (MYWP_AWS_BACKUP_ROLE_ARN) is not an IAM role ARN",
                cfg.backup_role_arn
            ),
        );
    }
    match c
        .backup
        .describe_backup_vault()
        .backup_vault_name(&cfg.backup_vault)
        .send()
        .await
    {
        Ok(out) => Check::ok(
            what,
            format!(
                "exists{}",
                if out.encryption_key_arn().is_some() {
                    ", encrypted"
                } else {
                    ""
                }
            ),
        ),
        Err(e) => Check::problem(what, format!("cannot be read: {}", explain(&e))),
    }
}

async fn check_asg(cfg: &AwsConfig, c: &AwsClients) -> Check {
    let what = format!("web fleet {} (MYWP_AWS_WEB_ASG)", cfg.web_asg);
    match c
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&cfg.web_asg)
        .send()
        .await
    {
        Ok(out) => match out.auto_scaling_groups().first() {
            Some(group) => {
                let zones = group.availability_zones().len();
                let in_service = group
                    .instances()
                    .iter()
                    .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
                    .count();
                if zones < 2 {
                    Check::problem(
                        what,
                        format!("spans {zones} availability zone(s): give it at least two"),
                    )
                } else if in_service == 0 {
                    Check::problem(what, "has no instance in service: nothing serves the sites")
                } else {
                    Check::ok(
                        what,
                        format!("{in_service} instance(s) in service over {zones} zones"),
                    )
                }
            }
            None => Check::problem(what, "does not exist"),
        },
        Err(e) => Check::problem(what, format!("cannot be read: {}", explain(&e))),
    }
}
