//! Asks DNS what proves a customer's domain (`domain::ownership`): its CNAME, and the TXT
//! records at its challenge name. Through hickory-resolver, with the configured resolver
//! (`MYWP_DNS_RESOLVER`) or the system's (`/etc/resolv.conf`), and no cache: every check
//! sees what DNS says now.

use std::{net::SocketAddr, time::Duration};

use hickory_resolver::{
    config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts},
    net::{runtime::TokioRuntimeProvider, NetError},
    proto::rr::{RData, RecordType},
    TokioResolver,
};

use crate::domain::{Answer, Answers, Challenge};

/// How long one query waits for an answer, per try.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A DNS client for ownership checks.
#[derive(Clone)]
pub struct DnsLookup {
    resolver: Result<TokioResolver, String>,
}

impl std::fmt::Debug for DnsLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsLookup")
    }
}

impl DnsLookup {
    /// Asks `server` (UDP, then TCP for long answers), or with `None` the system's
    /// resolvers. A system configuration that cannot be read makes every lookup fail with
    /// the reason (the checks then say so) rather than stopping the workers.
    pub fn new(server: Option<SocketAddr>) -> Self {
        let provider = TokioRuntimeProvider::default();
        let builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                Ok(TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    provider,
                ))
            }
            None => TokioResolver::builder(provider)
                .map_err(|e| format!("the system's DNS configuration cannot be read: {e}")),
        };
        let resolver = builder.and_then(|mut b| {
            let opts: &mut ResolverOpts = b.options_mut();
            opts.cache_size = 0;
            opts.timeout = TIMEOUT;
            opts.attempts = 2;
            opts.use_hosts_file = ResolveHosts::Never;
            b.build()
                .map_err(|e| format!("the DNS resolver cannot start: {e}"))
        });
        Self { resolver }
    }

    /// What DNS says about `challenge`'s two records.
    pub async fn answers(&self, challenge: &Challenge) -> Answers {
        let resolver = match &self.resolver {
            Ok(r) => r,
            Err(e) => {
                return Answers {
                    cname: Answer::Error(e.clone()),
                    txt: Answer::Error(e.clone()),
                }
            }
        };
        let domain = format!("{}.", challenge.domain);
        let txt_name = format!("{}.", challenge.txt_name);
        let (cname, txt) = tokio::join!(
            resolver.lookup(domain.as_str(), RecordType::CNAME),
            resolver.lookup(txt_name.as_str(), RecordType::TXT),
        );
        Answers {
            cname: answer(cname, |data| match data {
                RData::CNAME(target) => Some(target.0.to_ascii()),
                _ => None,
            }),
            txt: answer(txt, |data| match data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part))
                        .collect::<String>(),
                ),
                _ => None,
            }),
        }
    }
}

/// A lookup's records as text, "nothing" for a name or type that does not exist, else
/// the error.
fn answer(
    lookup: Result<hickory_resolver::lookup::Lookup, NetError>,
    text: impl Fn(&RData) -> Option<String>,
) -> Answer {
    match lookup {
        Ok(found) => {
            let records: Vec<String> = found
                .answers()
                .iter()
                .filter_map(|r| text(&r.data))
                .collect();
            if records.is_empty() {
                Answer::Nothing
            } else {
                Answer::Found(records)
            }
        }
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Answer::Nothing,
        Err(e) => Answer::Error(e.to_string()),
    }
}
