//! A site's snapshots: take one now, restore one. The list comes with the site
//! (`get_site`); the workers do the work.

use leptos::prelude::*;

use crate::error::AppError;

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use mywp_jobs::store::{RestoreRow, SiteRow, SnapshotRow};

    use super::super::ssr::state;
    use crate::{
        api::types::{Backups, RestoreView, SnapshotView},
        error::AppError,
    };

    /// How many past restores the site page shows.
    const RESTORES_SHOWN: i64 = 5;

    fn snapshot_view(s: SnapshotRow) -> SnapshotView {
        SnapshotView {
            id: s.id,
            kind: s.kind.as_str().into(),
            state: s.state.as_str().into(),
            created_at: s.created_at,
            finished_at: s.finished_at,
            database_bytes: s.facts.as_ref().map(|f| f.database_bytes),
            files_bytes: s.facts.as_ref().map(|f| f.files_bytes),
            error: s.error,
        }
    }

    fn restore_view(r: RestoreRow) -> RestoreView {
        RestoreView {
            id: r.id,
            snapshot_id: r.snapshot_id,
            state: r.state.as_str().into(),
            created_at: r.created_at,
            finished_at: r.finished_at,
            safety_snapshot_id: r.safety_snapshot_id,
            error: r.error,
        }
    }

    /// The site's snapshots and latest restores, as its page shows them.
    pub async fn backups_of(site: &SiteRow) -> Result<Backups, AppError> {
        let state = state()?;
        let snapshots = state.store.snapshots_of(site.id).await?;
        let restores = state.store.restores_of(site.id, RESTORES_SHOWN).await?;
        Ok(Backups {
            policy: state.snapshot_policy.clone(),
            snapshots: snapshots.into_iter().map(snapshot_view).collect(),
            restores: restores.into_iter().map(restore_view).collect(),
        })
    }
}

/// The site must be live, and this deployment able to take snapshots.
#[cfg(feature = "ssr")]
fn check_can_snapshot(site: &mywp_jobs::store::SiteRow) -> Result<(), AppError> {
    use mywp_jobs::domain::SiteStatus;

    use super::ssr::{fail, state};
    if state()?.snapshot_policy.is_none() {
        return Err(fail(AppError::Conflict(
            "Snapshots are not available in this deployment.".into(),
        )));
    }
    if site.status != SiteStatus::Live {
        return Err(fail(AppError::Conflict(
            "The site is not live: snapshots and restores wait until it is.".into(),
        )));
    }
    Ok(())
}

/// Takes a snapshot of the site's database and files now.
#[server(prefix = "/api", endpoint = "take_snapshot")]
pub async fn take_snapshot(slug: String) -> Result<(), AppError> {
    use mywp_jobs::{domain::SnapshotKind, store::StoreError};

    use super::{sites::owned, ssr::*};
    let user = require_user()?;
    let site = owned::site(&user, &slug).await?;
    check_can_snapshot(&site)?;
    let requested = state()?
        .store
        .request_snapshot(site.id, SnapshotKind::Manual, Some(user.id))
        .await;
    let snapshot = match requested {
        Err(StoreError::Conflict(_)) => {
            return Err(fail(AppError::Conflict(
                "A snapshot of this site is already under way.".into(),
            )))
        }
        other => other?,
    };
    owned::audit_detail(
        &user,
        "site.snapshot",
        &site,
        &format!("snapshot {}", snapshot.id),
    )
    .await?;
    owned::hand_to_worker(site.id).await
}

/// Replaces the site's database and files by those of snapshot `snapshot_id`, after taking
/// a snapshot of what it replaces.
#[server(prefix = "/api", endpoint = "restore_snapshot")]
pub async fn restore_snapshot(slug: String, snapshot_id: String) -> Result<(), AppError> {
    use mywp_jobs::{domain::OpState, store::StoreError};

    use super::{sites::owned, ssr::*};
    let user = require_user()?;
    let site = owned::site(&user, &slug).await?;
    let no_such = || {
        fail(AppError::invalid(
            "snapshot_id",
            "There is no such snapshot of this site.",
        ))
    };
    let id: i64 = snapshot_id.trim().parse().map_err(|_| no_such())?;
    let state = state()?;
    let snapshot = match state.store.snapshot(id).await? {
        Some(s) if s.site_id == site.id => s,
        _ => return Err(no_such()),
    };
    if snapshot.state != OpState::Done {
        return Err(fail(AppError::invalid(
            "snapshot_id",
            "Only a finished snapshot can be restored.",
        )));
    }
    check_can_snapshot(&site)?;
    match state
        .store
        .request_restore(site.id, snapshot.id, Some(user.id))
        .await
    {
        Err(StoreError::Conflict(_)) => {
            return Err(fail(AppError::Conflict(
                "A restore of this site is already under way.".into(),
            )))
        }
        other => other?,
    };
    owned::audit_detail(&user, "site.restore", &site, &format!("snapshot {id}")).await?;
    owned::hand_to_worker(site.id).await
}
