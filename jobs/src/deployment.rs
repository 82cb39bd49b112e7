//! A deployment shape assembled: the step drivers, and beside them the snapshots that the
//! pipeline takes and restores outside the steps, sharing one vault (the backup step makes
//! each site's place in it). The panel and the tests build the application from this.

use std::sync::Arc;

use crate::{
    drivers::{local::LocalConfig, Drivers},
    snapshots::{LocalVault, SiteContent, Snapshots, Vault},
};

/// What one shape provides the pipeline and the panel.
pub struct Deployment {
    pub drivers: Drivers,
    /// `None`: snapshots are not available here.
    pub snapshots: Option<Arc<Snapshots>>,
    /// The web data plane the drivers work on (the panel's login links use it).
    pub web: Arc<LocalConfig>,
}

impl Deployment {
    /// The single host: its MariaDB, directories, nginx and php-fpm; snapshots kept in
    /// `<state>/snapshots/`.
    pub fn single_host(web: LocalConfig) -> Deployment {
        let web = Arc::new(web);
        let vault: Arc<dyn Vault> = Arc::new(LocalVault::new(web.state_dir.join("snapshots")));
        let snapshots = Snapshots::new(
            content_of(&web),
            Arc::clone(&vault),
            web.state_dir.join("snapshot-work"),
        );
        Deployment {
            drivers: crate::drivers::local::local_drivers(Arc::clone(&web), vault),
            snapshots: Some(Arc::new(snapshots)),
            web,
        }
    }

    /// The AWS shape: the shared infrastructure `cfg` names, reached through `clients`,
    /// with the web fleet's data plane `web` ([`crate::drivers::aws::web_data_plane`]);
    /// snapshots in the site's S3 prefix.
    #[cfg(feature = "aws")]
    pub fn aws(
        cfg: Arc<crate::drivers::aws::AwsConfig>,
        clients: crate::drivers::aws::AwsClients,
        web: LocalConfig,
    ) -> Deployment {
        use crate::drivers::aws::{aws_drivers, S3Vault};
        let web = Arc::new(web);
        let vault: Arc<dyn Vault> = Arc::new(S3Vault::new(clients.clone(), Arc::clone(&cfg)));
        let snapshots = Snapshots::new(
            content_of(&web),
            Arc::clone(&vault),
            web.state_dir.join("snapshot-work"),
        );
        Deployment {
            drivers: aws_drivers(cfg, clients, Arc::clone(&web), vault),
            snapshots: Some(Arc::new(snapshots)),
            web,
        }
    }
}

/// Where the sites' content is, as the snapshots need it.
fn content_of(web: &LocalConfig) -> SiteContent {
    SiteContent {
        sites_dir: web.sites_dir.clone(),
        db: web.db.clone(),
        db_namespace: web.db_namespace.clone(),
        master_key: web.master_key.clone(),
    }
}
