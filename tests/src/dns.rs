//! A real DNS server of the test's own: dnsmasq (Debian's `dnsmasq-base`, installed by
//! `scripts/setup.sh test`) on 127.0.0.1 and a free port, answering the CNAME and TXT
//! records the test sets, and NXDOMAIN for every other name (`local=/#/`: it never asks
//! anyone else). dnsmasq reads CNAME and TXT records only at start, so each change writes
//! the config and restarts it, then waits until it answers.

use std::{
    collections::BTreeMap,
    net::{SocketAddr, TcpListener, UdpSocket},
    process::Stdio,
    time::Duration,
};

use mywp_jobs::{
    dns_lookup::DnsLookup,
    domain::{Answer, Challenge, ChallengeToken, Hostname},
    settings::Settings,
};
use tokio::process::{Child, Command};

/// The records a test's DNS server answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zone {
    /// name → CNAME target.
    pub cnames: BTreeMap<String, String>,
    /// name → TXT value.
    pub txts: BTreeMap<String, String>,
}

/// A running dnsmasq; stopped when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    zone: Zone,
    child: Option<Child>,
}

impl DnsServer {
    /// Starts a server with no records.
    pub async fn start() -> DnsServer {
        for _ in 0..5 {
            let mut server = DnsServer {
                addr: free_port(),
                dir: tempfile::tempdir().expect("a temporary directory"),
                zone: Zone::default(),
                child: None,
            };
            if server.restart().await.is_ok() {
                return server;
            }
        }
        panic!("dnsmasq did not start on any of 5 free ports (is dnsmasq-base installed?)");
    }

    /// Where it answers.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes `settings` ask this server for domains' ownership proofs.
    pub fn use_in(&self, settings: &mut Settings) {
        settings.domains.dns_resolver = Some(self.addr);
    }

    /// Points `name` at `target` with a CNAME.
    pub async fn set_cname(&mut self, name: &str, target: &str) {
        self.zone.cnames.insert(name.into(), target.into());
        self.apply().await;
    }

    /// Puts a TXT record with `value` at `name`.
    pub async fn set_txt(&mut self, name: &str, value: &str) {
        self.zone.txts.insert(name.into(), value.into());
        self.apply().await;
    }

    /// Removes every record at `name`.
    pub async fn remove(&mut self, name: &str) {
        self.zone.cnames.remove(name);
        self.zone.txts.remove(name);
        self.apply().await;
    }

    async fn apply(&mut self) {
        self.restart()
            .await
            .unwrap_or_else(|e| panic!("dnsmasq on {}: {e}", self.addr));
    }

    /// Writes the config and (re)starts dnsmasq on it; Ok once it answers.
    async fn restart(&mut self) -> Result<(), String> {
        if let Some(mut old) = self.child.take() {
            let _ = old.kill().await;
        }
        let conf = self.dir.path().join("dnsmasq.conf");
        std::fs::write(&conf, config(&self.zone)).map_err(|e| e.to_string())?;
        let bin = ["/usr/sbin/dnsmasq", "/sbin/dnsmasq"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("dnsmasq");
        let mut child = Command::new(bin)
            .arg("--keep-in-foreground")
            .arg(format!("--conf-file={}", conf.display()))
            .arg(format!(
                "--pid-file={}",
                self.dir.path().join("dnsmasq.pid").display()
            ))
            .arg(format!("--port={}", self.addr.port()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run {bin}: {e}"))?;
        // It answers once it has bound its port and read its records: NXDOMAIN for a name it
        // does not know, and "error" until then.
        let probe = DnsLookup::new(Some(self.addr));
        let challenge = Challenge::new(
            Hostname::parse("probe.invalid").unwrap(),
            Hostname::parse("probe.invalid").unwrap(),
            &ChallengeToken::from_stored("probe"),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = e.read_to_string(&mut err).await;
                }
                return Err(format!("dnsmasq exited ({status}): {err}"));
            }
            if probe.answers(&challenge).await.cname == Answer::Nothing {
                self.child = Some(child);
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill().await;
                return Err("dnsmasq did not answer within 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// dnsmasq's config for `zone`: only loopback, nothing forwarded, no hosts file, no cache.
fn config(zone: &Zone) -> String {
    let mut conf = String::from(
        "listen-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\nno-poll\n\
         cache-size=0\nlocal=/#/\nlog-facility=-\n",
    );
    for (name, target) in &zone.cnames {
        conf.push_str(&format!("cname={name},{target},1\n"));
    }
    for (name, value) in &zone.txts {
        conf.push_str(&format!("txt-record={name},\"{value}\"\n"));
    }
    conf
}

/// A loopback port free for both UDP and TCP right now.
fn free_port() -> SocketAddr {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        let addr = udp.local_addr().expect("its address");
        if TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
}
