//! The deployment shape (`MYWP_SHAPE`): which drivers provision the sites, and what the
//! panel gets from them.
//!
//! - `single-host` (the default): this host's MariaDB, directories, nginx and php-fpm, as
//!   started by `scripts/dataplane.sh start`.
//! - `aws` (cargo feature `aws`): the shared infrastructure named by the `MYWP_AWS_*` keys;
//!   the control plane must then be on PostgreSQL, shared by every `serve` and `worker`.

use std::{sync::Arc, time::Duration};

use mywp_app::api::ssr::{FleetSource, LoginLinks};
use mywp_jobs::{
    deployment::Deployment,
    drivers::{
        local::{login_link, LocalConfig},
        Drivers,
    },
    settings::{Settings, Shape},
    snapshots::Snapshots,
};

/// What the rest of the panel needs of the shape.
pub struct DataPlane {
    pub drivers: Drivers,
    /// `None`: snapshots are not available here.
    pub snapshots: Option<Arc<Snapshots>>,
    pub login_links: Option<LoginLinks>,
    pub fleet: Option<FleetSource>,
}

impl DataPlane {
    fn of(deployment: Deployment) -> Self {
        let web = Arc::clone(&deployment.web);
        let links: LoginLinks =
            Arc::new(move |site| Some(login_link(&web, site, Duration::from_secs(300))));
        DataPlane {
            drivers: deployment.drivers,
            snapshots: deployment.snapshots,
            login_links: Some(links),
            fleet: None,
        }
    }
}

/// The drivers of the configured shape.
pub async fn data_plane(settings: &Settings) -> anyhow::Result<DataPlane> {
    match settings.shape {
        Shape::SingleHost => Ok(single_host(settings)),
        Shape::Aws => aws(settings).await,
    }
}

/// The single-host data plane's drivers, if its services were started (`dataplane.env`).
fn single_host(settings: &Settings) -> DataPlane {
    match LocalConfig::single_host(settings) {
        Ok(web) => DataPlane::of(Deployment::single_host(web)),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "no single-host data plane: every step will show as not available here"
            );
            DataPlane {
                drivers: Drivers::default(),
                snapshots: None,
                login_links: None,
                fleet: None,
            }
        }
    }
}

#[cfg(not(feature = "aws"))]
async fn aws(_settings: &Settings) -> anyhow::Result<DataPlane> {
    anyhow::bail!(
        "MYWP_SHAPE=aws, but this mywp was built without the AWS shape: build it with \
         `cargo build --release -p mywp --features aws` (or `make release`)"
    )
}

#[cfg(feature = "aws")]
async fn aws(settings: &Settings) -> anyhow::Result<DataPlane> {
    use mywp_jobs::drivers::aws::{resolve_rds_secret, web_data_plane, AwsClients, AwsConfig};

    if !settings.database_url().starts_with("postgres") {
        anyhow::bail!(
            "MYWP_SHAPE=aws needs the control plane on PostgreSQL, shared by every `mywp \
             serve` and `mywp worker`: set DATABASE_URL=postgres://…"
        );
    }
    if settings.master_key_file.is_none() {
        anyhow::bail!(
            "MYWP_SHAPE=aws needs MYWP_MASTER_KEY_FILE: every `mywp serve` and `mywp worker` \
             must derive the sites' secrets from the same key (e.g. a file written at boot \
             from Secrets Manager); create one with `head -c 32 /dev/urandom | xxd -p -c 64`"
        );
    }
    let mut aws = AwsConfig::from_settings(settings)?;
    let clients = AwsClients::new(&aws).await;
    resolve_rds_secret(&mut aws, &clients)
        .await
        .map_err(anyhow::Error::msg)?;
    let aws = Arc::new(aws);
    let web = web_data_plane(settings, &aws)?;
    let mut plane = DataPlane::of(Deployment::aws(Arc::clone(&aws), clients.clone(), web));
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
