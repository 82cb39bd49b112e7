//! A customer's sites: list, create, look at (with its domains and snapshots), delete, retry,
//! and open wp-admin.

use leptos::prelude::*;

use super::types::{SiteDetail, SitePage};
use crate::error::AppError;

pub const PER_PAGE: i64 = 50;

/// How many past restores a site's page shows.
#[cfg(feature = "ssr")]
const RESTORES_SHOWN: i64 = 5;

/// One page (from 1) of the caller's sites, newest first.
#[server(prefix = "/api", endpoint = "list_sites")]
pub async fn list_sites(page: i64) -> Result<SitePage, AppError> {
    use super::ssr::{access, respond::respond, state::state, views};
    respond(async move {
        let user = access::signed_in()?;
        let state = state()?;
        let page = page.max(1);
        let (rows, total) = state
            .store
            .sites_of(user.id, PER_PAGE, (page - 1) * PER_PAGE)
            .await?;
        Ok(SitePage {
            sites: rows
                .iter()
                .map(|site| views::site_summary(&state, site))
                .collect(),
            total,
            page,
            per_page: PER_PAGE,
        })
    })
    .await
}

/// Records a new site and hands it to the workers; the browser goes to its page.
#[server(prefix = "/api", endpoint = "create_site")]
pub async fn create_site(title: String, slug: String) -> Result<(), AppError> {
    use mywp_jobs::{
        domain::{SiteSlug, SiteTitle},
        store::{NewSite, StoreError},
    };

    use super::ssr::{access, changes, respond::respond, state::state};
    respond(async move {
        let user = access::signed_in()?;
        let state = state()?;
        let title = SiteTitle::parse(&title)?;
        let slug = SiteSlug::parse(&slug)?;
        access::may_create_site(&user).await?;
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
                return Err(AppError::invalid(
                    "slug",
                    format!("{slug} is taken: choose another subdomain."),
                ))
            }
            other => other?,
        };
        changes::audit(&user, "site.create", &site, None).await?;
        changes::hand_to_worker(site.id).await?;
        leptos_axum::redirect(&format!("/sites/{}", site.slug));
        Ok(())
    })
    .await
}

/// A site of the caller's, with every provisioning step, its domains and its backups.
#[server(prefix = "/api", endpoint = "get_site")]
pub async fn get_site(slug: String) -> Result<SiteDetail, AppError> {
    use mywp_jobs::store::now_ms;

    use super::ssr::{access, respond::respond, state::state, views};
    respond(async move {
        let (_, site) = access::owned_site(&slug).await?;
        let state = state()?;
        let now = now_ms();
        let steps = state.store.steps(site.id).await?;
        let snapshots = state.store.snapshots_of(site.id).await?;
        let restores = state.store.restores_of(site.id, RESTORES_SHOWN).await?;
        let domains = state.store.domains_of(site.id).await?;
        let backups = views::backups_view(&state, snapshots, restores);
        Ok(views::site_detail(
            &state, &site, steps, domains, backups, now,
        ))
    })
    .await
}

/// Deletes a site and everything it has. `confirm` must repeat the site's subdomain.
#[server(prefix = "/api", endpoint = "delete_site")]
pub async fn delete_site(slug: String, confirm: String) -> Result<(), AppError> {
    use super::ssr::{access, changes, respond::respond, state::state};
    respond(async move {
        let (user, site) = access::owned_site(&slug).await?;
        if confirm.trim() != site.slug {
            return Err(AppError::invalid(
                "confirm",
                format!("Type {} to confirm the deletion.", site.slug),
            ));
        }
        if state()?.store.request_delete(site.id).await? {
            changes::audit(&user, "site.delete", &site, None).await?;
        }
        changes::hand_to_worker(site.id).await?;
        leptos_axum::redirect("/sites");
        Ok(())
    })
    .await
}

/// Tries a failed site's failed steps again.
#[server(prefix = "/api", endpoint = "retry_site")]
pub async fn retry_site(slug: String) -> Result<(), AppError> {
    use super::ssr::{access, changes, respond::respond, state::state};
    respond(async move {
        let (user, site) = access::owned_site(&slug).await?;
        state()?.store.retry_failed_steps(site.id).await?;
        changes::audit(&user, "site.retry", &site, None).await?;
        changes::hand_to_worker(site.id).await
    })
    .await
}

/// Sends the owner into the site's wp-admin through a one-time login link.
#[server(prefix = "/api", endpoint = "open_wp_admin")]
pub async fn open_wp_admin(slug: String) -> Result<(), AppError> {
    use mywp_jobs::domain::SiteStatus;

    use super::ssr::{access, changes, respond::respond, state::state};
    respond(async move {
        let (user, site) = access::owned_site(&slug).await?;
        if site.status != SiteStatus::Live {
            return Err(AppError::Conflict("The site is not live yet.".into()));
        }
        let state = state()?;
        let links = state.login_links.as_ref().ok_or_else(|| {
            AppError::Conflict("Login links are not available in this deployment.".into())
        })?;
        let spec = state.store.site_spec(&site, &state.addressing).await?;
        let link = links(&spec).ok_or_else(|| AppError::internal("no login link could be made"))?;
        changes::audit(&user, "site.wp_admin_login", &site, None).await?;
        leptos_axum::redirect(&link);
        Ok(())
    })
    .await
}
