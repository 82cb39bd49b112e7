//! Accounts and sessions.

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{conflict, now_ms, Store, StoreError};
use crate::domain::{Email, PasswordHash, Role};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

/// An account with its password hash, as login reads it.
#[derive(sqlx::FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    account: Account,
    password_hash: Option<String>,
}

/// A session's secret token, as it travels in the cookie. Only its hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(pub String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

impl SessionToken {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }
    fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// Sessions last 30 days at most (and end sooner when left idle: see `session_account`).
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// A session's last use is written at most this often (not on every request).
const SEEN_EVERY_MS: i64 = 60 * 1000;

/// A live session's account and when it was last used.
#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    account: Account,
    last_seen_at: i64,
}

impl Store {
    pub async fn create_account(
        &self,
        email: &Email,
        hash: &PasswordHash,
        role: Role,
    ) -> Result<Account, StoreError> {
        sqlx::query_as(
            "INSERT INTO accounts (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id, email, role",
        )
        .bind(email.as_str())
        .bind(&hash.0)
        .bind(role.as_str())
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(conflict("account"))
    }

    /// The account with `email` and its password hash, if any.
    pub async fn account_for_login(
        &self,
        email: &Email,
    ) -> Result<Option<(Account, Option<PasswordHash>)>, StoreError> {
        let row: Option<LoginRow> =
            sqlx::query_as("SELECT id, email, role, password_hash FROM accounts WHERE email = $1")
                .bind(email.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| (r.account, r.password_hash.map(PasswordHash))))
    }

    pub async fn account_by_email(&self, email: &Email) -> Result<Option<Account>, StoreError> {
        Ok(self.account_for_login(email).await?.map(|(a, _)| a))
    }

    pub async fn set_role(&self, account_id: i64, role: Role) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Opens a session for `account_id` and returns its token for the cookie.
    pub async fn create_session(&self, account_id: i64) -> Result<SessionToken, StoreError> {
        let token = SessionToken::generate();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, created_at, expires_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $3)",
        )
        .bind(token.hash())
        .bind(account_id)
        .bind(now)
        .bind(now + SESSION_TTL_MS)
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// The account behind a live session token: one neither expired nor unused for
    /// `idle_ms`. Using it keeps it alive.
    pub async fn session_account(
        &self,
        token: &SessionToken,
        idle_ms: i64,
    ) -> Result<Option<Account>, StoreError> {
        let now = now_ms();
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT a.id, a.email, a.role, s.last_seen_at FROM sessions s
             JOIN accounts a ON a.id = s.account_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3",
        )
        .bind(token.hash())
        .bind(now)
        .bind(now - idle_ms)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if row.last_seen_at < now - SEEN_EVERY_MS {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                .bind(token.hash())
                .bind(now)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(row.account))
    }

    pub async fn delete_session(&self, token: &SessionToken) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at < $2")
            .bind(token.hash())
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
