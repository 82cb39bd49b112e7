//! The agent's passes against a stand-in nginx that refuses any block containing `BROKEN`.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};

use super::{Agent, Nginx, Report};

struct FakeNginx {
    sites: PathBuf,
    running: AtomicBool,
    /// When set, `nginx -t` fails whatever the site files are (a broken nginx.conf).
    broken_base: AtomicBool,
    tests: AtomicUsize,
    reloads: AtomicUsize,
}

impl Nginx for FakeNginx {
    async fn test(&self) -> Result<(), String> {
        self.tests.fetch_add(1, Ordering::SeqCst);
        if self.broken_base.load(Ordering::SeqCst) {
            return Err("[emerg] in nginx.conf".into());
        }
        for entry in fs::read_dir(&self.sites).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            if name.ends_with(".conf") && !name.starts_with('.') {
                let content = fs::read_to_string(&path).unwrap();
                if content.contains("BROKEN") {
                    return Err(format!("[emerg] unknown directive in {}:1", path.display()));
                }
            }
        }
        Ok(())
    }

    async fn reload(&self) -> Result<(), String> {
        if self.running.load(Ordering::SeqCst) {
            self.reloads.fetch_add(1, Ordering::SeqCst);
            Ok(())
        } else {
            Err("[error] open() \"nginx.pid\" failed (2: No such file or directory)".into())
        }
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    shared: PathBuf,
    local: PathBuf,
    agent: Agent<FakeNginx>,
}

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let shared = tmp.path().join("shared");
        let local = tmp.path().join("sites");
        fs::create_dir(&shared).unwrap();
        let agent = Agent::new(shared.clone(), local.clone(), fake(&local)).unwrap();
        Fixture {
            _tmp: tmp,
            shared,
            local,
            agent,
        }
    }

    fn nginx(&self) -> &FakeNginx {
        self.agent.nginx()
    }

    fn put(&self, name: &str, content: &str) {
        fs::write(self.shared.join(name), content).unwrap();
    }

    async fn pass(&mut self) -> Report {
        self.agent.pass().await.expect("the pass runs")
    }

    fn tests(&self) -> usize {
        self.nginx().tests.load(Ordering::SeqCst)
    }

    fn reloads(&self) -> usize {
        self.nginx().reloads.load(Ordering::SeqCst)
    }
}

fn fake(local: &Path) -> FakeNginx {
    FakeNginx {
        sites: local.to_path_buf(),
        running: AtomicBool::new(true),
        broken_base: AtomicBool::new(false),
        tests: AtomicUsize::new(0),
        reloads: AtomicUsize::new(0),
    }
}

/// Every file in `dir` (including hidden ones), with its content.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read_to_string(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, c)| (n.to_string(), c.to_string()))
        .collect()
}

#[tokio::test]
async fn copies_adds_changes_and_removals_and_reloads_only_when_something_changed() {
    let mut f = Fixture::new();
    f.put("a.conf", "A1");
    f.put("b.conf", "B");
    f.put("README", "not a block");
    f.put("Not_A_Site.conf", "skipped");
    fs::write(f.local.join("gone.conf"), "old").unwrap();
    fs::write(f.local.join("keep.txt"), "not the agent's").unwrap();

    let report = f.pass().await;
    assert_eq!(report.added, ["a.conf", "b.conf"]);
    assert_eq!(report.removed, ["gone.conf"]);
    assert!(report.reloaded);
    assert_eq!(
        files(&f.local),
        pairs(&[
            ("a.conf", "A1"),
            ("b.conf", "B"),
            ("keep.txt", "not the agent's")
        ])
    );
    assert_eq!((f.tests(), f.reloads()), (1, 1));

    let idle = f.pass().await;
    assert_eq!(idle, Report::default(), "nothing to do, nothing done");
    assert_eq!((f.tests(), f.reloads()), (1, 1));

    f.put("a.conf", "A2");
    fs::remove_file(f.shared.join("b.conf")).unwrap();
    let report = f.pass().await;
    assert_eq!(report.changed, ["a.conf"]);
    assert_eq!(report.removed, ["b.conf"]);
    assert_eq!(
        files(&f.local),
        pairs(&[("a.conf", "A2"), ("keep.txt", "not the agent's")])
    );
    assert_eq!(f.reloads(), 2);
}

