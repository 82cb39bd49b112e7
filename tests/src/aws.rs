//! The AWS shape's shared infrastructure, made fresh in moto server for one test: a media
//! bucket (versioned, as deploy/mywp.yaml makes it), a hosted zone, an EFS file system
//! "mounted" at a directory of the test data plane, the platform's wildcard certificate, a
//! backup vault, the web ACL (deploy/mywp.yaml's rules), and (for `mywp infra check`) a VPC over two zones with a load balancer and
//! an Auto Scaling group of web nodes. RDS MySQL is the test MariaDB over TCP.
//!
//! moto keeps one state for every test: every name here is unique.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use mywp_jobs::{
    drivers::{
        aws::{
            backup_plan_name, media_prefix, normalize_zone_id, web_data_plane, AwsClients,
            AwsConfig, CdnDriver, MANAGED_RULE_GROUPS, RATE_LIMITED_PATHS, SITE_TAG,
        },
        local::LocalConfig,
        SiteSpec,
    },
    settings::{read_env_file, Settings},
};

use crate::{dataplane, mywp_bin, repo_root, unique};

/// One test's AWS shape: its configuration as `MYWP_*` variables, parsed, and the clients.
pub struct TestInfra {
    pub vars: Vec<(String, String)>,
    pub cfg: AwsConfig,
    pub clients: AwsClients,
}

impl TestInfra {
    /// `key`'s value in the configuration.
    pub fn var(&self, key: &str) -> &str {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{key} is not in the test configuration"))
    }
}

/// moto server's URL, from `MYWP_TEST_AWS_ENDPOINT` (set by the test command).
pub fn endpoint() -> String {
    std::env::var("MYWP_TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "MYWP_TEST_AWS_ENDPOINT is not set: run the tests with `make test`, which starts moto"
        )
    })
}

fn env(key: &str) -> String {
    std::env::var(key)
        .unwrap_or_else(|_| panic!("{key} is not set: run the tests with `make test`"))
}

