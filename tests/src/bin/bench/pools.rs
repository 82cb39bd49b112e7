//! Part 7: php-fpm with `SITES` idle sites, each with its own pool as the files step writes
//! it (`render_pool`: its own user, `pm = ondemand`, open_basedir, its socket), under a
//! php-fpm master of the bench's own (not the data plane's): what the master holds in
//! memory (RSS and PSS, from /proc), that no child runs for an idle site, how long it takes
//! to start, and how long a new site's pool takes to answer after the reload that loads it.

use std::{
    os::unix::net::UnixStream,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use mywp_jobs::drivers::{
    local::{render_pool, FpmPools, SiteUser},
    SiteSpec,
};
use mywp_tests::dataplane;

use super::{log, secs, verdict, Report};

/// How many idle sites.
const SITES: i64 = 1000;
/// Site ids of the bench's pools: far above any real site's.
const FIRST_ID: i64 = 900_000_000;

/// A `/proc/<pid>/<file>` field in kB, e.g. `VmRSS` of `status` or `Pss` of `smaps_rollup`.
fn proc_kb(pid: u32, file: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(pid)
        })
        .count()
}

/// Waits (bounded) until `socket` accepts a connection: the time it took.
fn until_answers(socket: &Path, timeout: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    while UnixStream::connect(socket).is_err() {
        if start.elapsed() > timeout {
            return Err(format!("{} never answered", socket.display()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(start.elapsed())
}

fn spec(n: i64) -> SiteSpec {
    let slug = format!("bpool{n}");
    SiteSpec::parse(
        FIRST_ID + n,
        &slug,
        &format!("Pool {n}"),
        &format!("{slug}@example.com"),
        &[format!("{slug}.localhost")],
    )
    .expect("a bench site's spec")
}

pub async fn pools(report: &mut Report) {
    if let Err(e) = measure(report) {
        report.failures.push(format!("pools: {e}"));
    }
}

fn measure(report: &mut Report) -> Result<(), String> {
    let cfg = dataplane::config();
    let fpm_bin = ["/usr/sbin/php-fpm8.2", "/usr/sbin/php-fpm"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("no php-fpm in /usr/sbin")?;
    let dir = tempfile::tempdir_in(dataplane::state_dir()).map_err(|e| e.to_string())?;
    let fpm = FpmPools {
        pools_dir: dir.path().join("pools"),
        sockets_dir: dir.path().join("sockets"),
        pid_file: dir.path().join("php-fpm.pid"),
        max_children: 4,
        shared_dirs: String::new(),
    };
    for d in [&fpm.pools_dir, &fpm.sockets_dir] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let write_pool = |n: i64| -> Result<SiteSpec, String> {
        let site = spec(n);
        let user = SiteUser::of(&cfg, &site).map_err(|e| e.to_string())?;
        std::fs::write(fpm.pool_file(&site), render_pool(&cfg, &fpm, &site, user))
            .map_err(|e| e.to_string())?;
        Ok(site)
    };
    for n in 1..=SITES {
        write_pool(n)?;
    }
    let conf = dir.path().join("php-fpm.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\npid = {}\nerror_log = {}\ndaemonize = no\nprocess_control_timeout = 10s\n\
             include = {}/*.conf\n",
            fpm.pid_file.display(),
            dir.path().join("php-fpm.log").display(),
            fpm.pools_dir.display()
        ),
    )
    .map_err(|e| e.to_string())?;

    log(format!("pools: starting php-fpm with {SITES} site pools"));
    let started = Instant::now();
    let mut master = Command::new(fpm_bin)
        .arg("--fpm-config")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {fpm_bin}: {e}"))?;
    let pid = master.id();
    let outcome = (|| {
        until_answers(&fpm.socket(&spec(SITES)), Duration::from_secs(120))?;
        let start_time = started.elapsed();
        // Settled: every socket open, no child (ondemand).
        let rss = proc_kb(pid, "status", "VmRSS").ok_or("no VmRSS")?;
        let pss = proc_kb(pid, "smaps_rollup", "Pss").ok_or("no Pss")?;
        let idle_children = children(pid);
        report.row(
            &format!("php-fpm master with {SITES} idle site pools (ondemand): memory"),
            SITES as usize,
            format!("{:.1} MB RSS", rss as f64 / 1024.0),
            format!("{:.1} MB PSS", pss as f64 / 1024.0),
            format!("{idle_children} children"),
            format!("no process per idle site: {}", verdict(idle_children == 0)),
        );
        // A new site: its pool written, the master reloaded, until its socket answers.
        let new_site = write_pool(SITES + 1)?;
        let reload = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGUSR2,
        )
        .map_err(|e| e.to_string())?;
        let reloaded = until_answers(&fpm.socket(&new_site), Duration::from_secs(120))
            .map(|_| reload.elapsed())?;
        let rss_after = proc_kb(pid, "status", "VmRSS").unwrap_or(0);
        report.row(
            &format!("php-fpm with {SITES} site pools: start; a new site's pool answering after the reload"),
            1,
            secs(start_time),
            secs(reloaded),
            format!("{:.1} MB RSS after", rss_after as f64 / 1024.0),
            String::new(),
        );
        Ok::<_, String>(())
    })();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGQUIT,
    );
    let _ = master.wait();
    outcome
}
