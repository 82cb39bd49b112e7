//! Snapshots of a real site whose tenant attacks them (issue 9, point 4): links to `/etc`
//! and to the panel's state directory planted in wp-content, a directory swapped for such a
//! link while snapshots are taken and restored, again and again, and a dump whose load
//! would run a shell command. The archives hold the site's own files only, `/etc` and the
//! state directory keep their owners and modes, and no command runs.

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::fs::{lchown, symlink, MetadataExt},
    path::{Path, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use mywp_jobs::domain::{OpState, SiteSlug, SnapshotFacts, SnapshotKind};
use mywp_tests::{
    dataplane::{config, wait_for_title},
    unique, wait_for, TestApp,
};
use sha2::Digest;

const LIVE: Duration = Duration::from_secs(120);
const WORK: Duration = Duration::from_secs(90);

/// Owner and mode of each entry of `dir` (not times: other tests add users and sites).
fn fingerprint(dir: &Path) -> BTreeMap<String, (u32, u32, u32)> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                (m.uid(), m.gid(), m.mode()),
            ))
        })
        .collect()
}

/// What did not change among the entries present both times.
fn unchanged(
    before: &BTreeMap<String, (u32, u32, u32)>,
    after: &BTreeMap<String, (u32, u32, u32)>,
) {
    for (name, was) in before {
        if let Some(now) = after.get(name) {
            assert_eq!(was, now, "{name} changed owner or mode");
        }
    }
}

/// The names an archive holds (GNU tar lists it).
fn archive_names(archive: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .args(["--list", "--gzip", "--file"])
        .arg(archive)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Swaps each of `victims` (directories) for a link to each target, until stopped.
fn swapper(
    victims: Vec<PathBuf>,
    targets: Vec<PathBuf>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut swaps = 0;
        while !stop.load(Ordering::Relaxed) {
            for victim in &victims {
                let aside = victim.with_extension("aside");
                for target in &targets {
                    if std::fs::rename(victim, &aside).is_ok() {
                        if symlink(target, victim).is_ok() {
                            swaps += 1;
                            std::thread::yield_now();
                            let _ = std::fs::remove_file(victim);
                        }
                        let _ = std::fs::rename(&aside, victim);
                    }
                }
            }
            std::thread::yield_now();
        }
        swaps
    })
}

