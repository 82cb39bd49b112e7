//! A site's snapshots: take one now, restore one. The list comes with the site
//! (`get_site`); the workers do the work.

use leptos::prelude::*;

use crate::error::AppError;

/// The site must be live, and this deployment able to take snapshots.
#[cfg(feature = "ssr")]
fn check_can_snapshot(site: &mywp_jobs::store::SiteRow) -> Result<(), AppError> {
    use mywp_jobs::domain::SiteStatus;

    use super::ssr::state::state;
    if state()?.snapshot_policy.is_none() {
        return Err(AppError::Conflict(
            "Snapshots are not available in this deployment.".into(),
        ));
    }
    if site.status != SiteStatus::Live {
        return Err(AppError::Conflict(
            "The site is not live: snapshots and restores wait until it is.".into(),
        ));
    }
    Ok(())
}

/// Takes a snapshot of the site's database and files now.
#[server(prefix = "/api", endpoint = "take_snapshot")]
pub async fn take_snapshot(slug: String) -> Result<(), AppError> {
    use mywp_jobs::{domain::SnapshotKind, store::StoreError};

    use super::ssr::{access, changes, respond::respond, state::state};
    respond(async move {
        let (user, site) = access::owned_site(&slug).await?;
        check_can_snapshot(&site)?;
        access::may_take_snapshot(&user).await?;
        let requested = state()?
            .store
            .request_snapshot(site.id, SnapshotKind::Manual, Some(user.id))
            .await;
        let snapshot = match requested {
            Err(StoreError::Conflict(_)) => {
                return Err(AppError::Conflict(
                    "A snapshot of this site is already under way.".into(),
                ))
            }
            other => other?,
        };
        let detail = format!("snapshot {}", snapshot.id);
        changes::audit(&user, "site.snapshot", &site, Some(&detail)).await?;
        changes::hand_to_worker(site.id).await
    })
    .await
}

/// Replaces the site's database and files by those of snapshot `snapshot_id`, after taking
/// a snapshot of what it replaces.
#[server(prefix = "/api", endpoint = "restore_snapshot")]
pub async fn restore_snapshot(slug: String, snapshot_id: String) -> Result<(), AppError> {
    use mywp_jobs::{domain::OpState, store::StoreError};

    use super::ssr::{access, changes, respond::respond, state::state};
    respond(async move {
        let (user, site) = access::owned_site(&slug).await?;
        let snapshot = access::snapshot_of(&site, &snapshot_id).await?;
        if snapshot.state != OpState::Done {
            return Err(AppError::invalid(
                "snapshot_id",
                "Only a finished snapshot can be restored.",
            ));
        }
        check_can_snapshot(&site)?;
        match state()?
            .store
            .request_restore(site.id, snapshot.id, Some(user.id))
            .await
        {
            Err(StoreError::Conflict(_)) => {
                return Err(AppError::Conflict(
                    "A restore of this site is already under way.".into(),
                ))
            }
            other => other?,
        };
        let detail = format!("snapshot {}", snapshot.id);
        changes::audit(&user, "site.restore", &site, Some(&detail)).await?;
        changes::hand_to_worker(site.id).await
    })
    .await
}
