//! Who may touch what: the one place that checks a caller's account, role and ownership,
//! for the server functions and for the server's snapshot downloads. Another customer's site
//! or snapshot is answered exactly like a missing one, so whether it exists is never
//! disclosed.

use mywp_jobs::{
    domain::Role,
    store::{Account, SiteRow, SnapshotRow},
};

use super::{session::current_user, state::state};
use crate::error::AppError;

/// The signed-in account, or `Unauthorized`.
pub fn signed_in() -> Result<Account, AppError> {
    current_user().ok_or(AppError::Unauthorized)
}

/// The signed-in staff account: `Unauthorized` when signed out, `Forbidden` for customers.
pub fn staff() -> Result<Account, AppError> {
    let user = signed_in()?;
    if user.role == Role::Staff {
        Ok(user)
    } else {
        Err(AppError::Forbidden)
    }
}

/// Whether `user` may see and change `site`: only its owner may.
pub fn owns(user: &Account, site: &SiteRow) -> bool {
    site.owner_id == user.id
}

/// Whether `snapshot` is one of `site`'s (a snapshot is reached through its site only).
pub fn is_snapshot_of(snapshot: &SnapshotRow, site: &SiteRow) -> bool {
    snapshot.site_id == site.id
}

/// The signed-in caller and their site `slug`: `Unauthorized` when signed out, `NotFound`
/// for a site that is not theirs.
pub async fn owned_site(slug: &str) -> Result<(Account, SiteRow), AppError> {
    let user = signed_in()?;
    match state()?.store.site_by_slug(slug).await? {
        Some(site) if owns(&user, &site) => Ok((user, site)),
        _ => Err(AppError::NotFound),
    }
}

/// Snapshot `snapshot_id` (as typed in a form) of `site`; one of another site, like a missing
/// or malformed one, is an error on the field.
pub async fn snapshot_of(site: &SiteRow, snapshot_id: &str) -> Result<SnapshotRow, AppError> {
    let no_such = || AppError::invalid("snapshot_id", "There is no such snapshot of this site.");
    let id: i64 = snapshot_id.trim().parse().map_err(|_| no_such())?;
    match state()?.store.snapshot(id).await? {
        Some(snapshot) if is_snapshot_of(&snapshot, site) => Ok(snapshot),
        _ => Err(no_such()),
    }
}

/// Whether `user` may create one more site: a customer has at most the configured number.
pub async fn may_create_site(user: &Account) -> Result<(), AppError> {
    let state = state()?;
    let max = state.limits.max_sites_per_account;
    if user.role == Role::Customer && state.store.site_count_of(user.id).await? >= max {
        return Err(AppError::Conflict(format!(
            "Your account has reached its limit of {max} sites: delete one to make room."
        )));
    }
    Ok(())
}

/// Whether `user` may take one more snapshot: a customer's snapshots (all their sites
/// together) stay within the configured storage.
pub async fn may_take_snapshot(user: &Account) -> Result<(), AppError> {
    let state = state()?;
    let quota = state.limits.snapshot_quota_bytes;
    if user.role == Role::Customer && state.store.snapshot_bytes_of(user.id).await? >= quota {
        return Err(AppError::Conflict(format!(
            "Your sites' snapshots fill your account's {} MB of snapshot storage: no snapshot \
             can be taken on request until older ones expire or a site is deleted.",
            quota / (1024 * 1024)
        )));
    }
    Ok(())
}