/// Makes the infrastructure; with `fleet`, also the VPC, load balancer and web fleet.
pub async fn infra(fleet: bool) -> TestInfra {
    let tag = unique("t");
    let domain = format!("{tag}.mywp.test");
    let mount = dataplane::state_dir().join("efs").join(&tag);
    std::fs::create_dir_all(&mount).expect("create the EFS stand-in directory");
    let mut vars: Vec<(String, String)> = vec![
        ("MYWP_AWS_ENDPOINT_URL".into(), endpoint()),
        ("MYWP_AWS_REGION".into(), "us-east-1".into()),
        ("MYWP_PLATFORM_DOMAIN".into(), domain.clone()),
        ("MYWP_AWS_EFS_MOUNT".into(), mount.display().to_string()),
        (
            "MYWP_AWS_RDS_ENDPOINT".into(),
            env("MYWP_TEST_MYSQL_ENDPOINT"),
        ),
        (
            "MYWP_AWS_RDS_ADMIN_USER".into(),
            env("MYWP_TEST_MYSQL_ADMIN_USER"),
        ),
        (
            "MYWP_AWS_RDS_ADMIN_PASSWORD_FILE".into(),
            env("MYWP_TEST_MYSQL_ADMIN_PASSWORD_FILE"),
        ),
        (
            "MYWP_AWS_BACKUP_ROLE_ARN".into(),
            "arn:aws:iam::123456789012:role/mywp-backup".into(),
        ),
        // moto has no AWS Backup selections (see jobs/tests/aws_recorded.rs).
        ("MYWP_AWS_BACKUP_SELECTIONS".into(), "off".into()),
        ("MYWP_DB_NAMESPACE".into(), crate::db_namespace()),
    ];
    // Placeholders, replaced as the resources are made; the clients only need the endpoint.
    let placeholder = |vars: &mut Vec<(String, String)>| {
        for (k, v) in [
            ("MYWP_AWS_HOSTED_ZONE_ID", "Z0"),
            ("MYWP_AWS_MEDIA_BUCKET", "b"),
            ("MYWP_AWS_ALB_DNS_NAME", "alb.invalid"),
            (
                "MYWP_AWS_PLATFORM_CERT_ARN",
                "arn:aws:acm:us-east-1:123456789012:certificate/0",
            ),
            ("MYWP_AWS_EFS_ID", "fs-0"),
            (
                "MYWP_AWS_WEB_ACL_ARN",
                "arn:aws:wafv2:us-east-1:123456789012:global/webacl/p/0",
            ),
            ("MYWP_AWS_BACKUP_VAULT", "v"),
            ("MYWP_AWS_WEB_ASG", "asg"),
        ] {
            vars.push((k.into(), v.into()));
        }
    };
    placeholder(&mut vars);
    let clients = AwsClients::new(&parse(&vars)).await;
    let mut set = |key: &str, value: String| {
        for (k, v) in vars.iter_mut() {
            if k == key {
                *v = value.clone();
            }
        }
    };

    let bucket = format!("mywp-media-{tag}");
    clients
        .s3
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the media bucket");
    clients
        .s3
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("version the media bucket");
    set("MYWP_AWS_MEDIA_BUCKET", bucket);

    let zone = clients
        .route53
        .create_hosted_zone()
        .name(&domain)
        .caller_reference(unique("ref"))
        .send()
        .await
        .expect("create the platform zone");
    set(
        "MYWP_AWS_HOSTED_ZONE_ID",
        normalize_zone_id(zone.hosted_zone().expect("a zone").id()),
    );

    let fs = clients
        .efs
        .create_file_system()
        .creation_token(unique("fs"))
        .encrypted(true)
        .send()
        .await
        .expect("create the file system");
    set("MYWP_AWS_EFS_ID", fs.file_system_id().to_string());

    let cert = clients
        .acm
        .request_certificate()
        .domain_name(format!("*.{domain}"))
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .expect("request the platform certificate");
    set(
        "MYWP_AWS_PLATFORM_CERT_ARN",
        cert.certificate_arn().expect("an ARN").to_string(),
    );

    set("MYWP_AWS_WEB_ACL_ARN", web_acl(&clients, true).await);

    let vault = format!("mywp-{tag}");
    clients
        .backup
        .create_backup_vault()
        .backup_vault_name(&vault)
        .send()
        .await
        .expect("create the backup vault");
    set("MYWP_AWS_BACKUP_VAULT", vault);

    if fleet {
        let (alb, asg, subnets) = web_fleet(&clients, &tag).await;
        for subnet in subnets {
            clients
                .efs
                .create_mount_target()
                .file_system_id(fs.file_system_id())
                .subnet_id(subnet)
                .send()
                .await
                .expect("create a mount target");
        }
        set("MYWP_AWS_ALB_DNS_NAME", alb);
        set("MYWP_AWS_WEB_ASG", asg);
    }
    let cfg = parse(&vars);
    TestInfra { vars, cfg, clients }
}

fn parse(vars: &[(String, String)]) -> AwsConfig {
    AwsConfig::from_settings(&settings(vars)).expect("the test AWS configuration is valid")
}

/// The settings `vars` make, in the AWS shape with the test data plane's state directory.
fn settings(vars: &[(String, String)]) -> Settings {
    let state = dataplane::state_dir().display().to_string();
    let base = [
        ("MYWP_SHAPE".to_string(), "aws".to_string()),
        ("MYWP_STATE_DIR".to_string(), state),
    ];
    Settings::from_pairs(base.into_iter().chain(vars.iter().cloned()))
        .expect("the test settings are valid")
}

