//! Carries a site toward what its owner wants: every step ensured (the site is live), or
//! every step removed (the site is gone). One worker at a time per site, by lease.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use futures::{stream::FuturesUnordered, StreamExt};

use super::{
    plan::{self, Direction},
    retry,
};
use crate::{
    dns_lookup::DnsLookup,
    domain::{Hostname, Retention, SiteAddressing, SiteStatus, StepKind, StepState},
    drivers::{Drivers, Ensured, Removed, SiteSpec, StepDriver, StepError},
    snapshots::Snapshots,
    store::{now_ms, Lease, SiteRow, StepRow, Store, StoreError},
};

/// How the pipeline retries and leases.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How sites are addressed: a site answers to its platform hostname first.
    pub addressing: SiteAddressing,
    /// Tries of one step before a transient error counts as a failure.
    pub max_attempts: u32,
    /// The first retry's delay; each retry doubles it.
    pub backoff: Duration,
    /// How long a worker's hold on a site lasts unless renewed.
    pub lease_ttl: Duration,
    /// How often each live site gets a scheduled snapshot; `None`: never.
    pub snapshot_every: Option<Duration>,
    /// How many snapshots of each kind a site keeps.
    pub retention: Retention,
    /// The DNS server asked for domains' ownership proofs; `None`: the system's.
    pub dns_resolver: Option<std::net::SocketAddr>,
    /// How often each domain's ownership is checked again.
    pub domain_check_every: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            addressing: SiteAddressing {
                platform_domain: Hostname::parse("localhost").expect("a DNS name"),
                port: 8080,
                https: false,
            },
            max_attempts: 5,
            backoff: Duration::from_millis(250),
            lease_ttl: Duration::from_secs(15),
            snapshot_every: Some(Duration::from_secs(24 * 3600)),
            retention: Retention::default(),
            dns_resolver: None,
            domain_check_every: Duration::from_secs(3600),
        }
    }
}

/// What a run of the pipeline left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing more to do until someone asks for something.
    Settled,
    /// Another worker holds the site; look again after this long.
    Busy(Duration),
    /// A step is waiting on something slow; run again after this long.
    Again(Duration),
    /// The site no longer exists: nothing will ever be left to do.
    Gone,
}

pub struct Pipeline {
    pub(super) store: Store,
    pub(super) drivers: Drivers,
    /// The sites' snapshots, taken and restored after the steps; `None`: not available here.
    pub(super) snapshots: Option<Arc<Snapshots>>,
    pub(super) settings: Settings,
    /// Asks DNS for domains' ownership proofs.
    pub(super) dns: DnsLookup,
    worker_id: String,
    /// Numbers each run: a lease belongs to one run, not to the whole process.
    runs: std::sync::atomic::AtomicU64,
}

