//! A site's [`SiteSpec`]: what the drivers (and the panel's login links) work from, built
//! in this one place from the site's row and its domains, every name parsed once. Only the
//! domains proven the site's are in it: nothing serves a domain before that.

use super::{SiteRow, Store, StoreError};
use crate::domain::{Hostname, Invalid, ProofState, SiteAddressing, SiteSlug, SiteSpec};

impl Store {
    /// The site's spec: its platform hostname first, then its own verified domains; its
    /// primary domain only while verified. A stored name that no longer parses is an
    /// error: nothing must run on it.
    pub async fn site_spec(
        &self,
        site: &SiteRow,
        addressing: &SiteAddressing,
    ) -> Result<SiteSpec, StoreError> {
        let corrupt = |e: Invalid| StoreError::Config(format!("site {}: {}", site.id, e.message));
        let slug = SiteSlug::from_stored(&site.slug).map_err(corrupt)?;
        let mut hostnames = vec![addressing.platform_host(&slug)];
        for domain in self.domains_of(site.id).await? {
            if domain.proof == ProofState::Verified {
                hostnames.push(Hostname::parse(&domain.hostname).map_err(corrupt)?);
            }
        }
        let primary = site
            .primary_domain
            .as_deref()
            .map(Hostname::parse)
            .transpose()
            .map_err(corrupt)?
            .filter(|p| hostnames.contains(p));
        Ok(SiteSpec {
            id: site.id,
            slug,
            title: site.title.clone(),
            owner_email: site.owner_email.clone(),
            hostnames,
            primary,
        })
    }
}
