//! What the database server's errors mean for a step: worth a retry, or not.

use crate::drivers::StepError;

/// MySQL's "Access denied for user" (1045): a wrong or rotated password.
pub(super) fn is_access_denied(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|m| m.number() == 1045),
        _ => false,
    }
}

/// Connection trouble means the server is away (down, restarting, unreachable): the step
/// waits for it, however long that takes ([`StepError::Unavailable`]). What the server
/// refuses is permanent, with its message; its passing troubles (too many connections, a
/// lock wait) are transient. (Statements never carry the password in an error: MariaDB
/// does not echo them.)
pub(super) fn classify(e: sqlx::Error) -> StepError {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // MariaDB's numeric error number, when sqlx has it.
            let number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|m| m.number())
                .unwrap_or(0);
            let msg = format!(
                "MariaDB refused the operation: {} (error {number}, {code})",
                db.message()
            );
            match number {
                // server shutting down
                1053 => StepError::Unavailable(msg),
                // too many connections, lock wait timeout, deadlock
                1040 | 1205 | 1213 => StepError::Transient(msg),
                _ => StepError::Permanent(msg),
            }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Tls(_) => StepError::Unavailable(format!("cannot reach MariaDB: {e}")),
        _ => StepError::Permanent(format!("database error: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_away_is_waited_for() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = classify(sqlx::Error::Io(refused));
        assert!(matches!(e, StepError::Unavailable(_)), "{e:?}");
        assert!(e.is_transient());
        assert!(matches!(
            classify(sqlx::Error::PoolTimedOut),
            StepError::Unavailable(_)
        ));
    }
}
