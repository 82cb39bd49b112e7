//! Rows to wire types: every conversion of the store's rows into what the browser gets
//! (`api::types`). Nothing here reads the store or decides access; the server functions load
//! the rows the caller may see and hand them over.

use mywp_jobs::{
    domain::{Challenge, Hostname, ProofState, SiteSlug, SiteStatus, StepState},
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
    let checking = domains.iter().any(|d| d.check_due_at <= now);
    let domains = domains_view(state, site, domains, now);
    // Its address as served: a primary domain counts while it is verified.
    let mut summary = site_summary(state, site);
    summary.url = state.home_url(&site.slug, domains.primary.as_deref());
    SiteDetail {
        site: summary,
        error: site.last_error.clone(),
        steps: steps.into_iter().map(|s| step_view(s, now)).collect(),
        settled: !matches!(site.status, SiteStatus::Provisioning | SiteStatus::Deleting)
            && !backups.busy()
            && !checking,
        domains,
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
/// Unicode form), each with the records that prove it the site's and where its proof stands.
pub fn domains_view(state: &AppState, site: &SiteRow, rows: Vec<DomainRow>, now: i64) -> Domains {
    let platform_host = state.platform_host(&site.slug);
    let platform = SiteSlug::from_stored(&site.slug)
        .ok()
        .map(|slug| state.addressing.platform_host(&slug));
    // The address is the primary domain only while it is verified (as the steps see it).
    let primary = site.primary_domain.clone().filter(|p| {
        rows.iter()
            .any(|d| &d.hostname == p && d.proof == ProofState::Verified)
    });
    Domains {
        platform_host,
        primary,
        items: rows
            .into_iter()
            .map(|d| {
                let challenge = match (Hostname::parse(&d.hostname), platform.clone()) {
                    (Ok(host), Some(platform)) => Some(Challenge::new(host, platform, &d.token())),
                    _ => None,
                };
                DomainView {
                    display: idna::domain_to_unicode(&d.hostname).0,
                    proof: d.proof.as_str().into(),
                    proof_detail: d.proof_detail.clone(),
                    checked_at: d.checked_at,
                    checking: d.check_due_at <= now,
                    txt_name: challenge
                        .as_ref()
                        .map(|c| c.txt_name.clone())
                        .unwrap_or_default(),
                    txt_value: challenge.map(|c| c.txt_value).unwrap_or_default(),
                    hostname: d.hostname,
                    created_at: d.created_at,
                }
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
