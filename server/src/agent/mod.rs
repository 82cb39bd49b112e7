//! `mywp agent`: runs on every web node of the AWS shape and keeps the node's nginx serving
//! exactly the sites' server blocks the provisioning worker writes to the shared file system.
//!
//! - **Polling.** Every `--interval-ms` the agent lists the shared directory (on EFS) and
//!   compares it by content with the local directory nginx includes. EFS is NFS: inotify
//!   does not see other clients' writes, so there is nothing to wait on.
//! - **A local copy.** nginx reads its configuration from local disk, so a node keeps serving
//!   (and can start) when EFS is slow or away, and every block it loads has passed `nginx -t`
//!   here first.
//! - **The local directory is the agent's.** Every file in it named like a site file
//!   (`<slug>.conf`, see [`is_site_file`]) is the agent's to write, replace and delete;
//!   anything else in it is left alone, but put other configuration elsewhere.
//! - **Nothing is deleted on doubt.** When the shared directory cannot be listed the pass is
//!   skipped; a site file that cannot be read completely keeps its local copy.
//! - **Broken blocks are isolated.** A change set is applied whole if `nginx -t` accepts it;
//!   otherwise its files are admitted group by group (a refused group is halved) and each
//!   file nginx refuses on its own is left out, logged with nginx's message and remembered by
//!   content hash until its content changes. nginx reloads only when something was applied.

mod dirs;
mod nginx;
mod plan;
mod sync;
#[cfg(test)]
mod tests;

use std::{future::Future, path::PathBuf, time::Duration};

use clap::Args;

pub use nginx::{Nginx, NginxCli};
pub use plan::{is_site_file, plan, ChangeSet, Shared};
pub use sync::{Agent, Report};

/// `mywp agent`'s flags (it needs no control-plane database: the global flags do not apply).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Agent options")]
pub struct AgentArgs {
    /// The shared directory the provisioning worker writes `<slug>.conf` server blocks to,
    /// e.g. /mnt/efs/nginx. Use a directory inside the mount: an unmounted file system then
    /// shows as a missing directory (pass skipped), not as an empty one (every site removed).
    #[arg(long, env = "MYWP_AGENT_SHARED_DIR")]
    pub shared_dir: PathBuf,

    /// The local directory this node's nginx includes (`include <dir>/*.conf;`), created if
    /// missing. The agent owns it: a `<slug>.conf` there that the shared directory does not
    /// have is deleted.
    #[arg(long, env = "MYWP_AGENT_NGINX_SITES_DIR")]
    pub nginx_sites_dir: PathBuf,

    /// The nginx binary, for `nginx -t` and `nginx -s reload`.
    #[arg(long, env = "MYWP_AGENT_NGINX_BIN", default_value = "nginx")]
    pub nginx_bin: PathBuf,

    /// nginx's main configuration file, passed as `-c` (default: nginx's own).
    #[arg(long, env = "MYWP_AGENT_NGINX_CONF")]
    pub nginx_conf: Option<PathBuf>,

    /// nginx's prefix, passed as `-p` (default: nginx's own).
    #[arg(long, env = "MYWP_AGENT_NGINX_PREFIX")]
    pub nginx_prefix: Option<PathBuf>,

    /// nginx's error log before it has read its configuration, passed as `-e` (for an nginx
    /// that is not run as root and cannot open the default one).
    #[arg(long, env = "MYWP_AGENT_NGINX_ERROR_LOG")]
    pub nginx_error_log: Option<PathBuf>,

    /// Milliseconds between two passes.
    #[arg(long, env = "MYWP_AGENT_INTERVAL_MS", default_value_t = 2000)]
    pub interval_ms: u64,

    /// Sync once and exit (for boot scripts): fails when the shared directory cannot be read.
    #[arg(long, env = "MYWP_AGENT_ONCE")]
    pub once: bool,
}

impl AgentArgs {
    pub fn nginx(&self) -> NginxCli {
        NginxCli {
            bin: self.nginx_bin.clone(),
            prefix: self.nginx_prefix.clone(),
            conf: self.nginx_conf.clone(),
            error_log: self.nginx_error_log.clone(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Runs the agent: one pass with `--once`, else a pass every interval until `shutdown`
/// completes (a pass under way is finished first, so no half-isolated change is left).
pub async fn run(
    args: AgentArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut agent = Agent::new(
        args.shared_dir.clone(),
        args.nginx_sites_dir.clone(),
        args.nginx(),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot use the local directory {}: {e}",
            args.nginx_sites_dir.display()
        )
    })?;
    if args.once {
        let report = agent
            .pass()
            .await
            .map_err(|e| anyhow::anyhow!("nothing synced: {e}"))?;
        let mut summary = format!(
            "Synced: {} added, {} changed, {} removed",
            report.added.len(),
            report.changed.len(),
            report.removed.len()
        );
        if !report.rejected.is_empty() || !report.held_back.is_empty() {
            summary += &format!(
                "; {} refused by nginx -t, {} held back (see the log)",
                report.rejected.len(),
                report.held_back.len()
            );
        }
        match report.reload_error {
            Some(e) => println!("{summary}; nginx did not reload (is it running?): {e}"),
            None => println!("{summary}."),
        }
        return Ok(());
    }
    // Spawned now, so the signal handlers are installed before the first pass.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    tracing::info!(
        shared = %args.shared_dir.display(),
        local = %args.nginx_sites_dir.display(),
        interval_ms = args.interval_ms,
        "agent started"
    );
    let interval = Duration::from_millis(args.interval_ms.max(50));
    loop {
        let _ = agent.pass().await;
        tokio::select! {
            _ = stop_rx.wait_for(|stop| *stop) => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    tracing::info!("agent stopped");
    Ok(())
}
