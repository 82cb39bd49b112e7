//! What follows every change a customer makes to a site: a line in the audit log, and the
//! site handed to a worker.

use mywp_jobs::store::{Account, SiteRow};

use super::{session::client_ip, state::state};
use crate::error::AppError;

/// Writes `action` on `site` by `user` (with a `detail`, such as which snapshot), from the
/// caller's address, to the audit log.
pub async fn audit(
    user: &Account,
    action: &str,
    site: &SiteRow,
    detail: Option<&str>,
) -> Result<(), AppError> {
    let target = format!("site:{}", site.slug);
    state()?
        .store
        .audit(
            Some(user.id),
            action,
            &target,
            detail,
            Some(&client_ip().to_string()),
        )
        .await?;
    Ok(())
}

/// Hands the site to a worker now. Should the queue fail, the site is still recorded as
/// having work left, and the sweep hands it out within seconds.
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
