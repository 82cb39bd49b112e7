//! The snapshots' part of the backup step: the site's place in the snapshot vault, and on
//! removal, every snapshot of the site deleted.

use std::sync::Arc;

use futures::{future::BoxFuture, FutureExt};

use super::{Ensured, Removed, SiteSpec, StepDriver, StepError};
use crate::snapshots::Vault;

pub struct VaultStep {
    vault: Arc<dyn Vault>,
}

impl VaultStep {
    pub fn new(vault: Arc<dyn Vault>) -> Self {
        Self { vault }
    }
}

impl StepDriver for VaultStep {
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