#[tokio::test]
async fn a_broken_block_is_rejected_alone_and_not_retried_until_it_changes() {
    let mut f = Fixture::new();
    for name in ["a", "b", "c", "d", "e", "f", "g"] {
        f.put(&format!("{name}.conf"), &format!("site {name}"));
    }
    f.put("c.conf", "BROKEN c");
    f.put("f.conf", "BROKEN f");
    let report = f.pass().await;
    assert_eq!(
        report.added,
        ["a.conf", "b.conf", "d.conf", "e.conf", "g.conf"]
    );
    let rejected: Vec<_> = report.rejected.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(rejected, ["c.conf", "f.conf"]);
    assert!(report.rejected[0].1.contains("c.conf"), "{report:?}");
    assert!(report.reloaded);
    let local: Vec<_> = files(&f.local).into_iter().map(|(n, _)| n).collect();
    assert_eq!(local, ["a.conf", "b.conf", "d.conf", "e.conf", "g.conf"]);

    let tests = f.tests();
    assert_eq!(f.pass().await, Report::default());
    assert_eq!(f.tests(), tests, "a rejected content is not tested again");

    // A good block that turns broken keeps its last good version.
    f.put("a.conf", "BROKEN a");
    let report = f.pass().await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(!report.reloaded, "nothing applied, no reload");
    assert_eq!(
        fs::read_to_string(f.local.join("a.conf")).unwrap(),
        "site a"
    );

    // Fixed: applied on the next pass.
    f.put("c.conf", "site c, fixed");
    f.put("a.conf", "site a, fixed");
    let report = f.pass().await;
    assert_eq!(report.added, ["c.conf"]);
    assert_eq!(report.changed, ["a.conf"]);
    assert!(report.rejected.is_empty());

    // A rejected file deleted from the shared directory is simply gone.
    fs::remove_file(f.shared.join("f.conf")).unwrap();
    assert_eq!(f.pass().await, Report::default());
}

#[tokio::test]
async fn an_unlistable_shared_dir_changes_nothing() {
    let mut f = Fixture::new();
    f.put("a.conf", "A");
    f.pass().await;
    let moved = f.shared.with_file_name("moved");
    fs::rename(&f.shared, &moved).unwrap();
    let reloads = f.reloads();
    assert!(f.agent.pass().await.is_err());
    assert!(f.agent.pass().await.is_err());
    assert_eq!(files(&f.local), pairs(&[("a.conf", "A")]));
    assert_eq!(f.reloads(), reloads);

    fs::rename(&moved, &f.shared).unwrap();
    assert_eq!(f.pass().await, Report::default());
}

#[tokio::test]
async fn when_nginx_t_fails_without_the_new_blocks_nothing_is_blamed() {
    let mut f = Fixture::new();
    f.put("a.conf", "A");
    f.nginx().broken_base.store(true, Ordering::SeqCst);
    let report = f.pass().await;
    assert_eq!(report.held_back, ["a.conf"]);
    assert!(report.rejected.is_empty() && !report.applied());
    assert!(files(&f.local).is_empty(), "{:?}", files(&f.local));

    f.nginx().broken_base.store(false, Ordering::SeqCst);
    let report = f.pass().await;
    assert_eq!(report.added, ["a.conf"]);
}

#[tokio::test]
async fn files_are_synced_while_nginx_is_down_and_it_is_reloaded_once_it_is_up() {
    let mut f = Fixture::new();
    f.nginx().running.store(false, Ordering::SeqCst);
    f.put("a.conf", "A");
    let report = f.pass().await;
    assert_eq!(report.added, ["a.conf"]);
    assert!(report.reload_error.is_some());
    assert!(f.pass().await.reload_error.is_some(), "retried every pass");

    // A new agent (restarted) still knows a reload is owed.
    let mut f2 = Fixture {
        agent: Agent::new(f.shared.clone(), f.local.clone(), fake(&f.local)).unwrap(),
        ..f
    };
    let report = f2.pass().await;
    assert!(report.reloaded, "{report:?}");
    assert_eq!(f2.reloads(), 1);
    assert_eq!(f2.pass().await, Report::default(), "reloaded once only");
    assert_eq!(
        files(&f2.local),
        pairs(&[("a.conf", "A")]),
        "marker cleared"
    );
}

#[tokio::test]
async fn the_shared_and_local_dirs_must_differ() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    assert!(Agent::new(dir.clone(), dir.join("."), fake(&dir)).is_err());
}
