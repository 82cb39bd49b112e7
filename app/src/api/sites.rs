//! A customer's sites: list, create, look at (with its domains and snapshots), delete, retry,
//! and open wp-admin.

use leptos::prelude::*;

use super::types::{SiteDetail, SitePage};
use crate::error::AppError;

pub const PER_PAGE: i64 = 50;

#[cfg(feature = "ssr")]
pub(crate) mod owned {
    use mywp_jobs::store::{Account, SiteRow};

    use super::super::ssr::{fail, state};
    use crate::{api::types::SiteSummary, error::AppError};

    /// The caller's site with `slug`; another customer's site is "not found".
    pub async fn site(user: &Account, slug: &str) -> Result<SiteRow, AppError> {
        match state()?.store.site_by_slug(slug).await? {
            Some(site) if site.owner_id == user.id => Ok(site),
            _ => Err(fail(AppError::NotFound)),
        }
    }

    /// Writes `action` on `site` by `user`, from the caller's address, to the audit log.
    pub async fn audit(user: &Account, action: &str, site: &SiteRow) -> Result<(), AppError> {
        record(user, action, site, None).await
    }

    /// [`audit`] with a detail (which snapshot…).
    pub async fn audit_detail(
        user: &Account,
        action: &str,
        site: &SiteRow,
        detail: &str,
    ) -> Result<(), AppError> {
        record(user, action, site, Some(detail)).await
    }

    async fn record(
        user: &Account,
        action: &str,
        site: &SiteRow,
        detail: Option<&str>,
    ) -> Result<(), AppError> {
        let target = format!("site:{}", site.slug);
        let ip = super::super::ssr::client_ip();
        state()?
            .store
            .audit(Some(user.id), action, &target, detail, Some(&ip))
            .await?;
        Ok(())
    }

    /// Hands the site to a worker now. Should the queue fail, the site is still recorded
    /// as having work left, and the sweep hands it out within seconds.
    pub async fn hand_to_worker(site_id: i64) -> Result<(), AppError> {
        if let Err(e) = state()?
            .queue
            .enqueue(site_id, std::time::Duration::ZERO)
            .await
        {
            tracing::warn!(site_id, error = %e, "enqueue failed; the sweep will pick the site up");
        }
        Ok(())
    }

    pub fn summary(site: &SiteRow) -> Result<SiteSummary, AppError> {
        Ok(SiteSummary {
            slug: site.slug.clone(),
            title: site.title.clone(),
            status: site.status.as_str().into(),
            url: state()?.home_url(&site.slug, site.primary_domain.as_deref()),
            created_at: site.created_at,
        })
    }
}

/// One page (from 1) of the caller's sites, newest first.
#[server(prefix = "/api", endpoint = "list_sites")]
pub async fn list_sites(page: i64) -> Result<SitePage, AppError> {
    use super::ssr::*;
    let user = require_user()?;
    let page = page.max(1);
    let (rows, total) = state()?
        .store
        .sites_of(user.id, PER_PAGE, (page - 1) * PER_PAGE)
        .await?;
    let sites = rows.iter().map(owned::summary).collect::<Result<_, _>>()?;
    Ok(SitePage {
        sites,
        total,
        page,
        per_page: PER_PAGE,
    })
}

/// Records a new site and hands it to the workers; the browser goes to its page.
#[server(prefix = "/api", endpoint = "create_site")]
pub async fn create_site(title: String, slug: String) -> Result<(), AppError> {
    use mywp_jobs::{
        domain::{SiteSlug, SiteTitle},
        store::{NewSite, StoreError},
    };

    use super::ssr::*;
    let user = require_user()?;
    let state = state()?;
    let title = SiteTitle::parse(&title).map_err(|e| fail(e.into()))?;
    let slug = SiteSlug::parse(&slug).map_err(|e| fail(e.into()))?;
    let site = match state
        .store
        .create_site(NewSite {
            slug: &slug,
            title: &title,
            owner_id: user.id,
        })
        .await
    {
        Err(StoreError::Conflict(_)) => {
            return Err(fail(AppError::invalid(
                "slug",
                format!("{slug} is taken: choose another subdomain."),
            )))
        }
        other => other?,
    };
    owned::audit(&user, "site.create", &site).await?;
    owned::hand_to_worker(site.id).await?;
    leptos_axum::redirect(&format!("/sites/{}", site.slug));
    Ok(())
}