/// A CloudFront web ACL in moto with deploy/mywp.yaml's rules: the four AWS managed
/// groups and, with `rate_rule`, the per-address limit on the login paths (without it, a
/// misconfigured one). Its ARN.
pub async fn web_acl(clients: &AwsClients, rate_rule: bool) -> String {
    use aws_sdk_wafv2::{
        primitives::Blob,
        types::{
            AllowAction, BlockAction, ByteMatchStatement, DefaultAction, FieldToMatch,
            ManagedRuleGroupStatement, NoneAction, OrStatement, OverrideAction,
            PositionalConstraint, RateBasedStatement, RateBasedStatementAggregateKeyType, Rule,
            RuleAction, Scope, Statement, TextTransformation, TextTransformationType, UriPath,
            VisibilityConfig,
        },
    };
    let visibility = |metric: &str| {
        VisibilityConfig::builder()
            .sampled_requests_enabled(true)
            .cloud_watch_metrics_enabled(true)
            .metric_name(metric)
            .build()
            .unwrap()
    };
    let path = |p: &str| {
        let transform = |priority, kind| {
            TextTransformation::builder()
                .priority(priority)
                .r#type(kind)
                .build()
                .unwrap()
        };
        Statement::builder()
            .byte_match_statement(
                ByteMatchStatement::builder()
                    .search_string(Blob::new(p))
                    .field_to_match(
                        FieldToMatch::builder()
                            .uri_path(UriPath::builder().build())
                            .build(),
                    )
                    .positional_constraint(PositionalConstraint::Exactly)
                    .text_transformations(transform(0, TextTransformationType::UrlDecode))
                    .text_transformations(transform(1, TextTransformationType::NormalizePath))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let mut rules = Vec::new();
    if rate_rule {
        let mut paths = OrStatement::builder();
        for p in RATE_LIMITED_PATHS {
            paths = paths.statements(path(p));
        }
        let rate = RateBasedStatement::builder()
            .limit(100)
            .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
            .scope_down_statement(
                Statement::builder()
                    .or_statement(paths.build().unwrap())
                    .build(),
            )
            .build()
            .unwrap();
        rules.push(
            Rule::builder()
                .name("login-rate")
                .priority(0)
                .action(
                    RuleAction::builder()
                        .block(BlockAction::builder().build())
                        .build(),
                )
                .visibility_config(visibility("login-rate"))
                .statement(Statement::builder().rate_based_statement(rate).build())
                .build()
                .unwrap(),
        );
    }
    for (i, group) in MANAGED_RULE_GROUPS.into_iter().enumerate() {
        let statement = ManagedRuleGroupStatement::builder()
            .vendor_name("AWS")
            .name(group)
            .build()
            .unwrap();
        rules.push(
            Rule::builder()
                .name(group)
                .priority(i as i32 + 1)
                .override_action(
                    OverrideAction::builder()
                        .none(NoneAction::builder().build())
                        .build(),
                )
                .visibility_config(visibility(group))
                .statement(
                    Statement::builder()
                        .managed_rule_group_statement(statement)
                        .build(),
                )
                .build()
                .unwrap(),
        );
    }
    let out = clients
        .wafv2
        .create_web_acl()
        .name(unique("mywp-sites-"))
        .scope(Scope::Cloudfront)
        .default_action(
            DefaultAction::builder()
                .allow(AllowAction::builder().build())
                .build(),
        )
        .visibility_config(visibility("sites"))
        .set_rules(Some(rules))
        .send()
        .await
        .expect("create the web ACL");
    out.summary()
        .and_then(|s| s.arn())
        .expect("the web ACL's ARN")
        .to_string()
}

/// A VPC with a subnet in each of two zones, a load balancer over them and an Auto
/// Scaling group of two web nodes: (the load balancer's DNS name, the group's name, the
/// subnets).
async fn web_fleet(clients: &AwsClients, tag: &str) -> (String, String, Vec<String>) {
    let vpc = clients
        .ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .expect("create a VPC");
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("a VPC id")
        .to_string();
    let mut subnets = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b"].into_iter().enumerate() {
        let subnet = clients
            .ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block(format!("10.42.{i}.0/24"))
            .availability_zone(zone)
            .send()
            .await
            .expect("create a subnet");
        subnets.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("a subnet id")
                .to_string(),
        );
    }
    let lb = clients
        .elb
        .create_load_balancer()
        .name(format!("web-{}", &tag[tag.len().saturating_sub(20)..]).replace('x', "-"))
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .expect("create the load balancer");
    let dns = lb.load_balancers()[0]
        .dns_name()
        .expect("a DNS name")
        .to_string();
    let template = format!("mywp-web-{tag}");
    clients
        .ec2
        .create_launch_template()
        .launch_template_name(&template)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
                .build(),
        )
        .send()
        .await
        .expect("create the launch template");
    let asg = format!("mywp-web-{tag}");
    clients
        .autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(&asg)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name(&template)
                .version("$Latest")
                .build(),
        )
        .min_size(2)
        .max_size(4)
        .desired_capacity(2)
        .vpc_zone_identifier(subnets.join(","))
        .send()
        .await
        .expect("create the web fleet");
    (dns, asg, subnets)
}

/// What moto holds of a site: a count of each kind of resource the AWS shape makes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub distributions: usize,
    pub records: usize,
    pub media_objects: usize,
    pub access_points: usize,
    pub backup_plans: usize,
    pub certificates: usize,
}

