//! Part 4: how long a site's snapshot and its restore take, with `UPLOAD_MB` MB of uploads
//! (incompressible, as photos are) besides WordPress's fresh database, and whether the
//! workers hold the files in memory (this process's peak resident size).

use std::time::{Duration, Instant};

use mywp_tests::{dataplane, unique, TestApp};
use serde_json::Value;

use super::{log, quantile, secs, Report, LIVE_TIMEOUT};

const RUNS: usize = 3;
const UPLOAD_MB: usize = 100;

/// This process's peak resident set size, in MB (`getrusage`).
fn peak_rss_mb() -> f64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|u| u.max_rss() as f64 / 1024.0)
        .unwrap_or(0.0)
}

/// Waits until the newest snapshot or restore (`list`) is done; its row.
async fn wait_done(c: &mywp_tests::Customer, slug: &str, list: &str) -> Result<Value, String> {
    let start = Instant::now();
    loop {
        let (_, body) = c.site(slug).await;
        let row = body["backups"][list][0].clone();
        match row["state"].as_str() {
            Some("done") => return Ok(row),
            Some("failed") => return Err(format!("{slug}: {list} failed: {row}")),
            _ if start.elapsed() > LIVE_TIMEOUT => {
                return Err(format!("{slug}: {list} not done in time: {row}"))
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

pub async fn snapshots(app: &TestApp, report: &mut Report) {
    let c = app.new_customer().await;
    let slug = unique("bsnap");
    let title = format!("Bench Snapshot {slug}");
    c.create_site(&title, &slug).await;
    c.wait_status(&slug, "live", LIVE_TIMEOUT).await;
    let uploads = dataplane::config()
        .site_dir(&mywp_jobs::domain::SiteSlug::from_stored(&slug).unwrap())
        .join("wp-content/uploads/bench");
    std::fs::create_dir_all(&uploads).expect("the uploads directory");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..UPLOAD_MB {
        let bytes: Vec<u8> = (0..1024 * 1024)
            .map(|_| {
                // xorshift: cheap bytes gzip cannot shrink.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(uploads.join(format!("photo-{i}.jpg")), bytes).expect("an upload");
    }
    let rss_before = peak_rss_mb();
    let (mut takes, mut restores) = (Vec::new(), Vec::new());
    let mut size = 0;
    for run in 0..RUNS {
        let start = Instant::now();
        let (status, body) = c.call_json("take_snapshot", &[("slug", &slug)]).await;
        if status != 200 {
            report
                .failures
                .push(format!("take_snapshot: {status} {body}"));
            return;
        }
        match wait_done(&c, &slug, "snapshots").await {
            Ok(row) => {
                takes.push(start.elapsed());
                size = row["database_bytes"].as_i64().unwrap_or(0)
                    + row["files_bytes"].as_i64().unwrap_or(0);
                let id = row["id"].as_i64().unwrap_or(0).to_string();
                let start = Instant::now();
                let (status, body) = c
                    .call_json("restore_snapshot", &[("slug", &slug), ("snapshot_id", &id)])
                    .await;
                if status != 200 {
                    report
                        .failures
                        .push(format!("restore_snapshot: {status} {body}"));
                    return;
                }
                match wait_done(&c, &slug, "restores").await {
                    Ok(_) => restores.push(start.elapsed()),
                    Err(e) => report.failures.push(e),
                }
            }
            Err(e) => report.failures.push(e),
        }
        log(format!("snapshots {}/{RUNS}", run + 1));
    }
    let mb = size as f64 / 1e6;
    report.row(
        &format!(
            "snapshot of a site with {UPLOAD_MB} MB of uploads ({mb:.0} MB stored): request → done"
        ),
        takes.len(),
        secs(quantile(&takes, 0.5)),
        secs(quantile(&takes, 0.95)),
        secs(quantile(&takes, 1.0)),
        String::new(),
    );
    report.row(
        "  its restore (a safety snapshot first, then database and files): request → done",
        restores.len(),
        secs(quantile(&restores, 0.5)),
        secs(quantile(&restores, 0.95)),
        secs(quantile(&restores, 1.0)),
        String::new(),
    );
    report.notes.push(format!(
        "snapshots: the bench process (panel and workers) peaked at {:.0} MB resident before \
         the snapshots and {:.0} MB after {} snapshots and restores of {mb:.0} MB each: the \
         files are streamed, never held in memory",
        rss_before,
        peak_rss_mb(),
        takes.len() + restores.len()
    ));
    let (status, body) = c
        .call_json("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    if status != 200 {
        report
            .failures
            .push(format!("delete_site: {status} {body}"));
    }
}
