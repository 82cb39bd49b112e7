//! The MySQL server of the sites' databases, and how the panel logs in to administer it.

use std::{
    path::PathBuf,
    sync::{Arc, RwLock},
};

use futures::future::BoxFuture;

use crate::secrets::Secret;

/// The MySQL server of the sites' databases.
#[derive(Debug, Clone)]
pub enum DbServer {
    /// This host's MariaDB: root through its unix socket (unix_socket authentication, so
    /// no root password exists anywhere).
    Socket(PathBuf),
    /// A MySQL server over TCP, such as the AWS shape's RDS MySQL, administered by a user
    /// with a password (RDS's master user).
    Tcp {
        host: String,
        port: u16,
        admin: AdminLogin,
    },
}

/// Reads the administrator's login again (from where it is kept: Secrets Manager).
pub type ReloadLogin =
    Arc<dyn Fn() -> BoxFuture<'static, Result<(String, Secret), String>> + Send + Sync>;

/// The administrator's user and password. RDS rotates a managed master secret (every 7
/// days by default): when the server refuses the login, [`AdminLogin::reload`] reads the
/// secret again and every copy of this login (clones share it) sees the new one.
#[derive(Clone)]
pub struct AdminLogin {
    current: Arc<RwLock<(String, Secret)>>,
    reload: Option<ReloadLogin>,
}

impl std::fmt::Debug for AdminLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminLogin")
            .field("user", &self.user())
            .field("reloadable", &self.reload.is_some())
            .finish_non_exhaustive()
    }
}

impl AdminLogin {
    /// A login given once (a password in the config): nothing to reload.
    pub fn fixed(user: String, password: Secret) -> Self {
        Self {
            current: Arc::new(RwLock::new((user, password))),
            reload: None,
        }
    }

    /// A login that `reload` can read again.
    pub fn reloadable(user: String, password: Secret, reload: ReloadLogin) -> Self {
        Self {
            reload: Some(reload),
            ..Self::fixed(user, password)
        }
    }

    pub fn user(&self) -> String {
        self.read().0.clone()
    }

    pub fn password(&self) -> Secret {
        self.read().1.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (String, Secret)> {
        // A writer never panics while holding the lock; recover the value if one did.
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the login again; true when it changed (worth trying again with it).
    pub async fn reload(&self) -> Result<bool, String> {
        let Some(reload) = &self.reload else {
            return Ok(false);
        };
        let (user, password) = reload().await?;
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let changed = current.0 != user || current.1.expose() != password.expose();
        *current = (user, password);
        Ok(changed)
    }
}

impl DbServer {
    /// How the panel connects as the administrator. Statements carry sites' passwords
    /// (CREATE/ALTER USER): statement logging is off.
    pub fn admin_options(&self) -> sqlx::mysql::MySqlConnectOptions {
        use sqlx::ConnectOptions;
        let options = match self {
            DbServer::Socket(socket) => sqlx::mysql::MySqlConnectOptions::new()
                .socket(socket)
                .username("root"),
            DbServer::Tcp { host, port, admin } => sqlx::mysql::MySqlConnectOptions::new()
                .host(host)
                .port(*port)
                .username(&admin.user())
                .password(admin.password().expose()),
        };
        options.database("mysql").disable_statement_logging()
    }

    /// How `user` logs in with `password`, to no database in particular.
    pub fn login_options(&self, user: &str, password: &Secret) -> sqlx::mysql::MySqlConnectOptions {
        use sqlx::ConnectOptions;
        let options = match self {
            DbServer::Socket(socket) => sqlx::mysql::MySqlConnectOptions::new().socket(socket),
            DbServer::Tcp { host, port, .. } => sqlx::mysql::MySqlConnectOptions::new()
                .host(host)
                .port(*port),
        };
        options
            .username(user)
            .password(password.expose())
            .disable_statement_logging()
    }

    /// The administrator's login, when it has a password (over TCP).
    pub fn admin(&self) -> Option<&AdminLogin> {
        match self {
            DbServer::Socket(_) => None,
            DbServer::Tcp { admin, .. } => Some(admin),
        }
    }

    /// What a site's `DB_HOST` says: `localhost:<socket>` or `<host>:<port>`.
    pub fn site_db_host(&self) -> String {
        match self {
            DbServer::Socket(socket) => format!("localhost:{}", socket.display()),
            DbServer::Tcp { host, port, .. } => format!("{host}:{port}"),
        }
    }

    /// Where it is, for messages (never the password).
    pub fn describe(&self) -> String {
        match self {
            DbServer::Socket(socket) => format!("MariaDB at {}", socket.display()),
            DbServer::Tcp { host, port, .. } => format!("MySQL at {host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reloaded_login_is_seen_by_every_copy_and_never_printed() {
        let fresh: ReloadLogin =
            Arc::new(|| Box::pin(async { Ok(("admin".to_string(), Secret::new("n3w-pass"))) }));
        let login = AdminLogin::reloadable("admin".into(), Secret::new("0ld-pass"), fresh);
        let copy = login.clone();
        assert!(login.reload().await.unwrap(), "the password changed");
        assert_eq!(copy.password().expose(), "n3w-pass");
        assert!(
            !login.reload().await.unwrap(),
            "nothing changed the second time"
        );
        let shown = format!(
            "{:?}",
            DbServer::Tcp {
                host: "db".into(),
                port: 3306,
                admin: copy
            }
        );
        assert!(!shown.contains("pass"), "{shown}");
        let fixed = AdminLogin::fixed("u".into(), Secret::new("p"));
        assert!(!fixed.reload().await.unwrap());
    }
}
