//! A live site's backup work, run under its lease once its steps are settled: the
//! snapshots and restores asked for, oldest first, then the expired snapshots deleted.
//!
//! A restore first takes a snapshot of what it is about to replace: should the customer
//! pick the wrong one, nothing is lost, and should the restore fail half-way, that snapshot
//! is put back. A worker killed half-way leaves the operation `running`; the next run starts it over (taking a snapshot again overwrites it; a
//! restore reloads the database and swaps wp-content again).

use std::sync::Arc;

use super::{retry, Pipeline};
use crate::{
    domain::{OpState, SiteStatus, SnapshotFacts, SnapshotKind},
    drivers::{SiteSpec, StepError},
    snapshots::Snapshots,
    store::{BackupOp, RestoreRow, SiteRow, SnapshotRow, StoreError},
};

impl Pipeline {
    /// Does the site's pending snapshots and restores. A site that is not live cannot have
    /// them: they fail, saying so.
    pub(super) async fn run_backups(&self, site: &SiteRow) -> Result<(), StoreError> {
        self.run_backup_ops(site).await?;
        // No restore is under way now (this worker holds the site's lease and finished its
        // own): a maintenance page still up is what a killed or abandoned restore left.
        if let Some(snapshots) = &self.snapshots {
            match crate::domain::SiteSlug::from_stored(&site.slug) {
                Ok(slug) => snapshots.end_maintenance(&slug),
                Err(e) => {
                    tracing::warn!(site_id = site.id, error = %e, "a stored slug that is not one")
                }
            }
        }
        Ok(())
    }

    async fn run_backup_ops(&self, site: &SiteRow) -> Result<(), StoreError> {
        let why = if site.status != SiteStatus::Live {
            format!(
                "The site is {}, not live.",
                site.status.as_str().replace('_', " ")
            )
        } else {
            "Snapshots are not available in this deployment.".to_string()
        };
        let snapshots = match &self.snapshots {
            Some(snapshots) if site.status == SiteStatus::Live => Arc::clone(snapshots),
            _ => {
                while let Some(op) = self.store.next_backup_op(site.id).await? {
                    match op {
                        BackupOp::Snapshot(s) => self.store.fail_snapshot(s.id, &why).await?,
                        BackupOp::Restore(r) => self.store.finish_restore(r.id, Some(&why)).await?,
                    }
                }
                return Ok(());
            }
        };
        let spec = self.spec(site).await?;
        while let Some(op) = self.store.next_backup_op(site.id).await? {
            match op {
                BackupOp::Snapshot(row) => {
                    self.take_snapshot(&snapshots, &spec, &row).await?;
                }
                BackupOp::Restore(row) => self.restore(&snapshots, &spec, &row).await?,
            }
            self.expire_snapshots(&snapshots, &spec).await?;
        }
        Ok(())
    }

    /// Takes snapshot `row`, retrying transient failures; true when it is done.
    async fn take_snapshot(
        &self,
        snapshots: &Arc<Snapshots>,
        spec: &SiteSpec,
        row: &SnapshotRow,
    ) -> Result<bool, StoreError> {
        self.store.start_snapshot(row.id).await?;
        let taken = self
            .with_retries(spec.id, "snapshot", || snapshots.take(spec, row.id))
            .await;
        match taken {
            Ok(facts) => {
                self.store.finish_snapshot(row.id, &facts).await?;
                tracing::info!(site_id = spec.id, snapshot = row.id, "snapshot taken");
                Ok(true)
            }
            Err(e) => {
                self.store.fail_snapshot(row.id, &e.to_string()).await?;
                // What a failed attempt stored is incomplete: not worth keeping.
                if let Err(e) = snapshots.forget(&spec.slug, row.id).await {
                    tracing::warn!(site_id = spec.id, error = %e, "could not delete a failed snapshot");
                }
                Ok(false)
            }
        }
    }

    async fn restore(
        &self,
        snapshots: &Arc<Snapshots>,
        spec: &SiteSpec,
        row: &RestoreRow,
    ) -> Result<(), StoreError> {
        self.store.start_restore(row.id).await?;
        let source = self.store.snapshot(row.snapshot_id).await?;
        let facts = match source {
            Some(SnapshotRow {
                site_id,
                facts: Some(facts),
                ..
            }) if site_id == spec.id => facts,
            _ => {
                let why = "That snapshot no longer exists.";
                // A restore killed half-way, whose snapshot went meanwhile (its retention
                // ran out): what it replaced comes back from the safety snapshot.
                if row.state == OpState::Running {
                    self.put_back(snapshots, spec, row).await?;
                }
                return self.store.finish_restore(row.id, Some(why)).await;
            }
        };
        let (safety_id, safety_facts) = match self.safety_snapshot(snapshots, spec, row).await? {
            Ok(safety) => safety,
            Err(why) => return self.store.finish_restore(row.id, Some(&why)).await,
        };
        let restored = self
            .with_retries(spec.id, "restore", || {
                snapshots.restore(spec, row.snapshot_id, &facts)
            })
            .await;
        let Err(e) = restored else {
            tracing::info!(
                site_id = spec.id,
                snapshot = row.snapshot_id,
                "site restored"
            );
            return self.store.finish_restore(row.id, None).await;
        };
        // Half a restore is worse than none: put back what the safety snapshot holds.
        let put_back = self
            .with_retries(spec.id, "putting the site back", || {
                snapshots.restore(spec, safety_id, &safety_facts)
            })
            .await;
        let why = match put_back {
            Ok(()) => format!("{e}. Nothing changed: the site was put back as it was."),
            Err(again) => format!(
                "{e}. Putting the site back failed too ({again}): restore the snapshot taken \
                 just before this restore."
            ),
        };
        self.store.finish_restore(row.id, Some(&why)).await
    }

