//! Each site's logical snapshots and the restores made from them: what was asked for, by
//! whom, where it stands. The snapshots' contents live in the snapshot vault; these rows
//! say which exist, their sizes and checksums, and drive the workers.

use super::{conflict, now_ms, Store, StoreError};
use crate::domain::{OpState, Retention, SnapshotFacts, SnapshotKind};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SnapshotRow {
    pub id: i64,
    pub site_id: i64,
    #[sqlx(try_from = "String")]
    pub kind: SnapshotKind,
    #[sqlx(try_from = "String")]
    pub state: OpState,
    pub requested_by: Option<i64>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub attempts: i64,
    /// Set once the snapshot is done.
    #[sqlx(flatten, try_from = "FactColumns")]
    pub facts: Option<SnapshotFacts>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RestoreRow {
    pub id: i64,
    pub site_id: i64,
    pub snapshot_id: i64,
    #[sqlx(try_from = "String")]
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

/// The four columns a finished snapshot fills in (`NULL` until then), read into
/// `SnapshotRow::facts`.
#[derive(sqlx::FromRow)]
struct FactColumns {
    database_bytes: Option<i64>,
    database_sha256: Option<String>,
    files_bytes: Option<i64>,
    files_sha256: Option<String>,
}

impl From<FactColumns> for Option<SnapshotFacts> {
    fn from(c: FactColumns) -> Self {
        Some(SnapshotFacts {
            database_bytes: c.database_bytes?,
            database_sha256: c.database_sha256?,
            files_bytes: c.files_bytes?,
            files_sha256: c.files_sha256?,
        })
    }
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
        sqlx::query_as(concat!(
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
        .map_err(conflict("snapshot"))
    }

    pub async fn snapshot(&self, id: i64) -> Result<Option<SnapshotRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            snapshot_columns!(),
            " FROM site_snapshots WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The site's snapshots, newest first.
    pub async fn snapshots_of(&self, site_id: i64) -> Result<Vec<SnapshotRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            snapshot_columns!(),
            " FROM site_snapshots WHERE site_id = $1
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(site_id)
        .fetch_all(&self.pool)
        .await?)
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
        let needed: Vec<i64> = sqlx::query_scalar(
            "SELECT snapshot_id FROM site_restores
             WHERE site_id = $1 AND state IN ('pending', 'running')",
        )
        .bind(site_id)
        .fetch_all(&self.pool)
        .await?;
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
        sqlx::query_as(concat!(
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
        .map_err(conflict("restore"))
    }

    /// The site's restores, newest first (the last `limit`).
    pub async fn restores_of(
        &self,
        site_id: i64,
        limit: i64,
    ) -> Result<Vec<RestoreRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            restore_columns!(),
            " FROM site_restores WHERE site_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(site_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
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
        let state = if error.is_some() {
            OpState::Failed
        } else {
            OpState::Done
        };
        sqlx::query(
            "UPDATE site_restores SET state = $1, finished_at = $2, error = $3 WHERE id = $4",
        )
        .bind(state.as_str())
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
        let snapshot: Option<SnapshotRow> = sqlx::query_as(concat!(
            "SELECT ",
            snapshot_columns!(),
            " FROM site_snapshots
             WHERE site_id = $1 AND state IN ('pending', 'running') AND kind <> 'pre_restore'
             ORDER BY created_at, id LIMIT 1"
        ))
        .bind(site_id)
        .fetch_optional(&self.pool)
        .await?;
        let restore: Option<RestoreRow> = sqlx::query_as(concat!(
            "SELECT ",
            restore_columns!(),
            " FROM site_restores
             WHERE site_id = $1 AND state IN ('pending', 'running')
             ORDER BY created_at, id LIMIT 1"
        ))
        .bind(site_id)
        .fetch_optional(&self.pool)
        .await?;
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
