//! The audit log: who did what, to what, when and from where.

use super::{now_ms, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    pub actor_id: Option<i64>,
    pub action: String,
    pub target: String,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub at: i64,
}

impl Store {
    pub async fn audit(
        &self,
        actor_id: Option<i64>,
        action: &str,
        target: &str,
        detail: Option<&str>,
        ip: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (actor_id, action, target, detail, ip, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(actor_id)
        .bind(action)
        .bind(target)
        .bind(detail)
        .bind(ip)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` entries about `target`.
    pub async fn audit_for(&self, target: &str, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT actor_id, action, target, detail, ip, at FROM audit_log WHERE target = $1
             ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(target)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
