//! Each site's logical snapshots and the restores made from them: what was asked for, by
//! whom, where it stands. The snapshots' contents live in the snapshot vault; these rows
//! say which exist, their sizes and checksums, and drive the workers.

use sqlx::{any::AnyRow, Row};

use super::{conflict, now_ms, Store, StoreError};

/// Why a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnapshotKind {
    /// By the schedule (daily by default).
    Scheduled,
    /// Asked for by the site's owner.
    Manual,
    /// Taken just before a restore replaced the site's content, so nothing is lost.
    PreRestore,
}

impl SnapshotKind {
    pub const ALL: [SnapshotKind; 3] = [Self::Scheduled, Self::Manual, Self::PreRestore];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Manual => "manual",
            Self::PreRestore => "pre_restore",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a snapshot or a restore stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    Pending,
    Running,
    Done,
    Failed,
}

impl OpState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Running, Self::Done, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// Pending or running: a worker has it, or will.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

/// What a finished snapshot holds: each part's size and SHA-256, checked on restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFacts {
    pub database_bytes: i64,
    pub database_sha256: String,
    pub files_bytes: i64,
    pub files_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    pub id: i64,
    pub site_id: i64,
    pub kind: SnapshotKind,
    pub state: OpState,
    pub requested_by: Option<i64>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub attempts: i64,
    /// Set once the snapshot is done.
    pub facts: Option<SnapshotFacts>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRow {
    pub id: i64,
    pub site_id: i64,
    pub snapshot_id: i64,
    pub state: OpState,
    pub requested_by: Option<i64>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub attempts: i64,
    /// The snapshot of the site's content taken just before this restore replaced it.
    pub safety_snapshot_id: Option<i64>,
    pub error: Option<String>,
}

/// The next piece of backup work of a site, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupOp {
    Snapshot(SnapshotRow),
    Restore(RestoreRow),
}

/// How many finished snapshots of each kind a site keeps; older ones are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub scheduled: usize,
    pub manual: usize,
    pub pre_restore: usize,
}

impl Default for Retention {
    /// Two weeks of daily snapshots, the five newest manual ones, the three newest taken
    /// before a restore.
    fn default() -> Self {
        Self {
            scheduled: 14,
            manual: 5,
            pre_restore: 3,
        }
    }
}

impl Retention {
    fn keep(&self, kind: SnapshotKind) -> usize {
        match kind {
            SnapshotKind::Scheduled => self.scheduled,
            SnapshotKind::Manual => self.manual,
            SnapshotKind::PreRestore => self.pre_restore,
        }
    }
}

/// The columns of a `SnapshotRow` (a macro, so statements stay static strings).
macro_rules! snapshot_columns {
    () => {
        "id, site_id, kind, state, requested_by, created_at, started_at, finished_at, \
         attempts, database_bytes, files_bytes, database_sha256, files_sha256, error"
    };
}

/// The columns of a `RestoreRow`.
macro_rules! restore_columns {
    () => {
        "id, site_id, snapshot_id, state, requested_by, created_at, started_at, finished_at, \
         attempts, safety_snapshot_id, error"
    };
}

fn decode<T>(what: &str, value: String, parse: impl Fn(&str) -> Option<T>) -> sqlx::Result<T> {
    parse(&value).ok_or_else(|| sqlx::Error::Decode(format!("unknown {what} {value:?}").into()))
}

fn snapshot(row: &AnyRow) -> sqlx::Result<SnapshotRow> {
    let state = decode("snapshot state", row.try_get("state")?, OpState::parse)?;
    let facts = match (
        row.try_get::<Option<i64>, _>("database_bytes")?,
        row.try_get::<Option<String>, _>("database_sha256")?,
        row.try_get::<Option<i64>, _>("files_bytes")?,
        row.try_get::<Option<String>, _>("files_sha256")?,
    ) {
        (Some(database_bytes), Some(database_sha256), Some(files_bytes), Some(files_sha256)) => {
            Some(SnapshotFacts {
                database_bytes,
                database_sha256,
                files_bytes,
                files_sha256,
            })
        }
        _ => None,
    };
    Ok(SnapshotRow {
        id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        kind: decode("snapshot kind", row.try_get("kind")?, SnapshotKind::parse)?,
        state,
        requested_by: row.try_get("requested_by")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        attempts: row.try_get("attempts")?,
        facts,
        error: row.try_get("error")?,
    })
}

