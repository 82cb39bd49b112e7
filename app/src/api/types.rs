//! Wire types: what the server functions send to the browser.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    pub staff: bool,
}

/// One web node, as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetNode {
    pub instance_id: String,
    pub availability_zone: String,
    /// The Auto Scaling group's lifecycle state: `InService`, `Pending`…
    pub lifecycle_state: String,
    /// The group's health: `Healthy` or `Unhealthy`.
    pub health_status: String,
    /// EC2's state: `running`, `stopped`…
    pub state: String,
    pub instance_type: String,
    pub private_ip: Option<String>,
    /// EC2's status checks: `ok`, `impaired`, `initializing` or `unknown`.
    pub status_checks: String,
}

impl FleetNode {
    /// In service, healthy and running.
    pub fn healthy(&self) -> bool {
        self.lifecycle_state == "InService"
            && self.health_status == "Healthy"
            && self.state == "running"
    }
}

/// The web fleet: `shape` is `aws` or `single-host` (no fleet: this host serves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fleet {
    pub shape: String,
    pub nodes: Vec<FleetNode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteSummary {
    pub slug: String,
    pub title: String,
    pub status: String,
    pub url: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SitePage {
    pub sites: Vec<SiteSummary>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub name: String,
    pub description: String,
    pub state: String,
    pub attempts: i64,
    pub error: Option<String>,
    /// How long the step took, or has taken so far.
    pub duration_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteDetail {
    pub site: SiteSummary,
    pub error: Option<String>,
    pub steps: Vec<StepView>,
    /// Provisioning or deleting: the page keeps itself fresh.
    pub settled: bool,
}

/// "1.2 s", "3 min 4 s": a duration for people.
pub fn human_duration(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 10_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 120_000 {
        format!("{} s", ms / 1000)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}
