//! A site's own domains: add one, check it now, remove one, make one the site's address.
//! A domain is served only once proven the site's (a CNAME to its platform hostname, or its
//! TXT record): the workers check it at once when added or asked, then on a schedule. Each
//! change sends the site through its steps again (server block, distribution,
//! certificate…). The list comes with the site (`get_site`).

use leptos::prelude::*;

use crate::error::AppError;

/// The caller's site `slug`, refused while it is being deleted.
#[cfg(feature = "ssr")]
async fn changeable_site(
    slug: &str,
) -> Result<(mywp_jobs::store::Account, mywp_jobs::store::SiteRow), AppError> {
    let (user, site) = super::ssr::access::owned_site(slug).await?;
    if !site.wanted {
        return Err(AppError::Conflict("The site is being deleted.".into()));
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
    use super::ssr::{changes, state::state};
    state()?.store.reconverge_site(site.id).await?;
    changes::audit(user, action, site, Some(hostname)).await?;
    changes::hand_to_worker(site.id).await
}

/// Claims the customer's domain `hostname` (IDNA allowed) for the site; it is served once
/// its DNS proves it the site's.
#[server(prefix = "/api", endpoint = "add_domain")]
pub async fn add_domain(slug: String, hostname: String) -> Result<(), AppError> {
    use mywp_jobs::{domain::CustomDomain, store::StoreError};

    use super::ssr::{changes, respond::respond, state::state};
    respond(async move {
        let (user, site) = changeable_site(&slug).await?;
        let state = state()?;
        let domain = CustomDomain::parse(&hostname, &state.addressing.platform_domain)?;
        match state.store.add_domain(site.id, &domain).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                let ours = state
                    .store
                    .domains_of(site.id)
                    .await?
                    .iter()
                    .any(|d| d.hostname == domain.as_str());
                let message = if ours {
                    format!("{domain} is already one of this site's domains.")
                } else {
                    format!(
                        "{domain} is already mapped to another site, which has proven it its \
                         own: it must be removed there first."
                    )
                };
                return Err(AppError::invalid("hostname", message));
            }
            Err(StoreError::Config(message)) => return Err(AppError::invalid("hostname", message)),
            Err(e) => return Err(e.into()),
        }
        // Nothing is served on it yet: a worker checks its proof at once.
        changes::audit(&user, "site.domain_add", &site, Some(domain.as_str())).await?;
        changes::hand_to_worker(site.id).await
    })
    .await
}

/// Asks for the site's domain `hostname` to be checked now (a form post works without
/// JavaScript): the site's page shows the outcome once a worker has looked it up.
#[server(prefix = "/api", endpoint = "check_domain")]
pub async fn check_domain(slug: String, hostname: String) -> Result<(), AppError> {
    use super::ssr::{changes, respond::respond, state::state};
    respond(async move {
        let (user, site) = changeable_site(&slug).await?;
        let hostname = hostname.trim().to_ascii_lowercase();
        if !state()?
            .store
            .request_domain_check(site.id, &hostname)
            .await?
        {
            return Err(AppError::invalid(
                "hostname",
                "This site has no such domain.",
            ));
        }
        changes::audit(&user, "site.domain_check", &site, Some(&hostname)).await?;
        changes::hand_to_worker(site.id).await
    })
    .await
}

/// Unmaps `hostname` from the site.
#[server(prefix = "/api", endpoint = "remove_domain")]
pub async fn remove_domain(slug: String, hostname: String) -> Result<(), AppError> {
    use super::ssr::{respond::respond, state::state};
    respond(async move {
        let (user, site) = changeable_site(&slug).await?;
        let hostname = hostname.trim().to_ascii_lowercase();
        if !state()?.store.remove_domain(site.id, &hostname).await? {
            return Err(AppError::invalid(
                "hostname",
                "This site has no such domain.",
            ));
        }
        apply(&user, &site, "site.domain_remove", &hostname).await
    })
    .await
}

/// Makes `hostname`, one of the site's domains, its address (what WordPress links to and
/// redirects to); an empty `hostname` makes the platform hostname the address again. Only
/// on a live site: every step done means the domain is served (and, in the AWS shape, its
/// certificate issued and attached).
#[server(prefix = "/api", endpoint = "set_primary_domain")]
pub async fn set_primary_domain(slug: String, hostname: String) -> Result<(), AppError> {
    use mywp_jobs::domain::SiteStatus;

    use super::ssr::{respond::respond, state::state};
    respond(async move {
        let (user, site) = changeable_site(&slug).await?;
        let hostname = hostname.trim().to_ascii_lowercase();
        if site.status != SiteStatus::Live {
            return Err(AppError::Conflict(
                "Wait until the site is live: its domains are still being set up.".into(),
            ));
        }
        let primary = (!hostname.is_empty()).then_some(hostname.as_str());
        let state = state()?;
        if !state.store.set_primary_domain(site.id, primary).await? {
            let known = state
                .store
                .domains_of(site.id)
                .await?
                .iter()
                .any(|d| d.hostname == hostname);
            return Err(AppError::invalid(
                "hostname",
                if known {
                    "Only a verified domain can be the site's address: create its DNS record, \
                     then check it."
                } else {
                    "This site has no such domain."
                },
            ));
        }
        let shown = primary.unwrap_or("platform hostname");
        apply(&user, &site, "site.domain_primary", shown).await
    })
    .await
}
