//! This node's nginx: `nginx -t` and `nginx -s reload`, with the operator's `-p`, `-e`, `-c`.

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
    /// Passed as `-e` when set.
    pub error_log: Option<PathBuf>,
    /// How long one `nginx -t` or reload may take before it is killed and counted as failed.
    pub timeout: Duration,
}

impl NginxCli {
    async fn run(&self, args: &[&str]) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new(&self.bin);
        if let Some(prefix) = &self.prefix {
            cmd.arg("-p").arg(prefix);
        }
        if let Some(error_log) = &self.error_log {
            cmd.arg("-e").arg(error_log);
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
            let message = one_line(&String::from_utf8_lossy(&out.stderr));
            Err(if message.is_empty() {
                format!("{what} failed ({})", out.status)
            } else {
                message
            })
        }
    }
}

/// nginx's messages on one log line, without its closing "configuration file … test failed".
fn one_line(stderr: &str) -> String {
    stderr
        .lines()
        .map(|line| line.trim().trim_start_matches("nginx: ").trim())
        .filter(|line| !line.is_empty() && !line.ends_with("test failed"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Nginx for NginxCli {
    async fn test(&self) -> Result<(), String> {
        self.run(&["-t", "-q"]).await
    }

    async fn reload(&self) -> Result<(), String> {
        self.run(&["-s", "reload"]).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_fit_on_one_line() {
        let stderr = "nginx: [emerg] unknown directive \"retrun\" in /x/sites/b.conf:1\n\
                      nginx: configuration file /x/nginx.conf test failed\n";
        assert_eq!(
            super::one_line(stderr),
            "[emerg] unknown directive \"retrun\" in /x/sites/b.conf:1"
        );
        assert_eq!(
            super::one_line("nginx: [warn] a\nnginx: [emerg] b\n"),
            "[warn] a; [emerg] b"
        );
        assert_eq!(super::one_line(""), "");
    }
}