    /// Restores the safety snapshot of a restore that cannot go on, if it has a whole one.
    async fn put_back(
        &self,
        snapshots: &Arc<Snapshots>,
        spec: &SiteSpec,
        row: &RestoreRow,
    ) -> Result<(), StoreError> {
        let safety = match row.safety_snapshot_id {
            Some(id) => self.store.snapshot(id).await?,
            None => None,
        };
        let Some(SnapshotRow {
            id,
            facts: Some(facts),
            ..
        }) = safety
        else {
            return Ok(());
        };
        let put_back = self
            .with_retries(spec.id, "putting the site back", || {
                snapshots.restore(spec, id, &facts)
            })
            .await;
        if let Err(e) = put_back {
            tracing::error!(site_id = spec.id, snapshot = id, error = %e, "could not put the site back after an abandoned restore");
        }
        Ok(())
    }

    /// The snapshot a restore takes first: made once, and taken again if a killed worker
    /// left it unfinished. `Err` says why the restore must not go on.
    async fn safety_snapshot(
        &self,
        snapshots: &Arc<Snapshots>,
        spec: &SiteSpec,
        row: &RestoreRow,
    ) -> Result<Result<(i64, SnapshotFacts), String>, StoreError> {
        let existing = match row.safety_snapshot_id {
            Some(id) => self.store.snapshot(id).await?,
            None => None,
        };
        let safety = match existing {
            Some(SnapshotRow {
                id,
                facts: Some(facts),
                ..
            }) => return Ok(Ok((id, facts))),
            Some(s) => s,
            None => {
                let s = self
                    .store
                    .request_snapshot(spec.id, SnapshotKind::PreRestore, row.requested_by)
                    .await?;
                self.store.set_restore_safety_snapshot(row.id, s.id).await?;
                s
            }
        };
        let taken = self.take_snapshot(snapshots, spec, &safety).await?;
        let facts = self.store.snapshot(safety.id).await?.and_then(|s| s.facts);
        if let (true, Some(facts)) = (taken, facts) {
            Ok(Ok((safety.id, facts)))
        } else {
            let error = self
                .store
                .snapshot(safety.id)
                .await?
                .and_then(|s| s.error)
                .unwrap_or_default();
            Ok(Err(format!(
                "Nothing was changed: the snapshot of the current content, taken before \
                 restoring, failed ({error})."
            )))
        }
    }

    /// Deletes the site's snapshots beyond what the retention keeps.
    async fn expire_snapshots(
        &self,
        snapshots: &Arc<Snapshots>,
        spec: &SiteSpec,
    ) -> Result<(), StoreError> {
        let expired = self
            .store
            .expired_snapshots(spec.id, self.settings.retention)
            .await?;
        for old in expired {
            match snapshots.forget(&spec.slug, old.id).await {
                Ok(()) => self.store.delete_snapshot_row(old.id).await?,
                Err(e) => {
                    tracing::warn!(site_id = spec.id, snapshot = old.id, error = %e, "could not delete an expired snapshot");
                }
            }
        }
        Ok(())
    }

    /// Calls `op` under the retry policy, logging each failed try.
    async fn with_retries<T, Fut>(
        &self,
        site_id: i64,
        what: &'static str,
        op: impl FnMut() -> Fut,
    ) -> Result<T, StepError>
    where
        Fut: std::future::Future<Output = Result<T, StepError>>,
    {
        let mut log = Logged { site_id, what };
        match retry::with_backoff(&self.settings, &mut log, op).await {
            Ok((_, result)) => result,
            Err(never) => match never {},
        }
    }
}

/// Backup work's failed tries: logged (the snapshot's row records the final error).
struct Logged {
    site_id: i64,
    what: &'static str,
}

impl retry::Tries for Logged {
    type Error = std::convert::Infallible;
    async fn failed(
        &mut self,
        tries: u32,
        error: &StepError,
        again: bool,
    ) -> Result<(), Self::Error> {
        let (site_id, what) = (self.site_id, self.what);
        if again {
            tracing::warn!(site_id, attempt = tries, error = %error, "{what} failed; retrying");
        } else {
            tracing::warn!(site_id, error = %error, "{what} failed");
        }
        Ok(())
    }
}
