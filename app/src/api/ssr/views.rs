//! Rows to wire types: every conversion of the store's rows into what the browser gets
//! (`api::types`). Nothing here reads the store or decides access; the server functions load
//! the rows the caller may see and hand them over.

use mywp_jobs::{
    domain::{SiteStatus, StepState},
    store::{Account, DomainRow, RestoreRow, SiteRow, SnapshotRow, StepRow},
};

use super::state::AppState;
use crate::api::types::{
    Backups, DomainView, Domains, RestoreView, SiteDetail, SiteSummary, SnapshotView, StepView,
    Viewer,
};

/// The signed-in account, as the header shows it.
pub fn viewer(account: Account) -> Viewer {
    Viewer {
        email: account.email,
        staff: account.role == mywp_jobs::domain::Role::Staff,
    }
}

/// A site as its list shows it: its address is its primary domain, else its platform hostname.
pub fn site_summary(state: &AppState, site: &SiteRow) -> SiteSummary {
    SiteSummary {
        slug: site.slug.clone(),
        title: site.title.clone(),
        status: site.status.as_str().into(),
        url: state.home_url(&site.slug, site.primary_domain.as_deref()),
        created_at: site.created_at,
    }
}

/// Everything a site's page shows, as of `now` (Unix ms: running steps' durations so far).
pub fn site_detail(
    state: &AppState,
    site: &SiteRow,
    steps: Vec<StepRow>,
    domains: Vec<DomainRow>,
    backups: Backups,
    now: i64,
) -> SiteDetail {
    SiteDetail {
        site: site_summary(state, site),
        error: site.last_error.clone(),
        steps: steps.into_iter().map(|s| step_view(s, now)).collect(),
        domains: domains_view(state, site, domains),
        settled: !matches!(site.status, SiteStatus::Provisioning | SiteStatus::Deleting)
            && !backups.busy(),
        backups,
    }
}

/// One provisioning step; a running or waiting step's duration is how long it has taken so far.
pub fn step_view(step: StepRow, now: i64) -> StepView {
    StepView {
        name: step.step.as_str().into(),
        description: step.step.describe().into(),
        state: step.state.as_str().into(),
        attempts: step.attempts,
        error: step.last_error,
        duration_ms: match (step.started_at, step.finished_at, step.state) {
            (Some(start), Some(end), _) => Some(end - start),
            (Some(start), None, StepState::Running | StepState::Waiting) => Some(now - start),
            _ => None,
        },
    }
}

/// The site's hostnames: the platform's, its address, and the customer's own (shown in their
/// Unicode form).
pub fn domains_view(state: &AppState, site: &SiteRow, rows: Vec<DomainRow>) -> Domains {
    Domains {
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
    }
}

/// The site's snapshots and latest restores, with how this deployment takes snapshots.
pub fn backups_view(
    state: &AppState,
    snapshots: Vec<SnapshotRow>,
    restores: Vec<RestoreRow>,
) -> Backups {
    Backups {
        policy: state.snapshot_policy.clone(),
        snapshots: snapshots.into_iter().map(snapshot_view).collect(),
        restores: restores.into_iter().map(restore_view).collect(),
    }
}

pub fn snapshot_view(s: SnapshotRow) -> SnapshotView {
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

pub fn restore_view(r: RestoreRow) -> RestoreView {
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