/// A site of the caller's, with every provisioning step.
#[server(prefix = "/api", endpoint = "get_site")]
pub async fn get_site(slug: String) -> Result<SiteDetail, AppError> {
    use mywp_jobs::{
        domain::{SiteStatus, StepState},
        store::now_ms,
    };

    use super::{ssr::*, types::StepView};
    let user = require_user()?;
    let site = owned::site(&user, &slug).await?;
    let now = now_ms();
    let steps = state()?
        .store
        .steps(site.id)
        .await?
        .into_iter()
        .map(|s| StepView {
            name: s.step.as_str().into(),
            description: s.step.describe().into(),
            state: s.state.as_str().into(),
            attempts: s.attempts,
            error: s.last_error,
            duration_ms: match (s.started_at, s.finished_at, s.state) {
                (Some(start), Some(end), _) => Some(end - start),
                (Some(start), None, StepState::Running | StepState::Waiting) => Some(now - start),
                _ => None,
            },
        })
        .collect();
    let backups = super::snapshots::ssr::backups_of(&site).await?;
    let domains = super::domains::ssr::domains_of(&site).await?;
    Ok(SiteDetail {
        site: owned::summary(&site)?,
        error: site.last_error.clone(),
        steps,
        domains,
        settled: !matches!(site.status, SiteStatus::Provisioning | SiteStatus::Deleting)
            && !backups.busy(),
        backups,
    })
}

/// Deletes a site and everything it has. `confirm` must repeat the site's subdomain.
#[server(prefix = "/api", endpoint = "delete_site")]
pub async fn delete_site(slug: String, confirm: String) -> Result<(), AppError> {
    use super::ssr::*;
    let user = require_user()?;
    let state = state()?;
    let site = owned::site(&user, &slug).await?;
    if confirm.trim() != site.slug {
        return Err(fail(AppError::invalid(
            "confirm",
            format!("Type {} to confirm the deletion.", site.slug),
        )));
    }
    if state.store.request_delete(site.id).await? {
        owned::audit(&user, "site.delete", &site).await?;
    }
    owned::hand_to_worker(site.id).await?;
    leptos_axum::redirect("/sites");
    Ok(())
}

/// Tries a failed site's failed steps again.
#[server(prefix = "/api", endpoint = "retry_site")]
pub async fn retry_site(slug: String) -> Result<(), AppError> {
    use super::ssr::*;
    let user = require_user()?;
    let state = state()?;
    let site = owned::site(&user, &slug).await?;
    state.store.retry_failed_steps(site.id).await?;
    owned::audit(&user, "site.retry", &site).await?;
    owned::hand_to_worker(site.id).await?;
    Ok(())
}

/// Sends the owner into the site's wp-admin through a one-time login link.
#[server(prefix = "/api", endpoint = "open_wp_admin")]
pub async fn open_wp_admin(slug: String) -> Result<(), AppError> {
    use mywp_jobs::domain::SiteStatus;

    use super::ssr::*;
    let user = require_user()?;
    let state = state()?;
    let site = owned::site(&user, &slug).await?;
    if site.status != SiteStatus::Live {
        return Err(fail(AppError::Conflict("The site is not live yet.".into())));
    }
    let links = state.login_links.as_ref().ok_or_else(|| {
        fail(AppError::Conflict(
            "Login links are not available in this deployment.".into(),
        ))
    })?;
    let spec = state.store.site_spec(&site, &state.addressing).await?;
    let link = links(&spec).ok_or_else(|| internal("no login link could be made"))?;
    owned::audit(&user, "site.wp_admin_login", &site).await?;
    leptos_axum::redirect(&link);
    Ok(())
}
