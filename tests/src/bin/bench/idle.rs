//! Part 5: the idle panel. Two sites are snapshotted, their snapshots downloaded and the
//! sites deleted within the same second (the recipe of the job storm, where jobs of deleted
//! sites ran ~12 times a second forever); then the panel and its workers sit idle for
//! `IDLE` (`MYWP_BENCH_IDLE_SECONDS`, default 60): the CPU they use meanwhile (this
//! process's utime + stime from /proc/self/stat: the panel runs in-process and the bench
//! only sleeps), and what the job queue holds after.

use std::time::{Duration, Instant};

use mywp_tests::{unique, TestApp};

use super::{create, delete, log, secs, verdict, wait_gone, Report, LIVE_TIMEOUT};

/// The goal: an idle panel uses less than this share of one core.
const TARGET_CPU: f64 = 0.01;

/// This process's CPU time so far (user + system), from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // In clock ticks of USER_HZ, which Linux fixes at 100 a second for /proc.
    Duration::from_millis(ticks * 10)
}

pub async fn idle(app: &TestApp, report: &mut Report) {
    let idle = Duration::from_secs(
        std::env::var("MYWP_BENCH_IDLE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let c = app.new_customer().await;
    let slugs = [unique("bidle"), unique("bidle")];
    for slug in &slugs {
        if let Err(e) = create(&c, &format!("Idle {slug}"), slug).await {
            report.failures.push(e);
            return;
        }
    }
    let mut dbs = Vec::new();
    for slug in &slugs {
        c.wait_status(slug, "live", LIVE_TIMEOUT).await;
        dbs.push(app.site_db(slug).await);
        let (status, body) = c.call_json("take_snapshot", &[("slug", slug)]).await;
        if status != 200 {
            report
                .failures
                .push(format!("take_snapshot: {status} {body}"));
            return;
        }
    }
    // Each snapshot done, downloaded, and the site deleted at once.
    for slug in &slugs {
        let start = Instant::now();
        let id = loop {
            let (_, body) = c.site(slug).await;
            let row = &body["backups"]["snapshots"][0];
            if row["state"] == "done" {
                break row["id"].as_i64().unwrap_or(0);
            }
            if start.elapsed() > LIVE_TIMEOUT {
                report.failures.push(format!("{slug}: no snapshot: {row}"));
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let url = format!("{}/sites/{slug}/snapshots/{id}/database.sql.gz", app.base);
        match c.client.get(url).send().await {
            Ok(res) if res.status() == 200 => {}
            other => report.failures.push(format!("{slug}: download: {other:?}")),
        }
        if let Err(e) = delete(&c, slug).await {
            report.failures.push(e);
        }
    }
    for (slug, db) in slugs.iter().zip(&dbs) {
        if let Err(e) = wait_gone(&c, db, slug, Instant::now()).await {
            report.failures.push(e);
        }
    }
    log(format!("idle: the panel sits idle for {}", secs(idle)));
    let (cpu_before, wall) = (cpu_time(), Instant::now());
    tokio::time::sleep(idle).await;
    let used = cpu_time().saturating_sub(cpu_before);
    let share = used.as_secs_f64() / wall.elapsed().as_secs_f64();
    report.row(
        &format!(
            "idle panel and workers over {} (after 2 sites snapshotted, downloaded, deleted): CPU",
            secs(idle)
        ),
        1,
        format!("{:.2} % of a core", share * 100.0),
        format!("{} CPU", secs(used)),
        String::new(),
        format!("< 1 %: {}", verdict(share < TARGET_CPU)),
    );
    let queue = &app.plane.queue;
    match queue.counts().await {
        Ok(counts) => {
            // The queue's SQLite file and its write-ahead log.
            let bytes: u64 = ["mywp.db.queue", "mywp.db.queue-wal"]
                .iter()
                .map(|f| std::fs::metadata(app.dir.path().join(f)).map_or(0, |m| m.len()))
                .sum();
            report.notes.push(format!(
                "idle: after the run the job queue holds {} waiting and {} finished jobs (finished \
                 ones are deleted {} after they end); its SQLite file and log hold {:.0} KB",
                counts.waiting,
                counts.finished,
                secs(queue.settings().keep_finished),
                bytes as f64 / 1024.0
            ));
            if counts.waiting > 0 {
                report
                    .failures
                    .push(format!("idle: {} jobs still wait", counts.waiting));
            }
        }
        Err(e) => report.failures.push(format!("idle: the queue: {e}")),
    }
}
