//! What every server function may use: the shared state the server provides as context.

use std::sync::Arc;

use leptos::prelude::*;
use mywp_jobs::{
    domain::{SiteAddressing, SiteSpec},
    queue::JobQueue,
    store::Store,
};

use super::throttle::{AddressLimits, PasswordHashing};
use crate::error::AppError;

/// Makes a one-time link that logs the owner into their site's wp-admin.
pub type LoginLinks = Arc<dyn Fn(&SiteSpec) -> Option<String> + Send + Sync>;

/// A read of the web fleet; an error says why it failed.
pub type FleetFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<crate::api::types::FleetNode>, String>> + Send>,
>;

/// Reads the web fleet (the AWS shape's Auto Scaling group).
pub type FleetSource = Arc<dyn Fn() -> FleetFuture + Send + Sync>;

/// How long sessions last idle, and what one customer account may use.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub session_idle_ms: i64,
    pub max_sites_per_account: i64,
    pub snapshot_quota_bytes: i64,
}

/// What every server function may use. Provided as context by the server.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub queue: JobQueue,
    /// How sites are addressed (their platform hostnames, their URLs).
    pub addressing: SiteAddressing,
    /// Whether the panel is reached over https (the session cookie is then `__Host-` and
    /// `Secure`).
    pub secure_cookies: bool,
    /// Per-address limits on logins and signups.
    pub address_limits: AddressLimits,
    /// Password hashing, bounded.
    pub hashing: PasswordHashing,
    /// Sessions and per-account limits.
    pub limits: Limits,
    pub login_links: Option<LoginLinks>,
    /// The web fleet, in the AWS shape.
    pub fleet: Option<FleetSource>,
    /// How sites' snapshots are scheduled and kept, in words; `None`: no snapshots here.
    pub snapshot_policy: Option<String>,
    /// Where the snapshots are, for downloads; `None`: no snapshots here.
    pub snapshot_vault: Option<Arc<dyn mywp_jobs::snapshots::Vault>>,
}

impl AppState {
    /// The site's platform hostname, `<slug>.<platform domain>`.
    pub fn platform_host(&self, slug: &str) -> String {
        self.addressing.platform_host_of(slug)
    }

    /// The site's address: its primary domain, else its platform hostname.
    pub fn home_url(&self, slug: &str, primary: Option<&str>) -> String {
        let host = primary.map_or_else(|| self.platform_host(slug), str::to_string);
        format!("{}/", self.addressing.url_of(&host))
    }
}

/// The state, from the server function's context.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>()
        .ok_or_else(|| AppError::internal("AppState missing from the server function's context"))
}
