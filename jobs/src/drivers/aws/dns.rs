//! The dns step: Route 53 alias records, A and AAAA, in the platform's hosted zone for each
//! of the site's hostnames inside the platform domain, pointing at the site's target (its
//! CloudFront distribution, or a configured shared target). Written by UPSERT only, so a
//! retry never trips over a CREATE that already happened. Hostnames outside the platform
//! domain (customers' own domains) live in zones that are not ours and are skipped: the
//! panel shows the customer which record to create.
//!
//! Removal deletes exactly the alias A/AAAA records at the site's names, after reading
//! them back (a DELETE must match the record set exactly); other records at those names
//! and everything else in the zone are left alone.

use std::sync::Arc;

use aws_sdk_route53::types::{
    AliasTarget as R53AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};
use futures::{future::BoxFuture, FutureExt};

use super::{config::CLOUDFRONT_HOSTED_ZONE_ID, step_error, AwsClients, AwsConfig};
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};

/// What an alias record points at: a DNS name and the hosted zone it belongs to
/// (CloudFront's [`CLOUDFRONT_HOSTED_ZONE_ID`], or an ALB's zone of its region).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasTarget {
    /// e.g. `d111111abcdef8.cloudfront.net`.
    pub dns_name: String,
    /// The target's hosted zone id (not the platform zone).
    pub hosted_zone_id: String,
}

impl AliasTarget {
    /// An alias to a CloudFront distribution's domain name.
    pub fn cloudfront(dns_name: impl Into<String>) -> Self {
        Self {
            dns_name: dns_name.into(),
            hosted_zone_id: CLOUDFRONT_HOSTED_ZONE_ID.to_string(),
        }
    }
}

/// Where a site's alias records point (the cdn step's distribution, in the AWS shape).
pub trait AliasTargets: Send + Sync {
    fn target<'a>(&'a self, site: &'a SiteSpec) -> BoxFuture<'a, Result<AliasTarget, StepError>>;
}

/// One target for every site (a shared distribution or the ALB).
impl AliasTargets for AliasTarget {
    fn target<'a>(&'a self, _site: &'a SiteSpec) -> BoxFuture<'a, Result<AliasTarget, StepError>> {
        futures::future::ready(Ok(self.clone())).boxed()
    }
}

/// The record types the step writes for each hostname.
const TYPES: [RrType; 2] = [RrType::A, RrType::Aaaa];

/// The dns step's driver.
pub struct DnsDriver {
    clients: AwsClients,
    cfg: Arc<AwsConfig>,
    targets: Arc<dyn AliasTargets>,
}

impl DnsDriver {
    /// Each site's records point where `targets` says (its distribution, in the AWS shape).
    pub fn new(clients: AwsClients, cfg: Arc<AwsConfig>, targets: Arc<dyn AliasTargets>) -> Self {
        Self {
            clients,
            cfg,
            targets,
        }
    }

    /// The site's hostnames inside the platform domain, as Route 53 names (FQDN, trailing
    /// dot, lowercase), without duplicates.
    pub fn record_names(&self, site: &SiteSpec) -> Vec<String> {
        let domain = &self.cfg.platform_domain;
        let mut names: Vec<String> = Vec::new();
        for host in &site.hostnames {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let inside = host == *domain
                || host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|rest| rest.ends_with('.'));
            let fqdn = format!("{host}.");
            if inside && !names.contains(&fqdn) {
                names.push(fqdn);
            }
        }
        names
    }

    fn resource(&self, names: &[String]) -> String {
        format!(
            "route53:{} {} (A, AAAA)",
            self.cfg.hosted_zone_id,
            names
                .iter()
                .map(|n| n.trim_end_matches('.'))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    async fn ensure_site(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let names = self.record_names(site);
        if names.is_empty() {
            return Ok(Ensured::Done {
                resource: format!(
                    "no hostname of this site is in {}: nothing to write",
                    self.cfg.platform_domain
                ),
            });
        }
        let target = self.targets.target(site).await?;
        let alias = R53AliasTarget::builder()
            .hosted_zone_id(&target.hosted_zone_id)
            .dns_name(&target.dns_name)
            .evaluate_target_health(false)
            .build()
            .map_err(StepError::permanent)?;
        let mut changes = Vec::new();
        for name in &names {
            for ty in TYPES {
                let set = ResourceRecordSet::builder()
                    .name(name)
                    .r#type(ty)
                    .alias_target(alias.clone())
                    .build()
                    .map_err(StepError::permanent)?;
                changes.push(change(ChangeAction::Upsert, set)?);
            }
        }
        self.change(
            changes,
            &format!("site {} → {}", site.slug, target.dns_name),
            "write the site's DNS records",
        )
        .await?;
        Ok(Ensured::Done {
            resource: self.resource(&names),
        })
    }

    async fn remove_site(&self, site: &SiteSpec) -> Result<(), StepError> {
        let mut changes = Vec::new();
        for name in self.record_names(site) {
            for set in self.alias_records_at(&name).await? {
                changes.push(change(ChangeAction::Delete, set)?);
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        // A record deleted by someone else in the meantime fails the whole batch
        // (InvalidChangeBatch); the retry reads the zone again.
        self.change(
            changes,
            &format!("site {} deleted", site.slug),
            "delete the site's DNS records",
        )
        .await
        .map_err(|e| match e {
            StepError::Permanent(m) if m.contains("InvalidChangeBatch") => StepError::Transient(m),
            e => e,
        })
    }

    /// The alias A and AAAA record sets named exactly `name` in the platform zone.
    async fn alias_records_at(&self, name: &str) -> Result<Vec<ResourceRecordSet>, StepError> {
        let zone = &self.cfg.hosted_zone_id;
        let out = self
            .clients
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(RrType::A)
            // A, AAAA and then other types (or names) follow in Route 53's order.
            .max_items(10)
            .send()
            .await
            .map_err(|e| step_error(&format!("read the DNS records of {name}"), e))?;
        Ok(out
            .resource_record_sets()
            .iter()
            .filter(|set| {
                set.name()
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(name.trim_end_matches('.'))
                    && TYPES.contains(set.r#type())
                    && set.alias_target().is_some()
            })
            .cloned()
            .collect())
    }

    async fn change(
        &self,
        changes: Vec<Change>,
        comment: &str,
        what: &str,
    ) -> Result<(), StepError> {
        let batch = ChangeBatch::builder()
            .comment(format!("MyWP: {comment}"))
            .set_changes(Some(changes))
            .build()
            .map_err(StepError::permanent)?;
        self.clients
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(&self.cfg.hosted_zone_id)
            .change_batch(batch)
            .send()
            .await
            .map_err(|e| {
                step_error(
                    &format!("{what} in hosted zone {}", self.cfg.hosted_zone_id),
                    e,
                )
            })?;
        Ok(())
    }
}

fn change(action: ChangeAction, set: ResourceRecordSet) -> Result<Change, StepError> {
    Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(StepError::permanent)
}

impl Driver for DnsDriver {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        self.ensure_site(site).await
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        self.remove_site(site).await.map(|()| Removed::Gone)
    }
}
