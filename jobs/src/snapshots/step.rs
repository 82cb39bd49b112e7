//! The snapshots' part of the backup step: the site's place in the vault, and on removal,
//! every snapshot of the site deleted.

use std::sync::Arc;

use futures::{future::BoxFuture, FutureExt};

use super::Vault;
use crate::drivers::{Ensured, Removed, SiteSpec, StepDriver, StepError};

pub struct SnapshotsStep {
    vault: Arc<dyn Vault>,
}

impl SnapshotsStep {
    pub fn new(vault: Arc<dyn Vault>) -> Self {
        Self { vault }
    }
}

impl StepDriver for SnapshotsStep {
    fn ensure<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<Ensured, StepError>> {
        async move {
            self.vault.prepare(&site.slug).await?;
            Ok(Ensured::Done {
                resource: format!("snapshots in {}", self.vault.location(&site.slug)),
            })
        }
        .boxed()
    }

    fn remove<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<Removed, StepError>> {
        async move {
            self.vault.delete_site(&site.slug).await?;
            Ok(Removed::Gone)
        }
        .boxed()
    }
}
