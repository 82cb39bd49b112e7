//! The snapshots' part of the backup step: the site's place in the snapshot vault, and on
//! removal, every snapshot of the site deleted.

use std::sync::Arc;

use super::{Driver, Ensured, Removed, SiteSpec, StepError};
use crate::snapshots::Vault;

pub struct VaultStep {
    vault: Arc<dyn Vault>,
}

impl VaultStep {
    pub fn new(vault: Arc<dyn Vault>) -> Self {
        Self { vault }
    }
}

impl Driver for VaultStep {
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
