//! Part 7: the panel's resident memory. The `mywp` binary (release, beside this one) serves
//! alone on a fresh database; its VmRSS (from /proc) is read idle, sampled every 10 ms
//! during `LOGINS` concurrent logins for unknown emails (each a full argon2 check, ~19 MiB,
//! unless refused as busy), and read again `SETTLE` after.

use std::{
    process::Stdio,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::future::join_all;
use mywp_tests::{mywp_bin, repo_root, unique};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use super::{log, secs, verdict, Report};

const LOGINS: usize = 200;
const SETTLE: Duration = Duration::from_secs(10);
const TARGET_IDLE_MB: f64 = 50.0;
const TARGET_LOAD_MB: f64 = 150.0;

/// `pid`'s resident memory in MB, from /proc/<pid>/status.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn mb(v: f64) -> String {
    format!("{v:.1} MB")
}

pub async fn memory(report: &mut Report) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = std::env::var("MYWP_TEST_STATE_DIR").expect("MYWP_TEST_STATE_DIR");
    let mut child = Command::new(mywp_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--no-workers"])
        .env("MYWP_STATE_DIR", &state)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("mywp.db").display()),
        )
        .env("MYWP_SITE_ROOT", repo_root().join("target/site"))
        // Every login comes from loopback: let them all reach the password check's bound.
        .env("MYWP_LOGINS_PER_MINUTE", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start mywp serve");
    let pid = child.id().expect("the panel's pid");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = match lines.next_line().await {
        Ok(Some(line)) if line.contains("serving at ") => {
            line.rsplit("serving at ").next().unwrap().trim().to_owned()
        }
        other => {
            report
                .failures
                .push(format!("memory: the panel did not start: {other:?}"));
            return;
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(LOGINS)
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let login = |email: String| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            client
                .post(format!("{base}/api/login"))
                .header("Origin", &base)
                .form(&[
                    ("email", email.as_str()),
                    ("password", "wrong horse battery"),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    // Warm up: a page and one login (the decoy hash is made on first use).
    let _ = client.get(format!("{base}/login")).send().await;
    login(format!("{}@example.com", unique("warm"))).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_mb(pid);
    log(format!(
        "memory: idle {}; {LOGINS} logins at once",
        mb(idle)
    ));

    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (peak, done) = (peak.clone(), done.clone());
        async move {
            while !done.load(Ordering::SeqCst) {
                peak.fetch_max((rss_mb(pid) * 1024.0) as u64, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });
    let started = Instant::now();
    let statuses =
        join_all((0..LOGINS).map(|_| login(format!("{}@example.com", unique("flood"))))).await;
    let wall = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let _ = sampler.await;
    let peak = peak.load(Ordering::SeqCst) as f64 / 1024.0;
    let checked = statuses.iter().filter(|s| **s == 400).count();
    let busy = statuses.iter().filter(|s| **s == 429).count();
    tokio::time::sleep(SETTLE).await;
    let after = rss_mb(pid);
    let _ = child.start_kill();
    let _ = child.wait().await;

    report.row(
        "panel resident memory (release `mywp serve`, mimalloc): idle",
        1,
        mb(idle),
        String::new(),
        String::new(),
        format!("≤ {TARGET_IDLE_MB} MB: {}", verdict(idle <= TARGET_IDLE_MB)),
    );
    report.row(
        &format!("… peak during {LOGINS} concurrent logins for unknown emails"),
        LOGINS,
        mb(peak),
        String::new(),
        String::new(),
        format!("≤ {TARGET_LOAD_MB} MB: {}", verdict(peak <= TARGET_LOAD_MB)),
    );
    report.row(
        &format!("… {} after them", secs(SETTLE)),
        1,
        mb(after),
        String::new(),
        String::new(),
        format!(
            "near idle (≤ idle + 10 MB): {}",
            verdict(after <= idle + 10.0)
        ),
    );
    report.notes.push(format!(
        "memory: of {LOGINS} concurrent logins for unknown emails, {checked} had their password \
         checked and {busy} were refused at once as busy (429), in {}; other answers: {}",
        secs(wall),
        LOGINS - checked - busy
    ));
}
