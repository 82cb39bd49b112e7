//! `mywp agent` (a spawned process) against a real nginx of the test's own: server blocks
//! dropped into a "shared" directory are served, changed, isolated when broken, removed, and
//! kept when the shared directory cannot be listed.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command as StdCommand, Stdio},
    time::{Duration, Instant},
};

use mywp_tests::{mywp_bin, unique, wait_for};
use nix::{sys::signal, unistd::Pid};
use tokio::process::{Child, Command};

const NGINX: &str = "/usr/sbin/nginx";
const WAIT: Duration = Duration::from_secs(20);

/// An unprivileged nginx of this test's own, everything under a temporary directory,
/// answering on 127.0.0.1 on a free port, with a default server that answers 404. Stopped
/// (SIGTERM, waited for) when dropped, also when the test panics.
struct TestNginx {
    dir: tempfile::TempDir,
    port: u16,
}

impl TestNginx {
    fn start() -> TestNginx {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} is missing: scripts/setup.sh installs it"
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path();
        fs::create_dir(root.join("sites")).unwrap();
        fs::create_dir(root.join("tmp")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let r = root.display();
        let conf = format!(
            r#"worker_processes 1;
daemon on;
pid {r}/nginx.pid;
error_log {r}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    default_type text/plain;
    client_body_temp_path {r}/tmp/client_body;
    proxy_temp_path {r}/tmp/proxy;
    fastcgi_temp_path {r}/tmp/fastcgi;
    uwsgi_temp_path {r}/tmp/uwsgi;
    scgi_temp_path {r}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} default_server;
        server_name _;
        return 404 "default server";
    }}
    include {r}/sites/*.conf;
}}
"#
        );
        fs::write(root.join("nginx.conf"), conf).unwrap();
        let start_log = root.join("start.log");
        let nginx = TestNginx { dir, port };
        let log = fs::File::create(&start_log).unwrap();
        // With `daemon on` this returns once the master listens and has detached.
        let status = StdCommand::new(NGINX)
            .args(nginx.flags())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .status()
            .expect("run nginx");
        assert!(
            status.success(),
            "nginx did not start: {}",
            fs::read_to_string(&start_log).unwrap_or_default()
        );
        nginx
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn sites(&self) -> PathBuf {
        self.root().join("sites")
    }

    /// `-p`, `-e`, `-c`: as the agent is told to run nginx.
    fn flags(&self) -> Vec<String> {
        let r = self.root().display();
        vec![
            "-p".into(),
            format!("{r}/"),
            "-e".into(),
            format!("{r}/error.log"),
            "-c".into(),
            format!("{r}/nginx.conf"),
        ]
    }

    fn pid(&self) -> Option<Pid> {
        let text = fs::read_to_string(self.root().join("nginx.pid")).ok()?;
        text.trim().parse().ok().map(Pid::from_raw)
    }
}

impl Drop for TestNginx {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        // The pid file appears just after the daemon detached.
        let pid = loop {
            match self.pid() {
                Some(pid) => break Some(pid),
                None if Instant::now() > deadline => break None,
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let Some(pid) = pid else {
            eprintln!("the test nginx left no pid file: it may still run");
            return;
        };
        if signal::kill(pid, signal::Signal::SIGTERM).is_ok() {
            while signal::kill(pid, None).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A `mywp agent` process copying `shared` into the test nginx's sites directory every
/// 100 ms, its log in `log`. Killed when dropped.
struct TestAgent {
    child: Child,
    log: PathBuf,
}

impl TestAgent {
    fn spawn(shared: &Path, nginx: &TestNginx, log: PathBuf) -> TestAgent {
        let out = fs::File::create(&log).unwrap();
        let child = Command::new(mywp_bin())
            .arg("agent")
            .env("MYWP_AGENT_SHARED_DIR", shared)
            .env("MYWP_AGENT_NGINX_SITES_DIR", nginx.sites())
            .env("MYWP_AGENT_NGINX_BIN", NGINX)
            .env(
                "MYWP_AGENT_NGINX_PREFIX",
                format!("{}/", nginx.root().display()),
            )
            .env("MYWP_AGENT_NGINX_CONF", nginx.root().join("nginx.conf"))
            .env("MYWP_AGENT_NGINX_ERROR_LOG", nginx.root().join("error.log"))
            .env("MYWP_AGENT_INTERVAL_MS", "100")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("start mywp agent");
        TestAgent { child, log }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails the test, with the agent's log, if the agent has exited.
    fn check_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("mywp agent exited ({status}):\n{}", self.log());
        }
    }

    /// Waits until the agent's log has a line containing `needle`.
    async fn wait_for_log(&mut self, what: &str, needle: &str) -> String {
        wait_for(what, WAIT, || {
            self.check_alive();
            let log = self.log();
            let found = log.lines().find(|l| l.contains(needle)).map(str::to_owned);
            async move { found.ok_or_else(|| format!("not in the log:\n{log}")) }
        })
        .await
    }
}

fn server_block(port: u16, host: &str, body: &str) -> String {
    format!("server {{\n    listen 127.0.0.1:{port};\n    server_name {host};\n    return 200 \"{body}\";\n}}\n")
}

/// Writes a shared file as the provisioning worker does: a temporary file renamed into place.
fn put(dir: &Path, name: &str, content: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, content).unwrap();
    fs::rename(&tmp, dir.join(name)).unwrap();
}

/// GET / from the test nginx with `Host: host`: (status, body), or why it failed.
async fn get(port: u16, host: &str) -> Result<(u16, String), String> {
    let client = reqwest::Client::builder()
        .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let res = client
        .get(format!("http://{host}:{port}/"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    Ok((status, res.text().await.map_err(|e| e.to_string())?))
}

/// Waits until `host` answers `status` with `body`.
async fn wait_serves(port: u16, host: &str, status: u16, body: &str) {
    wait_for(
        &format!("{host} to answer {status} {body:?}"),
        WAIT,
        || async move {
            match get(port, host).await? {
                (s, b) if s == status && b == body => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

/// Asserts `host` answers `status` with `body` now.
async fn assert_serves(port: u16, host: &str, status: u16, body: &str) {
    let got = get(port, host).await;
    assert_eq!(got, Ok((status, body.to_string())), "{host}");
}

fn site_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".conf"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_agent_keeps_nginx_serving_the_shared_server_blocks() {
    let nginx = TestNginx::start();
    let port = nginx.port;
    let work = tempfile::tempdir().unwrap();
    let shared = work.path().join("shared");
    let away = work.path().join("shared-away");
    fs::create_dir(&shared).unwrap();

    let (a, b, bad) = (unique("a-"), unique("b-"), unique("bad-"));
    let host = |slug: &str| format!("{slug}.test");
    let file = |slug: &str| format!("{slug}.conf");
    assert_serves(port, &host(&a), 404, "default server").await;

    put(&shared, &file(&a), &server_block(port, &host(&a), "site a"));
    let mut agent = TestAgent::spawn(&shared, &nginx, work.path().join("agent.log"));

    // (a) A block in the shared directory is served.
    wait_serves(port, &host(&a), 200, "site a").await;

    // (b) A changed block is served changed.
    put(
        &shared,
        &file(&a),
        &server_block(port, &host(&a), "site a, v2"),
    );
    wait_serves(port, &host(&a), 200, "site a, v2").await;

    // (e) The shared directory cannot be listed (renamed away): once the agent has seen
    // that, everything is still served, and the local copy is intact.
    fs::rename(&shared, &away).unwrap();
    agent
        .wait_for_log("the agent to notice", "cannot list the shared directory")
        .await;
    assert_serves(port, &host(&a), 200, "site a, v2").await;
    assert_eq!(site_files(&nginx.sites()), [file(&a)]);

    // (c) A broken block and a good one, arriving in the same pass (written while the
    // directory is away, then it comes back): the good one is served, the broken one is
    // refused with nginx's message, and the rest keeps answering.
    put(&away, &file(&bad), &format!("server {{\n    listen 127.0.0.1:{port};\n    server_name {};\n    return 200 \"bad\";\n", host(&bad)));
    put(&away, &file(&b), &server_block(port, &host(&b), "site b"));
    fs::rename(&away, &shared).unwrap();
    wait_serves(port, &host(&b), 200, "site b").await;
    let refused = agent
        .wait_for_log(
            "the broken block's refusal",
            &format!("nginx refused the shared server block {}", file(&bad)),
        )
        .await;
    assert!(refused.contains("unexpected end of file"), "{refused}");
    assert_serves(port, &host(&a), 200, "site a, v2").await;
    assert_serves(port, &host(&bad), 404, "default server").await;
    assert_eq!(site_files(&nginx.sites()), [file(&a), file(&b)]);

    // (d) A block deleted from the shared directory stops being served.
    fs::remove_file(shared.join(file(&a))).unwrap();
    wait_serves(port, &host(&a), 404, "default server").await;
    assert_serves(port, &host(&b), 200, "site b").await;
    assert_eq!(site_files(&nginx.sites()), [file(&b)]);

    // The broken block was refused once, not every pass; one log line per applied change
    // set (a added, a changed, b added, a removed), none for idle passes.
    agent.check_alive();
    let log = agent.log();
    let refusals = log.matches("nginx refused the shared server block").count();
    assert_eq!(refusals, 1, "{log}");
    let applied = log.matches("applied server blocks").count();
    assert_eq!(applied, 4, "{log}");

    // SIGTERM: the agent stops cleanly.
    let pid = Pid::from_raw(agent.child.id().expect("the agent runs") as i32);
    signal::kill(pid, signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(WAIT, agent.child.wait())
        .await
        .expect("the agent stops after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}: {}", agent.log());
    assert!(agent.log().contains("agent stopped"));
}

/// `--once` syncs and exits; it fails, changing nothing, when the shared directory is missing.
#[tokio::test]
async fn once_syncs_and_exits() {
    let nginx = TestNginx::start();
    let port = nginx.port;
    let work = tempfile::tempdir().unwrap();
    let shared = work.path().join("shared");
    fs::create_dir(&shared).unwrap();
    let c = unique("c-");
    put(
        &shared,
        &format!("{c}.conf"),
        &server_block(port, &format!("{c}.test"), "site c"),
    );
    let once = |shared: PathBuf| {
        let mut cmd = Command::new(mywp_bin());
        cmd.args(["agent", "--once", "--nginx-bin", NGINX])
            .arg("--shared-dir")
            .arg(shared)
            .arg("--nginx-sites-dir")
            .arg(nginx.sites())
            .arg("--nginx-prefix")
            .arg(format!("{}/", nginx.root().display()))
            .arg("--nginx-conf")
            .arg(nginx.root().join("nginx.conf"))
            .arg("--nginx-error-log")
            .arg(nginx.root().join("error.log"))
            .env("NO_COLOR", "1")
            .kill_on_drop(true);
        cmd
    };
    let out = once(shared.clone()).output().await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Synced: 1 added, 0 changed, 0 removed."),
        "{said}"
    );
    // nginx -s reload returns before the new workers have taken over.
    wait_serves(port, &format!("{c}.test"), 200, "site c").await;

    let out = once(work.path().join("missing")).output().await.unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(site_files(&nginx.sites()), [format!("{c}.conf")]);
    assert_serves(port, &format!("{c}.test"), 200, "site c").await;
}
