//! Login attempts: the per-key throttle every password check claims first, and the
//! addresses each account has signed in from.
//!
//! A login claims its attempt with one conditional write *before* the password is checked,
//! counting it as a failure until it succeeds: parallel attempts cannot all read "no
//! failures yet". After [`FREE_FAILURES`] failures in a row each further attempt must wait,
//! twice as long each time up to [`MAX_DELAY`]: no lockout anyone can trigger, and the
//! wait holds across restarts and processes (it is in the store).

use std::time::Duration;

use super::{now_ms, Store, StoreError};

/// Failures in a row before attempts have to wait.
pub const FREE_FAILURES: i64 = 3;
/// The first wait; each failure after doubles it.
pub const FIRST_DELAY: Duration = Duration::from_secs(5);
/// The longest wait.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// A throttle untouched this long starts over (and is swept).
const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;
/// An address is the account's own for this long after it last signed in from it.
const ADDRESS_KEPT_MS: i64 = 90 * 24 * 3600 * 1000;

/// How long the next attempt waits after `failures` failures in a row.
pub fn login_delay(failures: i64) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(20) as u32;
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

/// Whether a login attempt may check its password now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginClaim {
    /// Recorded (as a failure, until [`Store::login_succeeded`]): check the password.
    Granted,
    /// Not before this long.
    Wait(Duration),
}

#[derive(sqlx::FromRow)]
struct Throttle {
    failures: i64,
    not_before: i64,
    updated_at: i64,
}

impl Store {
    /// Claims a login attempt for `key` (see the module's doc).
    pub async fn claim_login_attempt(&self, key: &str) -> Result<LoginClaim, StoreError> {
        // A lost race re-reads; a handful of losses in a row means a burst: it waits.
        for _ in 0..5 {
            let now = now_ms();
            let row: Option<Throttle> = sqlx::query_as(
                "SELECT failures, not_before, updated_at FROM login_throttle WHERE key = $1",
            )
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
            let won = match row {
                None => {
                    sqlx::query("DELETE FROM login_throttle WHERE updated_at < $1")
                        .bind(now - FORGET_AFTER_MS)
                        .execute(&self.pool)
                        .await?;
                    sqlx::query(
                        "INSERT INTO login_throttle (key, failures, not_before, updated_at)
                         VALUES ($1, 1, $2, $3) ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(now + delay_ms(1))
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                }
                Some(t) if t.not_before > now => {
                    return Ok(LoginClaim::Wait(Duration::from_millis(
                        (t.not_before - now) as u64,
                    )))
                }
                Some(t) => {
                    let failures = if now - t.updated_at > FORGET_AFTER_MS {
                        1
                    } else {
                        t.failures + 1
                    };
                    sqlx::query(
                        "UPDATE login_throttle SET failures = $2, not_before = $3, updated_at = $4
                         WHERE key = $1 AND failures = $5 AND updated_at = $6",
                    )
                    .bind(key)
                    .bind(failures)
                    .bind(now + delay_ms(failures))
                    .bind(now)
                    .bind(t.failures)
                    .bind(t.updated_at)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
                }
            };
            if won == 1 {
                return Ok(LoginClaim::Granted);
            }
        }
        Ok(LoginClaim::Wait(Duration::from_secs(1)))
    }

    /// The attempt claimed for `key` succeeded: its failures are forgotten.
    pub async fn login_succeeded(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Failures in a row recorded for `key` (claimed attempts that did not succeed).
    pub async fn login_failures(&self, key: &str) -> Result<i64, StoreError> {
        let n: Option<(i64,)> =
            sqlx::query_as("SELECT failures FROM login_throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(n.map_or(0, |(n,)| n))
    }

    /// Notes that `email` signed in from `ip`.
    pub async fn remember_login_address(&self, email: &str, ip: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_addresses (email, ip, last_at) VALUES ($1, $2, $3)
             ON CONFLICT (email, ip) DO UPDATE SET last_at = excluded.last_at",
        )
        .bind(email)
        .bind(ip)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `email` has signed in from `ip` (lately).
    pub async fn is_login_address(&self, email: &str, ip: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT last_at FROM login_addresses WHERE email = $1 AND ip = $2 AND last_at > $3",
        )
        .bind(email)
        .bind(ip)
        .bind(now_ms() - ADDRESS_KEPT_MS)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}

fn delay_ms(failures: i64) -> i64 {
    login_delay(failures).as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stop_growing() {
        assert_eq!(login_delay(0), Duration::ZERO);
        assert_eq!(login_delay(FREE_FAILURES - 1), Duration::ZERO);
        assert_eq!(login_delay(FREE_FAILURES), FIRST_DELAY);
        assert_eq!(login_delay(FREE_FAILURES + 1), FIRST_DELAY * 2);
        assert_eq!(login_delay(FREE_FAILURES + 3), FIRST_DELAY * 8);
        assert_eq!(login_delay(1000), MAX_DELAY);
    }
}
