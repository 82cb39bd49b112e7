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
    pub domains: Domains,
    pub backups: Backups,
    /// Nothing under way (provisioning, deleting, a snapshot, a restore): while something
    /// is, the page keeps itself fresh.
    pub settled: bool,
}

/// A customer's own domain of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainView {
    /// The IDNA ASCII form, as DNS and the server functions know it.
    pub hostname: String,
    /// The form people read (`bücher.example`).
    pub display: String,
    pub created_at: i64,
    /// Whether it is proven the site's: `pending`, `verified` (served), `failed` or `lost`
    /// (was verified; the proof is gone, so it is no longer served).
    pub proof: String,
    /// What the last check found, in words.
    pub proof_detail: Option<String>,
    pub checked_at: Option<i64>,
    /// A check is due or under way.
    pub checking: bool,
    /// The TXT record that proves it (instead of a CNAME to the platform hostname): its
    /// name, `_mywp-challenge.<domain>`, and its value.
    pub txt_name: String,
    pub txt_value: String,
}

impl DomainView {
    pub fn verified(&self) -> bool {
        self.proof == "verified"
    }

    /// Where its proof stands, in words.
    pub fn proof_label(&self) -> &'static str {
        match self.proof.as_str() {
            "verified" => "verified",
            "failed" => "not proven",
            "lost" => "proof lost",
            _ => "waiting for DNS",
        }
    }
}

/// A site's hostnames: the platform's, and the customer's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domains {
    /// `<slug>.<platform domain>`: always served; customers' domains point at it.
    pub platform_host: String,
    /// The domain that is the site's address; `None`: the platform hostname.
    pub primary: Option<String>,
    pub items: Vec<DomainView>,
    /// The sites are served over https (their domains get certificates).
    pub https: bool,
}

/// One logical snapshot of a site: its database and its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotView {
    pub id: i64,
    /// `scheduled`, `manual` or `pre_restore`.
    pub kind: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// Compressed sizes, once done.
    pub database_bytes: Option<i64>,
    pub files_bytes: Option<i64>,
    pub error: Option<String>,
}

impl SnapshotView {
    /// What kind of snapshot, in words.
    pub fn kind_label(&self) -> &'static str {
        match self.kind.as_str() {
            "scheduled" => "Scheduled",
            "manual" => "Taken on request",
            "pre_restore" => "Before a restore",
            _ => "Snapshot",
        }
    }
}

/// A restore of a site from one of its snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreView {
    pub id: i64,
    pub snapshot_id: i64,
    pub state: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// The snapshot of the content this restore replaced.
    pub safety_snapshot_id: Option<i64>,
    pub error: Option<String>,
}

/// A site's snapshots and restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backups {
    /// How snapshots are scheduled and kept; `None` when this deployment has none.
    pub policy: Option<String>,
    /// Newest first.
    pub snapshots: Vec<SnapshotView>,
    /// The latest restores, newest first.
    pub restores: Vec<RestoreView>,
}

impl Backups {
    /// A snapshot or a restore is pending or running.
    pub fn busy(&self) -> bool {
        let active = |s: &str| s == "pending" || s == "running";
        self.snapshots.iter().any(|s| active(&s.state))
            || self.restores.iter().any(|r| active(&r.state))
    }
}

/// "3.4 MB": a size for people (powers of 1000, as disks are sold).
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// "2026-11-27 10:21 UTC": a time (Unix milliseconds) for people, the same on the server
/// and in the browser.
pub fn utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        (rest % 3600) / 60
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes_for_people() {
        assert_eq!(utc_time(0), "1970-01-01 00:00 UTC");
        // 2026-11-27 10:21:11 UTC
        assert_eq!(utc_time(1_795_774_871_000), "2026-11-27 10:21 UTC");
        assert_eq!(utc_time(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(3_400_000), "3.4 MB");
    }
}