/// Asks for a snapshot and waits (bounded) until it is done.
async fn snapshot(app: &TestApp, site_id: i64) -> i64 {
    let store = &app.plane.store;
    let row = store
        .request_snapshot(site_id, SnapshotKind::Manual, None)
        .await
        .unwrap();
    app.plane
        .queue
        .enqueue(site_id, Duration::ZERO)
        .await
        .unwrap();
    wait_for("the snapshot", WORK, || async {
        match store.snapshot(row.id).await.unwrap() {
            Some(s) if s.state == OpState::Done => Ok(()),
            Some(s) if s.state == OpState::Failed => panic!("the snapshot failed: {s:?}"),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    row.id
}

/// Restores snapshot `id` and waits (bounded) until the restore ends; its error, if any.
async fn restore(app: &TestApp, site_id: i64, id: i64) -> Option<String> {
    let store = &app.plane.store;
    let row = store.request_restore(site_id, id, None).await.unwrap();
    app.plane
        .queue
        .enqueue(site_id, Duration::ZERO)
        .await
        .unwrap();
    wait_for("the restore", WORK, || async {
        let all = store.restores_of(site_id, 50).await.unwrap();
        let r = all.into_iter().find(|r| r.id == row.id).unwrap();
        match r.state {
            OpState::Done | OpState::Failed => Ok(r.error),
            _ => Err(format!("{r:?}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_turn_snapshots_against_the_host() {
    let app = TestApp::spawn().await;
    let cfg = config();
    let ann = app.new_customer().await;
    let slug = unique("atk");
    let title = format!("Attacked {slug}");
    ann.create_site(&title, &slug).await;
    ann.wait_status(&slug, "live", LIVE).await;
    let site = app.plane.store.site_by_slug(&slug).await.unwrap().unwrap();
    let content = cfg
        .site_dir(&SiteSlug::from_stored(&slug).unwrap())
        .join("wp-content");
    let owner = std::fs::symlink_metadata(&content).unwrap();
    let (uid, gid) = (owner.uid(), owner.gid());
    let state = cfg.state_dir.clone();

    // What the tenant's PHP can make: its own files, and links to anywhere.
    let uploads = content.join("uploads");
    std::fs::write(uploads.join("mine.txt"), "the site's").unwrap();
    symlink("/etc", content.join("etc-link")).unwrap();
    symlink(&state, content.join("state-link")).unwrap();
    symlink(state.join("master.key"), uploads.join("key.txt")).unwrap();
    for p in [
        uploads.join("mine.txt"),
        content.join("etc-link"),
        content.join("state-link"),
        uploads.join("key.txt"),
    ] {
        lchown(&p, Some(uid), Some(gid)).unwrap();
    }
    let own_uploads: BTreeSet<String> = std::fs::read_dir(&uploads)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();

    let first = snapshot(&app, site.id).await;
    let vault = |id: i64| {
        cfg.state_dir
            .join("snapshots")
            .join(&slug)
            .join(id.to_string())
    };
    let names = archive_names(&vault(first).join("files.tar.gz"));
    for link in ["./etc-link", "./state-link", "./uploads/key.txt"] {
        assert!(names.contains(&link.to_string()), "{link}: {names:?}");
    }
    assert!(!names
        .iter()
        .any(|n| n.starts_with("./etc-link/") || n.starts_with("./state-link/")));

    // uploads/ swapped for a link to /etc and to the state directory while snapshots are
    // taken, and while restores unpack (the restore's own uploads/ too).
    let before = (fingerprint(Path::new("/etc")), fingerprint(&state));
    let stop = Arc::new(AtomicBool::new(false));
    let racer = swapper(
        vec![
            uploads.clone(),
            content
                .with_file_name("wp-content.restoring")
                .join("uploads"),
        ],
        vec!["/etc".into(), state.clone()],
        Arc::clone(&stop),
    );
    // The newest snapshot: retention prunes the oldest manual ones as the loop takes more.
    let mut last = first;
    for _ in 0..20 {
        let id = snapshot(&app, site.id).await;
        last = id;
        for name in archive_names(&vault(id).join("files.tar.gz")) {
            if let Some(rest) = name.strip_prefix("./uploads/") {
                let top = rest.split('/').next().unwrap();
                assert!(
                    top.is_empty() || own_uploads.contains(top),
                    "{name} is not the site's: the walk followed a link"
                );
            }
        }
    }
    for _ in 0..5 {
        // A restore the race broke fails and puts the site back: either is fine here.
        let _ = restore(&app, site.id, last).await;
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = racer.join().unwrap();
    assert!(swaps > 0, "the race ran");
    unchanged(&before.0, &fingerprint(Path::new("/etc")));
    unchanged(&before.1, &fingerprint(&state));
    assert!(!Path::new("/etc/mine.txt").exists() && !state.join("mine.txt").exists());
    let shadow = std::fs::metadata("/etc/shadow").unwrap();
    assert_eq!(shadow.uid(), 0, "/etc/shadow is still root's");
    wait_for_title(&slug, &title).await;

    // A dump whose load would run a shell command, were client commands read from it.
    let pwned = std::env::temp_dir().join(unique("pwned"));
    let evil = app
        .plane
        .store
        .request_snapshot(site.id, SnapshotKind::PreRestore, None)
        .await
        .unwrap();
    let dir = vault(evil.id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("database.sql"),
        format!(
            "CREATE TABLE wp_evil (id INT);\n\\! touch {}\nSELECT 1;\n",
            pwned.display()
        ),
    )
    .unwrap();
    assert!(Command::new("gzip")
        .arg(dir.join("database.sql"))
        .status()
        .unwrap()
        .success());
    std::fs::copy(vault(last).join("files.tar.gz"), dir.join("files.tar.gz")).unwrap();
    let sha =
        |name: &str| hex::encode(sha2::Sha256::digest(std::fs::read(dir.join(name)).unwrap()));
    let facts = SnapshotFacts {
        database_bytes: 1,
        database_sha256: sha("database.sql.gz"),
        files_bytes: 1,
        files_sha256: sha("files.tar.gz"),
    };
    app.plane
        .store
        .finish_snapshot(evil.id, &facts)
        .await
        .unwrap();
    let error = restore(&app, site.id, evil.id).await;
    assert!(
        !pwned.exists(),
        "the dump ran a command (restore: {error:?})"
    );
    wait_for_title(&slug, &title).await;

    ann.call("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    ann.wait_gone(&slug, LIVE).await;
    app.stop().await;
}
