//! `mywp-bench`: how fast sites go live and how fast the site list answers, on this machine.
//!
//! Run through `scripts/bench.sh` (`make bench`), which builds this in release, starts a data
//! plane of its own and points `MYWP_TEST_STATE_DIR` at it. Progress goes to stderr; the
//! result table (markdown) to stdout. A measurement tool: it asserts no timings.
//!
//! 1. One site, created alone, from `create_site` returning to status live *and* its
//!    hostname answering 200 with its title; `RUNS` times, deleting each after.
//! 2. `BURST` sites created at once: the same per site, the wall time, then deleting them
//!    all and checking nothing is left of them.
//! 3. One customer with `SEEDED` site rows (recorded only, never provisioned: a panel without
//!    workers): `GET /sites` (the SSR page) and `POST /api/list_sites`, `REQUESTS` requests
//!    at concurrency `CONCURRENCY` over loopback.
//! 4. A site with 100 MB of uploads: a snapshot and a restore, request → done
//!    (`snapshots.rs`).
//! 5. The idle panel's CPU over a minute after sites were deleted right after a snapshot,
//!    and what the job queue holds then (`idle.rs`).
//! 6. The browser bundle: its files raw, gzip and brotli, and a first visit's bytes as the
//!    panel serves them (`bundle.rs`).

mod bundle;
mod idle;
mod pools;
mod snapshots;

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::future::join_all;
use mywp_jobs::{
    domain::Email,
    store::{now_ms, Store},
};
use mywp_tests::{
    dataplane::{self, get_site_page, leftovers, Leftovers},
    unique, Customer, TestApp,
};
use serde_json::Value;
use sqlx::Row;

const RUNS: usize = 5;
const BURST: usize = 20;
const SEEDED: usize = 10_000;
const REQUESTS: usize = 2_000;
const CONCURRENCY: usize = 8;
const LIVE_TIMEOUT: Duration = Duration::from_secs(300);
const GONE_TIMEOUT: Duration = Duration::from_secs(300);
const PASSWORD: &str = "correct horse battery";

/// Targets the figures are reported against.
const TARGET_LIVE: Duration = Duration::from_secs(5);
const TARGET_LIST_P99: Duration = Duration::from_millis(20);