impl Pipeline {
    pub fn new(
        store: Store,
        drivers: Drivers,
        snapshots: Option<Arc<Snapshots>>,
        settings: Settings,
        worker_id: String,
    ) -> Self {
        Self {
            store,
            drivers,
            snapshots,
            dns: DnsLookup::new(settings.dns_resolver),
            settings,
            worker_id,
            runs: Default::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn drivers(&self) -> &Drivers {
        &self.drivers
    }

    /// The spec drivers work from (see [`Store::site_spec`]).
    pub async fn spec(&self, site: &SiteRow) -> Result<SiteSpec, StoreError> {
        self.store.site_spec(site, &self.settings.addressing).await
    }

    /// Runs the site's pipeline as far as it can go now.
    pub async fn run(self: &Arc<Self>, site_id: i64) -> Result<Outcome, StoreError> {
        let ttl_ms = self.settings.lease_ttl.as_millis() as i64;
        let run = self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let owner = format!("{}#{run}", self.worker_id);
        match self.store.try_lease(site_id, &owner, ttl_ms).await? {
            Lease::Taken => {}
            Lease::NoSite => return Ok(Outcome::Gone),
            Lease::Held { until } => {
                let wait = (until - now_ms()).clamp(100, ttl_ms) as u64;
                return Ok(Outcome::Busy(Duration::from_millis(wait)));
            }
        }
        let renew = {
            let this = Arc::clone(self);
            let owner = owner.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(this.settings.lease_ttl / 3).await;
                    if let Err(e) = this.store.try_lease(site_id, &owner, ttl_ms).await {
                        tracing::warn!(site_id, error = %e, "could not renew the lease");
                    }
                }
            })
        };
        let outcome = self.run_leased(site_id).await;
        renew.abort();
        self.store.release_lease(site_id, &owner).await?;
        outcome
    }

    async fn run_leased(&self, site_id: i64) -> Result<Outcome, StoreError> {
        loop {
            let Some(mut site) = self.store.site(site_id).await? else {
                return Ok(Outcome::Gone);
            };
            // First the domains' ownership checks that are due: a domain proven or lost
            // changes what the steps below serve.
            if site.wanted && self.check_due_domains(&site).await? {
                let Some(now) = self.store.site(site_id).await? else {
                    return Ok(Outcome::Gone);
                };
                site = now;
            }
            let steps: BTreeMap<StepKind, StepRow> = self
                .store
                .steps(site_id)
                .await?
                .into_iter()
                .map(|s| (s.step, s))
                .collect();
            let outcome = if site.wanted {
                self.build(&site, steps).await?
            } else {
                return self.tear_down(&site, steps).await;
            };
            // Once the steps are settled: the snapshots and restores asked for.
            if outcome == Outcome::Settled {
                if let Some(now) = self.store.site(site_id).await?.filter(|s| s.wanted) {
                    self.run_backups(&now).await?;
                }
            }
            // Deletion may have been asked for meanwhile: then tear down now.
            match self.store.site(site_id).await? {
                Some(now) if !now.wanted => continue,
                _ => return Ok(outcome),
            }
        }
    }

    /// Ensures every step whose needs are met, concurrently, until none is left to start.
    async fn build(
        &self,
        site: &SiteRow,
        steps: BTreeMap<StepKind, StepRow>,
    ) -> Result<Outcome, StoreError> {
        let (steps, _) = self.drive(site, steps, Direction::Build).await?;
        self.summarize_build(site.id, &steps).await
    }

    /// Removes every step's resource, dependents before what they need, then forgets the site.
    async fn tear_down(
        &self,
        site: &SiteRow,
        steps: BTreeMap<StepKind, StepRow>,
    ) -> Result<Outcome, StoreError> {
        let (steps, failed_now) = self.drive(site, steps, Direction::TearDown).await?;
        if steps.values().all(|r| r.state == StepState::Removed) {
            self.store.delete_site_row(site.id).await?;
            return Ok(Outcome::Settled);
        }
        let now = now_ms();
        let next_removal = steps
            .values()
            .filter(|r| r.state == StepState::Removing && !failed_now.contains(&r.step))
            .filter_map(|r| r.next_attempt_at)
            .min();
        if let Some(next) = next_removal.filter(|_| failed_now.is_empty()) {
            self.store
                .set_site_status(site.id, SiteStatus::Deleting, None)
                .await?;
            return Ok(Outcome::Again(Duration::from_millis(
                (next - now).max(50) as u64
            )));
        }
        let failed = steps.values().find(|r| r.state == StepState::Failed);
        let message = failed.map(|r| {
            format!(
                "Removing the {} failed: {}",
                r.step.describe(),
                r.last_error.as_deref().unwrap_or("no detail")
            )
        });
        self.store
            .set_site_status(site.id, SiteStatus::DeleteFailed, message.as_deref())
            .await?;
        Ok(Outcome::Settled)
    }

    /// Starts the steps the planner names, concurrently, saving each transition, until none
    /// is left to start and none runs. Returns the steps and the removals that failed.
    async fn drive(
        &self,
        site: &SiteRow,
        mut steps: BTreeMap<StepKind, StepRow>,
        direction: Direction,
    ) -> Result<(BTreeMap<StepKind, StepRow>, BTreeSet<StepKind>), StoreError> {
        let spec = self.spec(site).await?;
        let mut running = FuturesUnordered::new();
        let mut in_flight = BTreeSet::new();
        let mut failed_now = BTreeSet::new();
        loop {
            let now = now_ms();
            let next = plan::next_steps(&steps, direction, now, &in_flight, &failed_now);
            if next.is_empty() {
                let Some(done) = running.next().await else {
                    break;
                };
                let row: StepRow = done?;
                in_flight.remove(&row.step);
                if direction == Direction::TearDown && row.state == StepState::Failed {
                    failed_now.insert(row.step);
                }
                self.store.save_step(site.id, &row).await?;
                steps.insert(row.step, row);
                continue;
            }
            for kind in next {
                let mut row = steps[&kind].clone();
                match (self.drivers.get(kind), direction) {
                    // Not available here: nothing to build, nothing to remove.
                    (None, Direction::Build) => {
                        row.state = StepState::Unavailable;
                        row.last_error = None;
                    }
                    (None, Direction::TearDown) => row.state = StepState::Removed,
                    (Some(driver), _) => {
                        if direction == Direction::Build {
                            row.state = StepState::Running;
                            row.started_at.get_or_insert(now);
                        } else {
                            row.state = StepState::Removing;
                            row.next_attempt_at = None;
                        }
                        in_flight.insert(kind);
                        let driver = Arc::clone(driver);
                        running.push(self.run_step(site.id, row.clone(), driver, &spec, direction));
                    }
                }
                self.store.save_step(site.id, &row).await?;
                steps.insert(kind, row);
            }
        }
        Ok((steps, failed_now))
    }

    /// Runs one step's `ensure` or `remove` under the retry policy, and says where it stands.
    async fn run_step(
        &self,
        site_id: i64,
        mut row: StepRow,
        driver: Arc<dyn StepDriver>,
        spec: &SiteSpec,
        direction: Direction,
    ) -> Result<StepRow, StoreError> {
        let first_try = row.attempts;
        let mut log = StepTries {
            store: &self.store,
            site_id,
            row: &mut row,
            what: match direction {
                Direction::Build => "step",
                Direction::TearDown => "removal",
            },
        };
        match direction {
            Direction::Build => {
                let (tries, result) =
                    retry::with_backoff(&self.settings, &mut log, || driver.ensure(spec)).await?;
                row.attempts = first_try + i64::from(tries);
                match result {
                    Ok(Ensured::Done { resource }) => {
                        row.state = StepState::Done;
                        row.resource = Some(resource);
                        row.last_error = None;
                        row.finished_at = Some(now_ms());
                        row.next_attempt_at = None;
                    }
                    Ok(Ensured::Waiting {
                        resource,
                        retry_after,
                        reason,
                    }) => {
                        row.state = StepState::Waiting;
                        row.resource = Some(resource);
                        row.last_error = Some(reason);
                        row.next_attempt_at = Some(now_ms() + retry_after.as_millis() as i64);
                    }
                    Err(_) => {
                        row.state = StepState::Failed;
                        row.finished_at = Some(now_ms());
                    }
                }
            }
            Direction::TearDown => {
                let (tries, result) =
                    retry::with_backoff(&self.settings, &mut log, || driver.remove(spec)).await?;
                row.attempts = first_try + i64::from(tries);
                match result {
                    Ok(Removed::Gone) => {
                        row.state = StepState::Removed;
                        row.last_error = None;
                        row.next_attempt_at = None;
                        row.finished_at = Some(now_ms());
                    }
                    Ok(Removed::Waiting {
                        retry_after,
                        reason,
                    }) => {
                        row.state = StepState::Removing;
                        row.last_error = Some(reason);
                        row.next_attempt_at = Some(now_ms() + retry_after.as_millis() as i64);
                    }
                    Err(_) => row.state = StepState::Failed,
                }
            }
        }
        Ok(row)
    }

    async fn summarize_build(
        &self,
        site_id: i64,
        steps: &BTreeMap<StepKind, StepRow>,
    ) -> Result<Outcome, StoreError> {
        if steps.values().all(|r| r.state.satisfies_dependents()) {
            self.store
                .set_site_status(site_id, SiteStatus::Live, None)
                .await?;
            return Ok(Outcome::Settled);
        }
        if let Some(failed) = steps.values().find(|r| r.state == StepState::Failed) {
            let message = format!(
                "{} failed: {}",
                failed.step.describe(),
                failed.last_error.as_deref().unwrap_or("no detail")
            );
            self.store
                .set_site_status(site_id, SiteStatus::Failed, Some(&message))
                .await?;
            return Ok(Outcome::Settled);
        }
        let now = now_ms();
        let next = steps
            .values()
            .filter(|r| r.state == StepState::Waiting)
            .filter_map(|r| r.next_attempt_at)
            .min()
            .unwrap_or(now + 1000);
        self.store
            .set_site_status(site_id, SiteStatus::Provisioning, None)
            .await?;
        Ok(Outcome::Again(Duration::from_millis(
            (next - now).max(50) as u64
        )))
    }
}

/// A step's failed tries, saved on its row as they happen (attempts, last error), so the UI
/// shows retries while they go on.
struct StepTries<'a> {
    store: &'a Store,
    site_id: i64,
    row: &'a mut StepRow,
    what: &'static str,
}

impl retry::Tries for StepTries<'_> {
    type Error = StoreError;
    async fn failed(
        &mut self,
        tries: u32,
        error: &StepError,
        again: bool,
    ) -> Result<(), Self::Error> {
        let attempt = self.row.attempts + i64::from(tries);
        tracing::warn!(site_id = self.site_id, step = self.row.step.as_str(), attempt, error = %error, "{} failed", self.what);
        if again {
            let mut row = self.row.clone();
            row.attempts = attempt;
            row.last_error = Some(error.to_string());
            self.store.save_step(self.site_id, &row).await?;
        }
        self.row.last_error = Some(error.to_string());
        Ok(())
    }
}