pub async fn inventory(cfg: &AwsConfig, c: &AwsClients, site: &SiteSpec) -> Inventory {
    let comment = CdnDriver::comment(site);
    let dists = c.cloudfront.list_distributions().send().await.unwrap();
    let distributions = dists
        .distribution_list()
        .map(|l| l.items().iter().filter(|d| d.comment() == comment).count())
        .unwrap_or(0);
    let host = format!("{}.", site.hostnames[0]);
    let sets = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&cfg.hosted_zone_id)
        .send()
        .await
        .unwrap();
    let records = sets
        .resource_record_sets()
        .iter()
        .filter(|s| s.name() == host)
        .count();
    let versions =
        c.s3.list_object_versions()
            .bucket(&cfg.media_bucket)
            .prefix(media_prefix(&site.slug))
            .send()
            .await
            .unwrap();
    // Distinct keys among every version and delete marker: a retried write adds a version
    // of the same object, not a second object; after removal no version may be left.
    let media_objects = versions
        .versions()
        .iter()
        .filter_map(|v| v.key())
        .chain(versions.delete_markers().iter().filter_map(|m| m.key()))
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let id = site.id.to_string();
    let access_points = site_access_points(c, cfg, site.id).await.len();
    let plans = c.backup.list_backup_plans().send().await.unwrap();
    let name = backup_plan_name(site);
    let backup_plans = plans
        .backup_plans_list()
        .iter()
        .filter(|p| p.backup_plan_name() == Some(name.as_str()) && p.deletion_date().is_none())
        .count();
    let mut certificates = 0;
    let certs = c.acm.list_certificates().send().await.unwrap();
    for cert in certs.certificate_summary_list() {
        let tags = c
            .acm
            .list_tags_for_certificate()
            .certificate_arn(cert.certificate_arn().unwrap())
            .send()
            .await
            .unwrap();
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == SITE_TAG && t.value() == Some(id.as_str()))
        {
            certificates += 1;
        }
    }
    Inventory {
        distributions,
        records,
        media_objects,
        access_points,
        backup_plans,
        certificates,
    }
}

/// The EFS access points tagged with the site's id.
pub async fn site_access_points(
    c: &AwsClients,
    cfg: &AwsConfig,
    site_id: i64,
) -> Vec<aws_sdk_efs::types::AccessPointDescription> {
    let id = site_id.to_string();
    let aps = c
        .efs
        .describe_access_points()
        .file_system_id(&cfg.efs_id)
        .send()
        .await
        .expect("list the access points");
    aps.access_points()
        .iter()
        .filter(|ap| {
            ap.tags()
                .iter()
                .any(|t| t.key() == SITE_TAG && t.value() == id)
        })
        .cloned()
        .collect()
}

/// What the AWS shape makes for a live site without custom domains: one of each, two DNS
/// records (A and AAAA), one media object (the prefix's marker).
pub const ONE_SITE: Inventory = Inventory {
    distributions: 1,
    records: 2,
    media_objects: 1,
    access_points: 1,
    backup_plans: 1,
    certificates: 0,
};

/// The test data plane's `dataplane.env` (paths of its nginx, php-fpm, shared core…).
pub fn dataplane_env() -> HashMap<String, String> {
    read_env_file(&dataplane::state_dir().join("dataplane.env"))
        .expect("dataplane.env: run the tests with `make test`, which starts the data plane")
}

/// The web nodes' settings in the test: the test data plane's paths, and its nginx as the
/// load balancer (`MYWP_SITES_PROBE`).
fn web_vars() -> Vec<(String, String)> {
    let file = dataplane_env();
    let nginx_dir = PathBuf::from(&file["MYWP_NGINX_CONF"])
        .parent()
        .expect("nginx.conf's directory")
        .to_path_buf();
    let mut vars: Vec<(String, String)> = [
        "MYWP_PHP_FPM_SOCKET",
        "MYWP_WORDPRESS_CORE",
        "MYWP_DATAPLANE_PHP_DIR",
        "MYWP_DEFAULT_THEME_DIR",
        "MYWP_WEB_USER",
        "MYWP_SITES_PORT",
        "MYWP_SITES_LISTEN",
    ]
    .into_iter()
    .filter_map(|k| Some((k.to_string(), file.get(k)?.clone())))
    .collect();
    vars.push(("MYWP_SITES_PROBE".into(), file["MYWP_SITES_LISTEN"].clone()));
    vars.push((
        "MYWP_NGINX_FASTCGI_PARAMS".into(),
        nginx_dir.join("fastcgi_params").display().to_string(),
    ));
    vars
}