fn restore(row: &AnyRow) -> sqlx::Result<RestoreRow> {
    Ok(RestoreRow {
        id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        snapshot_id: row.try_get("snapshot_id")?,
        state: decode("restore state", row.try_get("state")?, OpState::parse)?,
        requested_by: row.try_get("requested_by")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        attempts: row.try_get("attempts")?,
        safety_snapshot_id: row.try_get("safety_snapshot_id")?,
        error: row.try_get("error")?,
    })
}

impl Store {
    /// Asks for a snapshot of the site. A site has one scheduled or manual snapshot under
    /// way at a time: a second is `Conflict("snapshot")`.
    pub async fn request_snapshot(
        &self,
        site_id: i64,
        kind: SnapshotKind,
        requested_by: Option<i64>,
    ) -> Result<SnapshotRow, StoreError> {
        let state = match kind {
            // Taken by its restore, right away.
            SnapshotKind::PreRestore => OpState::Running,
            _ => OpState::Pending,
        };
        let row = sqlx::query(concat!(
            "INSERT INTO site_snapshots (site_id, kind, state, requested_by, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING ",
            snapshot_columns!()
        ))
        .bind(site_id)
        .bind(kind.as_str())
        .bind(state.as_str())
        .bind(requested_by)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(conflict("snapshot"))?;
        Ok(snapshot(&row)?)
    }

