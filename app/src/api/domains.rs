//! A site's own domains: add one, remove one, make one the site's address. Each change
//! sends the site through its steps again (server block, distribution, certificate…).

use leptos::prelude::*;

use crate::error::AppError;

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use mywp_jobs::store::SiteRow;

    use super::super::ssr::state;
    use crate::{
        api::types::{DomainView, Domains},
        error::AppError,
    };

    /// The site's domains, as its page shows them.
    pub async fn domains_of(site: &SiteRow) -> Result<Domains, AppError> {
        let state = state()?;
        let rows = state.store.domains_of(site.id).await?;
        Ok(Domains {
            platform_host: state.platform_host(&site.slug),
            primary: site.primary_domain.clone(),
            items: rows
                .into_iter()
                .map(|d| DomainView {
                    display: idna::domain_to_unicode(&d.hostname).0,
                    hostname: d.hostname,
                    created_at: d.created_at,
                })
                .collect(),
            https: state.addressing.https,
        })
    }
}

/// The caller's site, not being deleted.
#[cfg(feature = "ssr")]
async fn changeable_site(
    slug: &str,
) -> Result<(mywp_jobs::store::Account, mywp_jobs::store::SiteRow), AppError> {
    use super::{sites::owned, ssr::*};
    let user = require_user()?;
    let site = owned::site(&user, slug).await?;
    if !site.wanted {
        return Err(fail(AppError::Conflict(
            "The site is being deleted.".into(),
        )));
    }
    Ok((user, site))
}

/// Records the change and sends the site through its steps again.
#[cfg(feature = "ssr")]
async fn apply(
    user: &mywp_jobs::store::Account,
    site: &mywp_jobs::store::SiteRow,
    action: &str,
    hostname: &str,
) -> Result<(), AppError> {
    use super::{sites::owned, ssr::*};
    state()?.store.reconverge_site(site.id).await?;
    owned::audit_detail(user, action, site, hostname).await?;
    owned::hand_to_worker(site.id).await
}

/// Maps the customer's domain `hostname` (IDNA allowed) to the site.
#[server(prefix = "/api", endpoint = "add_domain")]
pub async fn add_domain(slug: String, hostname: String) -> Result<(), AppError> {
    use mywp_jobs::{domain::CustomDomain, store::StoreError};

    use super::ssr::*;
    let (user, site) = changeable_site(&slug).await?;
    let state = state()?;
    let domain = CustomDomain::parse(&hostname, &state.addressing.platform_domain)
        .map_err(|e| fail(e.into()))?;
    match state.store.add_domain(site.id, &domain).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(fail(AppError::invalid(
                "hostname",
                format!("{domain} is already mapped to a site."),
            )))
        }
        Err(StoreError::Config(message)) => {
            return Err(fail(AppError::invalid("hostname", message)))
        }
        Err(e) => return Err(e.into()),
    }
    apply(&user, &site, "site.domain_add", domain.as_str()).await
}

/// Unmaps `hostname` from the site.
#[server(prefix = "/api", endpoint = "remove_domain")]
pub async fn remove_domain(slug: String, hostname: String) -> Result<(), AppError> {
    use super::ssr::*;
    let (user, site) = changeable_site(&slug).await?;
    let hostname = hostname.trim().to_ascii_lowercase();
    if !state()?.store.remove_domain(site.id, &hostname).await? {
        return Err(fail(AppError::invalid(
            "hostname",
            "This site has no such domain.",
        )));
    }
    apply(&user, &site, "site.domain_remove", &hostname).await
}

/// Makes `hostname`, one of the site's domains, its address (what WordPress links to and
/// redirects to); an empty `hostname` makes the platform hostname the address again. Only
/// on a live site: every step done means the domain is served (and, in the AWS shape, its
/// certificate issued and attached).
#[server(prefix = "/api", endpoint = "set_primary_domain")]
pub async fn set_primary_domain(slug: String, hostname: String) -> Result<(), AppError> {
    use mywp_jobs::domain::SiteStatus;

    use super::ssr::*;
    let (user, site) = changeable_site(&slug).await?;
    let hostname = hostname.trim().to_ascii_lowercase();
    if site.status != SiteStatus::Live {
        return Err(fail(AppError::Conflict(
            "Wait until the site is live: its domains are still being set up.".into(),
        )));
    }
    let primary = (!hostname.is_empty()).then_some(hostname.as_str());
    if !state()?.store.set_primary_domain(site.id, primary).await? {
        return Err(fail(AppError::invalid(
            "hostname",
            "This site has no such domain.",
        )));
    }
    let shown = primary.unwrap_or("platform hostname");
    apply(&user, &site, "site.domain_primary", shown).await
}
