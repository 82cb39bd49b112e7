//! A MariaDB server of a test's own, in a temporary directory, that the test may stop and
//! start (the shared one serves every other test). Set up as `scripts/dataplane.sh` sets
//! up the shared one: root logs in through the socket only.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use sqlx::{ConnectOptions, Connection};
use tokio::process::{Child, Command};

pub struct OwnMariaDb {
    dir: tempfile::TempDir,
    pub socket: PathBuf,
    server: Option<Child>,
}

impl OwnMariaDb {
    /// A new server's files, made but not started.
    pub async fn install() -> OwnMariaDb {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path();
        // mysql and the sites' PHP reach the socket in here.
        chmod(path, 0o755);
        let data = path.join("data");
        std::fs::create_dir(&data).unwrap();
        let socket = path.join("mariadb.sock");
        let cnf = format!(
            "[mariadbd]\ndatadir={}\nsocket={}\npid-file={}\nlog-error={}\nuser=mysql\n\
             skip-networking\ncharacter-set-server=utf8mb4\ncollation-server=utf8mb4_unicode_ci\n\
             innodb_buffer_pool_size=16M\ninnodb_log_file_size=8M\nperformance_schema=OFF\n",
            data.display(),
            socket.display(),
            path.join("mariadb.pid").display(),
            path.join("mariadb.err").display(),
        );
        std::fs::write(path.join("my.cnf"), cnf).unwrap();
        std::fs::write(path.join("mariadb.err"), "").unwrap();
        chown_mysql(path);
        let status = Command::new("mariadb-install-db")
            .arg(format!("--defaults-file={}", path.join("my.cnf").display()))
            .args([
                "--user=mysql",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("run mariadb-install-db");
        assert!(status.success(), "mariadb-install-db failed");
        chown_mysql(path);
        OwnMariaDb {
            dir,
            socket,
            server: None,
        }
    }

    /// Starts the server and waits (bounded) until root can log in.
    pub async fn start(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        let server = Command::new("mariadbd")
            .arg(format!(
                "--defaults-file={}",
                self.dir.path().join("my.cnf").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start mariadbd");
        self.server = Some(server);
        let options = sqlx::mysql::MySqlConnectOptions::new()
            .socket(&self.socket)
            .username("root");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(conn) = options.connect().await {
                conn.close().await.ok();
                return;
            }
            let log = std::fs::read_to_string(self.dir.path().join("mariadb.err"));
            assert!(
                Instant::now() < deadline,
                "the test's MariaDB did not start: {log:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server (SIGTERM, as an operator's restart would) and waits for it.
    pub async fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            if let Some(pid) = server.id() {
                let pid = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            }
            server.wait().await.expect("mariadbd stops");
        }
    }
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Gives the server's directory to the `mysql` user, as mariadbd expects.
fn chown_mysql(path: &std::path::Path) {
    let mysql = nix::unistd::User::from_name("mysql")
        .unwrap()
        .expect("the mysql user (mariadb-server is installed)");
    for entry in walk(path) {
        std::os::unix::fs::lchown(&entry, Some(mysql.uid.as_raw()), Some(mysql.gid.as_raw()))
            .unwrap();
    }
}

fn walk(path: &std::path::Path) -> Vec<PathBuf> {
    let mut all = vec![path.to_path_buf()];
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        for entry in std::fs::read_dir(path).unwrap() {
            all.extend(walk(&entry.unwrap().path()));
        }
    }
    all
}