fn log(msg: impl AsRef<str>) {
    eprintln!("bench: {}", msg.as_ref());
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The `q` quantile (nearest rank) of `samples`.
fn quantile(samples: &[Duration], q: f64) -> Duration {
    let mut v = samples.to_vec();
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

/// What one site's trip from "created" to "live" took.
struct LiveRun {
    /// From `create_site` returning to status live.
    status_live: Duration,
    /// From `create_site` returning to live and its hostname serving its title.
    serving: Duration,
    /// The steps' own durations (ms) as the panel reports them.
    steps: Vec<(String, i64)>,
}

/// Polls (every `every`) until the site is live and its hostname serves `title`.
async fn wait_live(
    c: &Customer,
    slug: &str,
    title: &str,
    start: Instant,
    every: Duration,
) -> Result<LiveRun, String> {
    let mut status_live = None;
    let mut detail = Value::Null;
    let needle = format!("<title>{title}");
    loop {
        if start.elapsed() > LIVE_TIMEOUT {
            return Err(format!("{slug}: not live after {LIVE_TIMEOUT:?}: {detail}"));
        }
        if status_live.is_none() {
            let (status, body) = c.site(slug).await;
            if status == 200 && body["site"]["status"] == "live" {
                status_live = Some(start.elapsed());
                detail = body;
            } else if status == 200 && body["site"]["status"] == "failed" {
                return Err(format!("{slug} failed: {body}"));
            } else {
                detail = body;
            }
        }
        if let Some(status_live) = status_live {
            let (status, page) = get_site_page(slug).await;
            if status == 200 && page.contains(&needle) {
                let serving = start.elapsed();
                let steps = detail["steps"]
                    .as_array()
                    .map(|steps| {
                        steps
                            .iter()
                            .filter_map(|s| {
                                Some((s["name"].as_str()?.to_owned(), s["duration_ms"].as_i64()?))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                return Ok(LiveRun {
                    status_live,
                    serving,
                    steps,
                });
            }
        }
        tokio::time::sleep(every).await;
    }
}

async fn delete(c: &Customer, slug: &str) -> Result<(), String> {
    let (status, body) = c
        .call_json("delete_site", &[("slug", slug), ("confirm", slug)])
        .await;
    if status == 200 {
        Ok(())
    } else {
        Err(format!("delete_site {slug}: {status} {body}"))
    }
}

/// Polls until the panel no longer knows the site, then checks the data plane has nothing of it.
async fn wait_gone(c: &Customer, db: &str, slug: &str, start: Instant) -> Result<Duration, String> {
    loop {
        match c.site(slug).await {
            (404, _) => break,
            (status, body) if start.elapsed() > GONE_TIMEOUT => {
                return Err(format!(
                    "{slug}: not gone after {GONE_TIMEOUT:?}: {status} {body}"
                ))
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let gone = start.elapsed();
    let left = leftovers(db, slug).await;
    if left != Leftovers::NONE {
        return Err(format!("{slug}: left behind {left:?}"));
    }
    if get_site_page(slug).await.0 != 404 {
        return Err(format!("{slug}: its hostname still answers"));
    }
    Ok(gone)
}

async fn create(c: &Customer, title: &str, slug: &str) -> Result<(), String> {
    let (status, body) = c
        .call_json("create_site", &[("title", title), ("slug", slug)])
        .await;
    if status == 200 {
        Ok(())
    } else {
        Err(format!("create_site {slug}: {status} {body}"))
    }
}

#[derive(Default)]
struct Report {
    rows: Vec<[String; 6]>,
    notes: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    fn row(&mut self, what: &str, n: usize, a: String, b: String, c: String, target: String) {
        self.rows
            .push([what.to_owned(), n.to_string(), a, b, c, target]);
    }
}

/// Part 1: one site at a time.
async fn single(app: &TestApp, report: &mut Report) {
    let c = app.new_customer().await;
    let mut runs = Vec::new();
    let mut deletes = Vec::new();
    for i in 0..RUNS {
        let slug = unique("b1");
        let title = format!("Bench One {slug}");
        if let Err(e) = create(&c, &title, &slug).await {
            report.failures.push(e);
            continue;
        }
        let start = Instant::now();
        match wait_live(&c, &slug, &title, start, Duration::from_millis(20)).await {
            Ok(run) => {
                log(format!(
                    "single {}/{RUNS}: live {} (status {}) {:?}",
                    i + 1,
                    secs(run.serving),
                    secs(run.status_live),
                    run.steps
                ));
                runs.push(run);
            }
            Err(e) => report.failures.push(e),
        }
        let db = app.site_db(&slug).await;
        let start = Instant::now();
        match delete(&c, &slug).await {
            Ok(()) => match wait_gone(&c, &db, &slug, start).await {
                Ok(d) => deletes.push(d),
                Err(e) => report.failures.push(e),
            },
            Err(e) => report.failures.push(e),
        }
    }
    let serving: Vec<_> = runs.iter().map(|r| r.serving).collect();
    let status: Vec<_> = runs.iter().map(|r| r.status_live).collect();
    report.row(
        "1 site alone: create → live + serving title",
        serving.len(),
        secs(quantile(&serving, 0.5)),
        secs(quantile(&serving, 0.95)),
        secs(quantile(&serving, 1.0)),
        format!(
            "< 5 s: {}",
            verdict(!serving.is_empty() && quantile(&serving, 1.0) < TARGET_LIVE)
        ),
    );
    report.row(
        "  of which: create → status live",
        status.len(),
        secs(quantile(&status, 0.5)),
        secs(quantile(&status, 0.95)),
        secs(quantile(&status, 1.0)),
        String::new(),
    );
    // Where the time goes, as the panel's step records tell it.
    step_rows(report, "", &runs);
    report.row(
        "1 site alone: delete → gone (checked in MariaDB, files, nginx)",
        deletes.len(),
        secs(quantile(&deletes, 0.5)),
        secs(quantile(&deletes, 0.95)),
        secs(quantile(&deletes, 1.0)),
        String::new(),
    );
}

/// Part 2: `BURST` sites at once.
async fn burst(app: &TestApp, report: &mut Report) {
    let c = app.new_customer().await;
    let sites: Vec<(String, String)> = (0..BURST)
        .map(|_| {
            let slug = unique("b20");
            let title = format!("Bench Burst {slug}");
            (slug, title)
        })
        .collect();
    let cpu = host_jiffies();
    let wall = Instant::now();
    let results = join_all(sites.iter().map(|(slug, title)| {
        let c = &c;
        async move {
            create(c, title, slug).await?;
            let start = Instant::now();
            wait_live(c, slug, title, start, Duration::from_millis(100)).await
        }
    }))
    .await;
    let wall = wall.elapsed();
    let busy = host_busy_since(cpu);
    let mut runs = Vec::new();
    for r in results {
        match r {
            Ok(run) => runs.push(run),
            Err(e) => report.failures.push(e),
        }
    }
    let serving: Vec<_> = runs.iter().map(|r| r.serving).collect();
    log(format!(
        "burst: {} of {BURST} live in {}",
        serving.len(),
        secs(wall)
    ));
    report.row(
        &format!("{BURST} sites at once: create → live + serving title, per site"),
        serving.len(),
        secs(quantile(&serving, 0.5)),
        secs(quantile(&serving, 0.95)),
        secs(quantile(&serving, 1.0)),
        format!(
            "(1-site target < 5 s: {})",
            verdict(quantile(&serving, 1.0) < TARGET_LIVE)
        ),
    );
    step_rows(report, "burst: ", &runs);
    report.row(
        &format!("{BURST} sites at once: wall time, first create → last live"),
        1,
        format!("host CPU {busy:.0}% busy"),
        String::new(),
        secs(wall),
        String::new(),
    );

    let wall = Instant::now();
    let results = join_all(sites.iter().map(|(slug, _)| {
        let c = &c;
        async move {
            let db = app.site_db(slug).await;
            let start = Instant::now();
            delete(c, slug).await?;
            wait_gone(c, &db, slug, start).await
        }
    }))
    .await;
    let wall = wall.elapsed();
    let mut gone = Vec::new();
    for r in results {
        match r {
            Ok(d) => gone.push(d),
            Err(e) => report.failures.push(e),
        }
    }
    let (status, list) = c.call_json("list_sites", &[("page", "1")]).await;
    if status != 200 || list["total"] != 0 {
        report.failures.push(format!(
            "after the burst's deletion list_sites says {status} {list}"
        ));
    }
    log(format!(
        "burst: {} of {BURST} gone in {}",
        gone.len(),
        secs(wall)
    ));
    report.row(
        &format!("{BURST} sites at once: delete → gone, per site"),
        gone.len(),
        secs(quantile(&gone, 0.5)),
        secs(quantile(&gone, 0.95)),
        secs(quantile(&gone, 1.0)),
        String::new(),
    );
    report.row(
        &format!("{BURST} sites at once: delete wall time (all gone, nothing left)"),
        1,
        String::new(),
        String::new(),
        secs(wall),
        String::new(),
    );
}

/// Records `n` live sites for `owner_id` straight in the store, in multi-row INSERTs.
async fn seed(store: &Store, owner_id: i64, n: usize) -> Result<(), sqlx::Error> {
    const BATCH: usize = 500;
    let now = now_ms();
    let tag = unique("s");
    let mut tx = store.pool().begin().await?;
    for chunk_start in (0..n).step_by(BATCH) {
        let chunk = chunk_start..(chunk_start + BATCH).min(n);
        let mut sql = String::from(
            "INSERT INTO sites (slug, title, owner_id, status, desired, created_at, updated_at, live_at) VALUES ",
        );
        for (k, _) in chunk.clone().enumerate() {
            let p = k * 4;
            if k > 0 {
                sql.push(',');
            }
            write!(
                sql,
                "(${}, ${}, ${}, 'live', 'present', ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 4,
                p + 4
            )
            .unwrap();
        }
        // Only placeholders were added to the text: every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for i in chunk {
            // Older rows first, a millisecond apart, so "newest first" is a real ordering.
            q = q
                .bind(format!("{tag}-{i}"))
                .bind(format!("Seeded site number {i}"))
                .bind(owner_id)
                .bind(now - (n - i) as i64);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `REQUESTS` requests (after a short warm-up) at concurrency `CONCURRENCY`.
/// (busy, total) jiffies of the whole host, from /proc/stat.
fn host_jiffies() -> (u64, u64) {
    let line = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_default();
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = f.iter().take(8).sum();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The share of the host's CPUs busy since `since` (from `host_jiffies`).
fn host_busy_since(since: (u64, u64)) -> f64 {
    let now = host_jiffies();
    let total = now.1.saturating_sub(since.1).max(1);
    100.0 * now.0.saturating_sub(since.0) as f64 / total as f64
}

/// Rows with the steps' own durations, as the panel recorded them.
fn step_rows(report: &mut Report, prefix: &str, runs: &[LiveRun]) {
    let mut per_step: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for run in runs {
        for (name, d) in &run.steps {
            per_step
                .entry(name.clone())
                .or_default()
                .push(Duration::from_millis((*d).max(0) as u64));
        }
    }
    for (name, ds) in per_step {
        report.row(
            &format!("  {prefix}step `{name}` (panel's record)"),
            ds.len(),
            secs(quantile(&ds, 0.5)),
            secs(quantile(&ds, 0.95)),
            secs(quantile(&ds, 1.0)),
            String::new(),
        );
    }
}

/// CPU time this process (panel, workers and client together) has used so far.
fn cpu_time() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the ")" that ends the command name: utime and stime are 12th, 13th.
            let rest = s.rsplit_once(')')?.1.to_owned();
            let f: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|x| x.parse().ok())
                .collect();
            Some(f.iter().sum::<u64>())
        })
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

struct Load {
    lat: Vec<Duration>,
    wall: Duration,
    cpu: Duration,
    errors: usize,
}

async fn load<F, Fut>(request: F) -> Load
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    for _ in 0..50 {
        request().await;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = cpu_time();
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let next = Arc::clone(&next);
            let request = request.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0;
                while next.fetch_add(1, Ordering::Relaxed) < REQUESTS {
                    let t = Instant::now();
                    let ok = request().await;
                    lat.push(t.elapsed());
                    errors += usize::from(!ok);
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(REQUESTS);
    let mut errors = 0;
    for t in join_all(tasks).await {
        let (lat, e) = t.expect("a load task");
        all.extend(lat);
        errors += e;
    }
    Load {
        lat: all,
        wall: start.elapsed(),
        cpu: cpu_time().saturating_sub(cpu),
        errors,
    }
}

/// A request for `load`: GET `path` with the customer's cookie; true on a whole 200.
fn get_page(
    c: &Customer,
    base: &str,
    path: &str,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
       + Clone
       + Send
       + 'static {
    let client = c.client.clone();
    let url = format!("{base}{path}");
    move || {
        let req = client.get(&url);
        Box::pin(async move {
            match req.send().await {
                Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        })
    }
}

fn load_row(report: &mut Report, what: &str, load: &Load) {
    let Load {
        lat,
        wall,
        cpu,
        errors,
    } = load;
    let (lat, errors) = (lat.as_slice(), *errors);
    let p99 = quantile(lat, 0.99);
    report.row(
        what,
        lat.len(),
        format!(
            "{:.0} req/s, {:.2} ms CPU/req",
            lat.len() as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64() * 1e3 / lat.len().max(1) as f64
        ),
        format!("p50 {}", ms(quantile(lat, 0.5))),
        format!("p99 {} (max {})", ms(p99), ms(quantile(lat, 1.0))),
        format!("p99 < 20 ms: {}", verdict(p99 < TARGET_LIST_P99)),
    );
    if errors > 0 {
        report
            .failures
            .push(format!("{what}: {errors} requests did not answer 200"));
    }
}

/// Part 3: the site list of a customer with `SEEDED` sites.
async fn list(report: &mut Report) {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let store = app.plane.store.clone();
    let c = app.customer();
    let email = format!("{}@example.com", unique("big"));
    let res = c
        .call("signup", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert!(res.status().is_success(), "signup: {}", res.status());
    let owner = store
        .account_by_email(&Email::parse(&email).unwrap())
        .await
        .expect("the store answers")
        .expect("the account exists");
    // The same page for the same customer with no sites yet: what the shell, session and
    // rendering cost without any rows.
    let empty = load(get_page(&c, &app.base, "/sites")).await;
    load_row(
        report,
        &format!("  GET /sites, same customer with 0 sites, c={CONCURRENCY}"),
        &empty,
    );

    let t = Instant::now();
    seed(&store, owner.id, SEEDED)
        .await
        .expect("seeding the sites");
    let seeded = t.elapsed();
    log(format!("seeded {SEEDED} sites in {}", secs(seeded)));
    report.notes.push(format!(
        "Seeded {SEEDED} site rows (status live, not provisioned) in {} with multi-row INSERTs through `store.pool()`; panel started without workers.",
        secs(seeded)
    ));

    // The page really lists them (server-rendered, not a "Loading…" placeholder).
    let (status, page) = c.page("/sites").await;
    let rendered = status == 200 && page.contains("10000 sites") && page.contains("Seeded site");
    if !rendered {
        report.failures.push(format!(
            "GET /sites did not render the list: {status}, {} bytes",
            page.len()
        ));
    }
    report.notes.push(format!(
        "GET /sites body: {} bytes, list rendered server-side: {rendered}.",
        page.len()
    ));

    let full = load(get_page(&c, &app.base, "/sites")).await;
    log(format!("GET /sites p99 {}", ms(quantile(&full.lat, 0.99))));
    load_row(
        report,
        &format!("GET /sites (SSR page, {SEEDED} sites), c={CONCURRENCY}"),
        &full,
    );
    // One at a time: when the head arrives against when the last byte does.
    let (mut head, mut whole) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        let t = Instant::now();
        let res = c
            .client
            .get(format!("{}/sites", app.base))
            .send()
            .await
            .expect("GET /sites");
        head.push(t.elapsed());
        let _ = res.bytes().await;
        whole.push(t.elapsed());
    }
    report.notes.push(format!(
        "GET /sites one at a time (c=1, n=50): response head after p50 {}, last body byte after p50 {} (max {}).",
        ms(quantile(&head, 0.5)),
        ms(quantile(&whole, 0.5)),
        ms(quantile(&whole, 1.0))
    ));

    for page_no in ["1", "200"] {
        let base = app.base.clone();
        let client = c.client.clone();
        let result = load(move || {
            let client = client.clone();
            let url = format!("{base}/api/list_sites");
            async move {
                match client.post(url).form(&[("page", page_no)]).send().await {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                }
            }
        })
        .await;
        log(format!(
            "list_sites page={page_no} p99 {}",
            ms(quantile(&result.lat, 0.99))
        ));
        load_row(
            report,
            &format!("POST /api/list_sites page={page_no}, c={CONCURRENCY}"),
            &result,
        );
    }

    // The store alone (no HTTP, no rendering), one at a time: how much of it is SQL.
    let mut lat = Vec::new();
    let t = Instant::now();
    for _ in 0..200 {
        let s = Instant::now();
        store
            .sites_of(owner.id, 50, 0)
            .await
            .expect("sites_of answers");
        lat.push(s.elapsed());
    }
    let wall = t.elapsed();
    report.row(
        "  store.sites_of(page 1) alone, in-process, c=1",
        lat.len(),
        format!("{:.0} calls/s", lat.len() as f64 / wall.as_secs_f64()),
        format!("p50 {}", ms(quantile(&lat, 0.5))),
        format!("p99 {}", ms(quantile(&lat, 0.99))),
        String::new(),
    );
    for (what, sql) in [
        (
            "page query",
            "EXPLAIN QUERY PLAN SELECT s.id FROM sites s JOIN accounts a ON a.id = s.owner_id \
             WHERE s.owner_id = $1 ORDER BY s.created_at DESC, s.id DESC LIMIT 50 OFFSET 0",
        ),
        (
            "count query",
            "EXPLAIN QUERY PLAN SELECT COUNT(*) AS n FROM sites WHERE owner_id = $1",
        ),
    ] {
        if let Ok(rows) = sqlx::query(sql)
            .bind(owner.id)
            .fetch_all(store.pool())
            .await
        {
            let plan: Vec<String> = rows
                .iter()
                .filter_map(|r| r.try_get::<String, _>("detail").ok())
                .collect();
            report
                .notes
                .push(format!("SQLite plan, {what}: {}.", plan.join("; ")));
        }
    }
    app.stop().await;
}

fn environment() -> Vec<String> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or_else(
            || "?".into(),
            |kb| format!("{:.1} GiB", kb as f64 / 1048576.0),
        );
    let cfg = dataplane::config();
    vec![
        format!("nproc: {cpus} ({model}), memory {mem}"),
        format!(
            "build profile: {}",
            if cfg!(debug_assertions) { "debug" } else { "release" }
        ),
        format!(
            "control plane: SQLite (fresh file per part), in-process panel + {} workers; data plane {} (sites on port {})",
            8,
            dataplane::state_dir().display(),
            cfg.addressing.port
        ),
        format!(
            "load: {REQUESTS} requests per row after 50 warm-up, concurrency {CONCURRENCY}, reqwest over loopback from the same process"
        ),
    ]
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let env = environment();
    let mut report = Report::default();

    // MYWP_BENCH_PARTS (e.g. "3") runs only some parts, for profiling one of them.
    let parts = std::env::var("MYWP_BENCH_PARTS").unwrap_or_else(|_| "1,2,3,4,5,6,7".into());
    let part = |n: &str| parts.split(',').any(|p| p.trim() == n);
    if part("1") || part("2") {
        let app = TestApp::spawn().await;
        if part("1") {
            log(format!("part 1: {RUNS} single sites"));
            single(&app, &mut report).await;
        }
        if part("2") {
            log(format!("part 2: {BURST} sites at once"));
            burst(&app, &mut report).await;
        }
        app.stop().await;
    }
    if part("3") {
        log(format!("part 3: the list with {SEEDED} sites"));
        list(&mut report).await;
    }
    if part("4") {
        log("part 4: snapshots and restores");
        let app = TestApp::spawn().await;
        snapshots::snapshots(&app, &mut report).await;
        app.stop().await;
    }
    if part("5") {
        log("part 5: the idle panel");
        let app = TestApp::spawn().await;
        idle::idle(&app, &mut report).await;
        app.stop().await;
    }
    if part("6") {
        log("part 6: the browser bundle");
        bundle::bundle(&mut report).await;
    }
    if part("7") {
        log("part 7: php-fpm with 1,000 idle sites");
        pools::pools(&mut report).await;
    }

    let mut out = String::from("# MyWP benchmark\n\n");
    for line in &env {
        writeln!(out, "- {line}").unwrap();
    }
    writeln!(out, "- total bench time: {}\n", secs(started.elapsed())).unwrap();
    out.push_str("| measure | n | p50 / rate | p95 / p50 | max / p99 | target |\n");
    out.push_str("|---|---:|---:|---:|---:|---|\n");
    for r in &report.rows {
        writeln!(out, "| {} |", r.join(" | ")).unwrap();
    }
    out.push('\n');
    for n in &report.notes {
        writeln!(out, "- {n}").unwrap();
    }
    if report.failures.is_empty() {
        out.push_str("- failures: none\n");
    } else {
        for f in &report.failures {
            writeln!(out, "- FAILURE: {f}").unwrap();
        }
    }
    print!("{out}");
    if !report.failures.is_empty() {
        std::process::exit(1);
    }
}
