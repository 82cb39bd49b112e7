//! The drivers behind each provisioning step.
//!
//! A driver turns one step of a site's pipeline into real infrastructure. Every driver is
//! idempotent: `ensure` creates what is missing or adopts what exists, `remove` deletes what
//! exists and succeeds when it is already gone. A step whose driver is absent in a deployment
//! shows as "not available here"; it is never reported as done.

#[cfg(feature = "aws")]
pub mod aws;
pub mod local;
mod vault_step;

use std::{future::Future, sync::Arc};

use futures::future::BoxFuture;

use crate::domain::StepKind;
pub use crate::domain::{SiteSpec, StepError};
pub use vault_step::VaultStep;

/// How an `ensure` ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    /// The resource exists and is ready; the string identifies it (shown to staff).
    Done { resource: String },
    /// The resource exists but is not ready yet (a deploy, a validation): ask again later.
    Waiting {
        resource: String,
        retry_after: std::time::Duration,
        reason: String,
    },
}

/// How a `remove` ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    /// Nothing of the step's resource is left (or nothing ever existed).
    Gone,
    /// Removal is under way but cannot finish yet (a CloudFront distribution must be
    /// disabled and deployed before AWS lets it be deleted): ask again later.
    Waiting {
        retry_after: std::time::Duration,
        reason: String,
    },
}

/// One step's implementation in one deployment shape: what each driver writes, as two
/// plain async methods. The pipeline holds drivers as `Arc<dyn StepDriver>`, which every
/// `Driver` is (the blanket impl below boxes the futures).
pub trait Driver: Send + Sync {
    /// Create or adopt the step's resource for `site`.
    fn ensure(&self, site: &SiteSpec) -> impl Future<Output = Result<Ensured, StepError>> + Send;
    /// Delete the step's resource for `site`; succeed when it is already gone.
    fn remove(&self, site: &SiteSpec) -> impl Future<Output = Result<Removed, StepError>> + Send;
}

/// A driver as the pipeline holds it: object-safe (`Arc<dyn StepDriver>`), the futures boxed.
pub trait StepDriver: Send + Sync {
    /// Create or adopt the step's resource for `site`.
    fn ensure<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<Ensured, StepError>>;
    /// Delete the step's resource for `site`; succeed when it is already gone.
    fn remove<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<Removed, StepError>>;
}

impl<T: Driver> StepDriver for T {
    fn ensure<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<Ensured, StepError>> {
        Box::pin(Driver::ensure(self, site))
    }

    fn remove<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<Removed, StepError>> {
        Box::pin(Driver::remove(self, site))
    }
}

/// Several drivers doing one step together, in order (the AWS shape's backup step: the AWS
/// Backup plan, then the site's place for logical snapshots); removal runs in reverse.
pub struct AllOf(pub Vec<Arc<dyn StepDriver>>);

impl Driver for AllOf {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let mut resources = Vec::new();
        for driver in &self.0 {
            match driver.ensure(site).await? {
                Ensured::Done { resource } => resources.push(resource),
                Ensured::Waiting {
                    resource,
                    retry_after,
                    reason,
                } => {
                    resources.push(resource);
                    return Ok(Ensured::Waiting {
                        resource: resources.join("; "),
                        retry_after,
                        reason,
                    });
                }
            }
        }
        Ok(Ensured::Done {
            resource: resources.join("; "),
        })
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        for driver in self.0.iter().rev() {
            if let waiting @ Removed::Waiting { .. } = driver.remove(site).await? {
                return Ok(waiting);
            }
        }
        Ok(Removed::Gone)
    }
}

/// The drivers of one deployment shape, one per step; `None` means "not available here".
#[derive(Clone, Default)]
pub struct Drivers {
    pub database: Option<Arc<dyn StepDriver>>,
    pub files: Option<Arc<dyn StepDriver>>,
    pub media: Option<Arc<dyn StepDriver>>,
    pub wordpress: Option<Arc<dyn StepDriver>>,
    pub cdn: Option<Arc<dyn StepDriver>>,
    pub dns: Option<Arc<dyn StepDriver>>,
    pub certificate: Option<Arc<dyn StepDriver>>,
    pub backup: Option<Arc<dyn StepDriver>>,
}

impl Drivers {
    pub fn get(&self, step: StepKind) -> Option<&Arc<dyn StepDriver>> {
        match step {
            StepKind::Database => self.database.as_ref(),
            StepKind::Files => self.files.as_ref(),
            StepKind::Media => self.media.as_ref(),
            StepKind::Wordpress => self.wordpress.as_ref(),
            StepKind::Cdn => self.cdn.as_ref(),
            StepKind::Dns => self.dns.as_ref(),
            StepKind::Certificate => self.certificate.as_ref(),
            StepKind::Backup => self.backup.as_ref(),
        }
    }
}
