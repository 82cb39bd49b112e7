//! This node's nginx: `nginx -t` and `nginx -s reload`, with the operator's `-p` and `-c`.

use std::{future::Future, path::PathBuf, process::Stdio, time::Duration};

/// What the agent needs of nginx; a test double stands in for it in unit tests.
pub trait Nginx: Send + Sync {
    /// Tests the whole configuration (`nginx -t`): `Err` carries nginx's message.
    fn test(&self) -> impl Future<Output = Result<(), String>> + Send;
    /// Asks the running master to reload (`nginx -s reload`): `Err` carries nginx's message
    /// (for instance that it is not running).
    fn reload(&self) -> impl Future<Output = Result<(), String>> + Send;
}

/// The real nginx binary.
#[derive(Debug, Clone)]
pub struct NginxCli {
    pub bin: PathBuf,
    /// Passed as `-p` when set.
    pub prefix: Option<PathBuf>,
    /// Passed as `-c` when set.
    pub conf: Option<PathBuf>,
    /// How long one `nginx -t` or reload may take before it is killed and counted as failed.
    pub timeout: Duration,
}

impl NginxCli {
    async fn run(&self, args: &[&str]) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        if let Some(prefix) = &self.prefix {
            cmd.arg("-p").arg(prefix);
        }
        if let Some(conf) = &self.conf {
            cmd.arg("-c").arg(conf);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let what = format!("{} {}", self.bin.display(), args.join(" "));
        let out = tokio::time::timeout(self.timeout, cmd.output())
            .await
            .map_err(|_| format!("{what} did not finish in {:?}", self.timeout))?
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let message = stderr.trim();
            Err(if message.is_empty() {
                format!("{what} failed ({})", out.status)
            } else {
                message.to_string()
            })
        }
    }
}

impl Nginx for NginxCli {
    async fn test(&self) -> Result<(), String> {
        self.run(&["-t", "-q"]).await
    }

    async fn reload(&self) -> Result<(), String> {
        self.run(&["-s", "reload"]).await
    }
}
