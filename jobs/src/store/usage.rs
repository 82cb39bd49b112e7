//! What one account uses, for its limits: its sites and its snapshots' bytes.

use super::{Store, StoreError};

impl Store {
    /// Sites `owner_id` has (those being deleted included: they still hold resources).
    pub async fn site_count_of(&self, owner_id: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sites WHERE owner_id = $1")
            .bind(owner_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Bytes of all the snapshots of `owner_id`'s sites (the done ones: their sizes are
    /// known).
    pub async fn snapshot_bytes_of(&self, owner_id: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(COALESCE(n.database_bytes, 0) + COALESCE(n.files_bytes, 0)), 0) AS BIGINT)
             FROM site_snapshots n JOIN sites s ON s.id = n.site_id WHERE s.owner_id = $1",
        )
        .bind(owner_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }
}
