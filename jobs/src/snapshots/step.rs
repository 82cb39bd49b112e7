//! The snapshots' part of the backup step: the site's place in the vault, and on removal,
//! every snapshot of the site deleted.

use std::sync::Arc;

use super::Vault;
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};

pub struct SnapshotsStep {
    vault: Arc<dyn Vault>,
}

impl SnapshotsStep {
    pub fn new(vault: Arc<dyn Vault>) -> Self {
        Self { vault }
    }
}

impl Driver for SnapshotsStep {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        self.vault.prepare(&site.slug).await?;
        Ok(Ensured::Done {
            resource: format!("snapshots in {}", self.vault.location(&site.slug)),
        })
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        self.vault.delete_site(&site.slug).await?;
        Ok(Removed::Gone)
    }
}
