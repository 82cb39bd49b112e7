//! The deployment shape (`MYWP_SHAPE`): which drivers provision the sites.
//!
//! - `single-host` (the default): this host's MariaDB, directories, nginx and php-fpm, as
//!   started by `scripts/dataplane.sh start`.
//! - `aws` (cargo feature `aws`): the shared infrastructure named by the `MYWP_AWS_*` keys;
//!   the control plane must then be on PostgreSQL, shared by every `serve` and `worker`.

use std::{sync::Arc, time::Duration};

use mywp_app::api::ssr::{FleetSource, LoginLinks};
use mywp_jobs::drivers::{
    local::{local_drivers, login_link, LocalConfig},
    Drivers,
};

use crate::config::{Config, Shape};

/// What the rest of the panel needs of the shape.
pub struct DataPlane {
    pub drivers: Drivers,
    pub login_links: Option<LoginLinks>,
    pub fleet: Option<FleetSource>,
    pub sites_port: u16,
    pub sites_https: bool,
}

impl DataPlane {
    fn from_web(web: &LocalConfig, drivers: Drivers) -> Self {
        let for_links = web.clone();
        let links: LoginLinks =
            Arc::new(move |site| Some(login_link(&for_links, site, Duration::from_secs(300))));
        DataPlane {
            drivers,
            login_links: Some(links),
            fleet: None,
            sites_port: web.sites_port,
            sites_https: web.sites_https,
        }
    }
}

/// The drivers of the configured shape.
pub async fn data_plane(config: &Config) -> anyhow::Result<DataPlane> {
    match config.shape {
        Shape::SingleHost => single_host(config),
        Shape::Aws => aws(config).await,
    }
}

/// The single-host data plane's drivers, if its services were started (`dataplane.env`).
fn single_host(config: &Config) -> anyhow::Result<DataPlane> {
    let mut local = match LocalConfig::from_state_dir(&config.state_dir) {
        Ok(local) => local,
        Err(e) => {
            tracing::warn!(
                error = %e,
                "no single-host data plane: every step will show as not available here"
            );
            return Ok(DataPlane {
                drivers: Drivers::default(),
                login_links: None,
                fleet: None,
                sites_port: config.sites_port,
                sites_https: false,
            });
        }
    };
    local.platform_domain = config.platform_domain.clone();
    let drivers = local_drivers(local.clone())?;
    Ok(DataPlane::from_web(&local, drivers))
}

#[cfg(not(feature = "aws"))]
async fn aws(_config: &Config) -> anyhow::Result<DataPlane> {
    anyhow::bail!(
        "MYWP_SHAPE=aws, but this mywp was built without the AWS shape: build it with \
         `cargo build --release -p mywp --features aws` (or `make release`)"
    )
}

#[cfg(feature = "aws")]
async fn aws(config: &Config) -> anyhow::Result<DataPlane> {
    use mywp_jobs::drivers::aws::{aws_drivers, resolve_rds_secret, AwsClients};

    if !config.database_url().starts_with("postgres") {
        anyhow::bail!(
            "MYWP_SHAPE=aws needs the control plane on PostgreSQL, shared by every `mywp \
             serve` and `mywp worker`: set DATABASE_URL=postgres://…"
        );
    }
    let mut aws = aws_config(config)?;
    let clients = AwsClients::new(&aws).await;
    resolve_rds_secret(&mut aws, &clients)
        .await
        .map_err(anyhow::Error::msg)?;
    let aws = Arc::new(aws);
    let web = web_fleet_config(config, &aws)?;
    let drivers = aws_drivers(Arc::clone(&aws), clients.clone(), web.clone());
    let mut plane = DataPlane::from_web(&web, drivers);
    plane.fleet = Some(fleet_source(clients, aws));
    Ok(plane)
}

/// Staff's view of the web fleet, read through the SDK on each request.
#[cfg(feature = "aws")]
fn fleet_source(
    clients: mywp_jobs::drivers::aws::AwsClients,
    aws: Arc<mywp_jobs::drivers::aws::AwsConfig>,
) -> FleetSource {
    use mywp_app::api::types::FleetNode;
    Arc::new(move || {
        let (clients, aws) = (clients.clone(), Arc::clone(&aws));
        Box::pin(async move {
            let nodes = mywp_jobs::drivers::aws::web_fleet(&clients, &aws)
                .await
                .map_err(|e| e.to_string())?;
            Ok(nodes
                .into_iter()
                .map(|n| FleetNode {
                    instance_id: n.instance_id,
                    availability_zone: n.availability_zone,
                    lifecycle_state: n.lifecycle_state,
                    health_status: n.health_status,
                    state: n.state,
                    instance_type: n.instance_type,
                    private_ip: n.private_ip,
                    status_checks: n.status_checks,
                })
                .collect())
        })
    })
}

/// The AWS shape's configuration, from the environment (the config file was merged into it).
#[cfg(feature = "aws")]
pub fn aws_config(config: &Config) -> anyhow::Result<mywp_jobs::drivers::aws::AwsConfig> {
    let platform_domain = config.platform_domain.clone();
    Ok(mywp_jobs::drivers::aws::AwsConfig::from_vars(|key| {
        if key == "MYWP_PLATFORM_DOMAIN" {
            return Some(platform_domain.clone());
        }
        std::env::var(key).ok()
    })?)
}

/// The web nodes' data plane (see [`mywp_jobs::drivers::aws::web_data_plane`]), from the
/// environment; the AWS shape needs an explicit, shared master key.
#[cfg(feature = "aws")]
fn web_fleet_config(
    config: &Config,
    aws: &mywp_jobs::drivers::aws::AwsConfig,
) -> anyhow::Result<LocalConfig> {
    if std::env::var_os("MYWP_MASTER_KEY_FILE").is_none() {
        anyhow::bail!(
            "MYWP_SHAPE=aws needs MYWP_MASTER_KEY_FILE: every `mywp serve` and `mywp worker` \
             must derive the sites' secrets from the same key (e.g. a file written at boot \
             from Secrets Manager); create one with `head -c 32 /dev/urandom | xxd -p -c 64`"
        );
    }
    Ok(mywp_jobs::drivers::aws::web_data_plane(
        &config.state_dir,
        aws,
        |key| std::env::var(key).ok(),
    )?)
}