    pub async fn snapshot(&self, id: i64) -> Result<Option<SnapshotRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            snapshot_columns!(),
            " FROM site_snapshots WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(snapshot).transpose()?)
    }

    /// The site's snapshots, newest first.
    pub async fn snapshots_of(&self, site_id: i64) -> Result<Vec<SnapshotRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            snapshot_columns!(),
            " FROM site_snapshots WHERE site_id = $1
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(site_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(snapshot).collect::<Result<_, _>>()?)
    }

    /// A worker starts (or, after a crash, starts again) taking the snapshot.
    pub async fn start_snapshot(&self, id: i64) -> Result<(), StoreError> {
        self.mark_running("site_snapshots", id).await
    }

    /// Marks row `id` of `table` (one of the two operation tables) running, once more.
    async fn mark_running(&self, table: &'static str, id: i64) -> Result<(), StoreError> {
        debug_assert!(["site_snapshots", "site_restores"].contains(&table));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {table} SET state = 'running', started_at = $1, attempts = attempts + 1,
             error = NULL WHERE id = $2"
        )))
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn finish_snapshot(&self, id: i64, facts: &SnapshotFacts) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE site_snapshots SET state = 'done', finished_at = $1, error = NULL,
             database_bytes = $2, database_sha256 = $3, files_bytes = $4, files_sha256 = $5
             WHERE id = $6",
        )
        .bind(now_ms())
        .bind(facts.database_bytes)
        .bind(&facts.database_sha256)
        .bind(facts.files_bytes)
        .bind(&facts.files_sha256)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn fail_snapshot(&self, id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE site_snapshots SET state = 'failed', finished_at = $1, error = $2 WHERE id = $3",
        )
        .bind(now_ms())
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_snapshot_row(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM site_snapshots WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The site's finished snapshots beyond what `retention` keeps of their kind, never one
    /// a restore still needs. The caller deletes their contents, then their rows.
    pub async fn expired_snapshots(
        &self,
        site_id: i64,
        retention: Retention,
    ) -> Result<Vec<SnapshotRow>, StoreError> {
        let needed: Vec<i64> = sqlx::query(
            "SELECT snapshot_id FROM site_restores
             WHERE site_id = $1 AND state IN ('pending', 'running')",
        )
        .bind(site_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("snapshot_id"))
        .collect::<Result<_, _>>()?;
        let mut kept = std::collections::HashMap::<SnapshotKind, usize>::new();
        let mut expired = Vec::new();
        for row in self.snapshots_of(site_id).await? {
            if row.state.is_active() || needed.contains(&row.id) {
                continue;
            }
            let count = kept.entry(row.kind).or_default();
            if *count < retention.keep(row.kind) {
                *count += 1;
            } else {
                expired.push(row);
            }
        }
        Ok(expired)
    }

    /// Asks for the site's content to be replaced by snapshot `snapshot_id`'s. A site has
    /// one restore under way at a time: a second is `Conflict("restore")`.
    pub async fn request_restore(
        &self,
        site_id: i64,
        snapshot_id: i64,
        requested_by: Option<i64>,
    ) -> Result<RestoreRow, StoreError> {
        let row = sqlx::query(concat!(
            "INSERT INTO site_restores (site_id, snapshot_id, state, requested_by, created_at)
             VALUES ($1, $2, 'pending', $3, $4) RETURNING ",
            restore_columns!()
        ))
        .bind(site_id)
        .bind(snapshot_id)
        .bind(requested_by)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(conflict("restore"))?;
        Ok(restore(&row)?)
    }

    /// The site's restores, newest first (the last `limit`).
    pub async fn restores_of(
        &self,
        site_id: i64,
        limit: i64,
    ) -> Result<Vec<RestoreRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            restore_columns!(),
            " FROM site_restores WHERE site_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(site_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(restore).collect::<Result<_, _>>()?)
    }

    pub async fn start_restore(&self, id: i64) -> Result<(), StoreError> {
        self.mark_running("site_restores", id).await
    }

    pub async fn set_restore_safety_snapshot(
        &self,
        id: i64,
        snapshot_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE site_restores SET safety_snapshot_id = $1 WHERE id = $2")
            .bind(snapshot_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a restore: done, or failed with `error`.
    pub async fn finish_restore(&self, id: i64, error: Option<&str>) -> Result<(), StoreError> {
        let state = if error.is_some() { "failed" } else { "done" };
        sqlx::query(
            "UPDATE site_restores SET state = $1, finished_at = $2, error = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(now_ms())
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The site's oldest snapshot or restore still to do (one a killed worker left running
    /// included). Pre-restore snapshots are their restore's business.
    pub async fn next_backup_op(&self, site_id: i64) -> Result<Option<BackupOp>, StoreError> {
        let snapshot = sqlx::query(concat!(
            "SELECT ",
            snapshot_columns!(),
            " FROM site_snapshots
             WHERE site_id = $1 AND state IN ('pending', 'running') AND kind <> 'pre_restore'
             ORDER BY created_at, id LIMIT 1"
        ))
        .bind(site_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(snapshot)
        .transpose()?;
        let restore = sqlx::query(concat!(
            "SELECT ",
            restore_columns!(),
            " FROM site_restores
             WHERE site_id = $1 AND state IN ('pending', 'running')
             ORDER BY created_at, id LIMIT 1"
        ))
        .bind(site_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(restore)
        .transpose()?;
        Ok(match (snapshot, restore) {
            // Within the same millisecond, the restore: it takes a snapshot first anyway.
            (Some(s), Some(r)) if r.created_at <= s.created_at => Some(BackupOp::Restore(r)),
            (Some(s), _) => Some(BackupOp::Snapshot(s)),
            (None, Some(r)) => Some(BackupOp::Restore(r)),
            (None, None) => None,
        })
    }

    /// Asks for a scheduled snapshot of every live site whose newest snapshot (or, without
    /// one, its going live) is older than `every`, unless a snapshot of it failed within
    /// `retry_after`. Safe from several workers at once: a site has one snapshot under way.
    /// Returns how many were asked for.
    pub async fn schedule_due_snapshots(
        &self,
        every: std::time::Duration,
        retry_after: std::time::Duration,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let due_before = now - every.as_millis() as i64;
        let quiet_since = now - retry_after.as_millis() as i64;
        let done = sqlx::query(
            "INSERT INTO site_snapshots (site_id, kind, state, created_at)
             SELECT s.id, 'scheduled', 'pending', $1 FROM sites s
             WHERE s.status = 'live' AND s.desired = 'present' AND s.live_at <= $2
             AND NOT EXISTS (SELECT 1 FROM site_snapshots p WHERE p.site_id = s.id
                             AND p.state <> 'failed' AND p.created_at > $2)
             AND NOT EXISTS (SELECT 1 FROM site_snapshots p WHERE p.site_id = s.id
                             AND p.created_at > $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(now)
        .bind(due_before)
        .bind(quiet_since)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