/// The web nodes' data plane for `infra`, as the AWS shape's drivers see it.
pub fn web_config(infra: &TestInfra) -> LocalConfig {
    let mut vars = infra.vars.clone();
    vars.extend(web_vars());
    web_data_plane(&settings(&vars), &infra.cfg).expect("the web data plane's config")
}

/// Everything a `mywp serve` or `mywp worker` of the AWS shape needs, as config lines.
pub fn panel_vars(infra: &TestInfra, database_url: &str) -> Vec<(String, String)> {
    let state = dataplane::state_dir();
    let mut vars = vec![
        ("MYWP_SHAPE".to_string(), "aws".to_string()),
        ("DATABASE_URL".into(), database_url.to_string()),
        ("MYWP_STATE_DIR".into(), state.display().to_string()),
        (
            "MYWP_MASTER_KEY_FILE".into(),
            state.join("master.key").display().to_string(),
        ),
        (
            "MYWP_SITE_ROOT".into(),
            repo_root().join("target/site").display().to_string(),
        ),
        ("MYWP_LEASE_SECONDS".into(), "5".into()),
    ];
    vars.extend(infra.vars.iter().cloned());
    vars.extend(web_vars());
    vars
}

/// Writes `vars` as an env-style config file (what `--config` reads) in `dir`.
pub fn write_config(dir: &Path, vars: &[(String, String)]) -> PathBuf {
    let file = dir.join("mywp.env");
    let mut text = String::from("# written by the test\n");
    for (k, v) in vars {
        text.push_str(&format!("{k}=\"{v}\"\n"));
    }
    std::fs::write(&file, text).expect("write the config file");
    file
}

/// A `mywp` process, killed when dropped.
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `mywp --config FILE <args>`, configured by the file alone (and AWS test credentials).
fn mywp(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(mywp_bin());
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

/// Runs `mywp --config FILE <args>` to the end: (success, stdout and stderr).
pub fn run_mywp(config: &Path, args: &[&str]) -> (bool, String) {
    let out = mywp(config, args).output().expect("run mywp");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Starts `mywp serve --no-workers` on a free port: the process and the panel's URL.
pub fn spawn_panel(config: &Path) -> (Process, String) {
    let mut child = mywp(
        config,
        &["serve", "--no-workers", "--listen", "127.0.0.1:0"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .expect("start mywp serve");
    let stdout = child.stdout.take().expect("its stdout");
    let process = Process(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read mywp serve's first line");
    let url = line
        .trim()
        .strip_prefix("MyWP is serving at ")
        .unwrap_or_else(|| panic!("mywp serve did not start: {line:?}"))
        .to_string();
    (process, url)
}

/// Starts `mywp worker`.
pub fn spawn_worker(config: &Path, name: &str) -> Process {
    Process(
        mywp(config, &["worker", "--worker-name", name])
            .spawn()
            .expect("start mywp worker"),
    )
}

/// `mywp agent` mirroring the "EFS" server blocks into the test nginx's fleet directory
/// (one at a time: the fleet directory is the agent's; tests using it live in separate
/// test binaries, which cargo runs one after another).
pub struct Agent(Child);

impl Agent {
    pub fn start(cfg: &AwsConfig) -> Agent {
        let state = dataplane::state_dir();
        let file = dataplane_env();
        let conf = PathBuf::from(&file["MYWP_NGINX_CONF"]);
        let shared = cfg.server_blocks_dir();
        std::fs::create_dir_all(&shared).expect("create the shared server blocks directory");
        let child = Command::new(mywp_bin())
            .arg("agent")
            .arg("--shared-dir")
            .arg(&shared)
            .arg("--nginx-sites-dir")
            .arg(&file["MYWP_NGINX_FLEET_SITES_DIR"])
            .arg("--nginx-conf")
            .arg(&conf)
            .arg("--nginx-prefix")
            .arg(conf.parent().expect("nginx.conf's directory"))
            .arg("--nginx-error-log")
            .arg(state.join("log").join("nginx-error.log"))
            .arg("--interval-ms")
            .arg("200")
            .stdin(Stdio::null())
            .spawn()
            .expect("start mywp agent");
        Agent(child)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
