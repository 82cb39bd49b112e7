//! The wordpress step: the site's nginx server block, WordPress installed into the site's
//! database (title, owner as admin), and the proof that it is live: its hostname answers
//! 200 with its title.

use std::{
    net::SocketAddr,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{fpm::open_basedir, nginx, site_user::SiteUser, LocalConfig};
use crate::drivers::{Driver, Ensured, Removed, SiteSpec, StepError};

/// How long the CLI install may take before it counts as hung.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(180);

/// The wordpress step's driver.
pub struct WordPressDriver {
    cfg: Arc<LocalConfig>,
}

impl WordPressDriver {
    pub fn new(cfg: Arc<LocalConfig>) -> Self {
        Self { cfg }
    }

    async fn ensure_site(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        let cfg = &*self.cfg;
        if site.title.trim().is_empty() {
            return Err(StepError::permanent("the site needs a title"));
        }
        if !site.owner_email.contains('@') || site.owner_email.chars().any(char::is_control) {
            return Err(StepError::permanent(format!(
                "{:?} is not an email address",
                site.owner_email
            )));
        }
        if !cfg.site_config(&site.slug).is_file() {
            return Err(StepError::transient(
                "the site's files are not ready yet (files step)",
            ));
        }
        let changed = nginx::apply(cfg, site).await?;
        install(cfg, site).await?;
        // Live means the site's address answers: its primary domain once it has one (the
        // platform hostname then redirects there).
        let home = cfg.addressing.home_host(site);
        let url = format!("{}/", cfg.addressing.home_url(site));
        let deadline = Instant::now() + cfg.health_timeout;
        let mut reloaded = changed;
        loop {
            let seen = match probe(cfg, &home).await {
                Ok((200, body)) if title_matches(&body, &site.title) => {
                    return Ok(Ensured::Done { resource: url });
                }
                Ok((200, _)) => "200 without the site's title".to_string(),
                Ok((status, _)) => format!("HTTP {status}"),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(StepError::Transient(format!(
                    "{url} is not live yet: it answered {seen}"
                )));
            }
            // The block was already in place but the site does not answer: perhaps a worker
            // died between writing it and reloading nginx. Reload once.
            if !reloaded {
                nginx::force_reload(cfg).await?;
                reloaded = true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn remove_site(&self, site: &SiteSpec) -> Result<(), StepError> {
        let cfg = &*self.cfg;
        nginx::remove(cfg, site).await?;
        // The hostname must stop serving the site: nginx's default server answers 404 once
        // the reload has reached every worker.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let seen = match probe(cfg, &cfg.addressing.platform_host(&site.slug)).await {
                Ok((404, _)) => return Ok(()),
                Ok((status, _)) => format!("HTTP {status}"),
                // nginx does not answer at all: nothing serves the site.
                Err(_) => return Ok(()),
            };
            if Instant::now() >= deadline {
                return Err(StepError::Transient(format!(
                    "{} still answers after removing its server block: {seen}",
                    cfg.addressing.platform_host(&site.slug)
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Driver for WordPressDriver {
    async fn ensure(&self, site: &SiteSpec) -> Result<Ensured, StepError> {
        self.ensure_site(site).await
    }

    async fn remove(&self, site: &SiteSpec) -> Result<Removed, StepError> {
        self.remove_site(site).await.map(|()| Removed::Gone)
    }
}

/// Runs dataplane's install.php with the PHP CLI as the site's user (so anything WordPress
/// writes into wp-content is the site's), confined to the site's open_basedir where it has
/// its own pool. Idempotent: an installed site only gets its title.
async fn install(cfg: &LocalConfig, site: &SiteSpec) -> Result<(), StepError> {
    let user = SiteUser::of(cfg, site)?;
    let php_dir = &cfg.dataplane_php_dir;
    let host = cfg
        .addressing
        .home_url(site)
        .trim_start_matches("http://")
        .to_string();
    let mut cmd = tokio::process::Command::new(&cfg.php_bin);
    // No opcode file cache: one shared by the sites would let one site's PHP plant code
    // another site's install runs.
    cmd.arg("-d").arg("opcache.enable_cli=0");
    if let Some(pools) = &cfg.fpm {
        let dir = cfg.site_dir(&site.slug);
        cmd.arg("-d")
            .arg(format!(
                "open_basedir={}",
                open_basedir(cfg, &pools.shared_dirs, site)
            ))
            .arg("-d")
            .arg(format!("sys_temp_dir={}", dir.join("tmp").display()));
    }
    cmd.arg("-d")
        .arg(format!(
            "auto_prepend_file={}",
            php_dir.join("prepend.php").display()
        ))
        .arg("-d")
        .arg("display_errors=stderr")
        .arg(php_dir.join("install.php"))
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("MYWP_SITE_CONFIG", cfg.site_config(&site.slug))
        .env("MYWP_SITE_TITLE", &site.title)
        .env("MYWP_ADMIN_EMAIL", &site.owner_email)
        .env("MYWP_SITE_HOST", host)
        .current_dir(&cfg.wordpress_core)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    user.command(&mut cmd);
    let out = tokio::time::timeout(INSTALL_TIMEOUT, cmd.output())
        .await
        .map_err(|_| StepError::transient("the WordPress install timed out"))?
        .map_err(|e| StepError::transient(format!("cannot run {}: {e}", cfg.php_bin.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && stdout.contains("MYWP-INSTALL-OK") {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let detail = shorten(&format!("{} {}", strip_tags(&stdout), stderr.trim()), 400);
    let message = format!("the WordPress install failed ({}): {detail}", out.status);
    if out.status.code() == Some(2) {
        Err(StepError::Permanent(message))
    } else {
        // Typically the database is not reachable yet: worth a retry.
        Err(StepError::Transient(message))
    }
}

/// The address the site's requests go to (`probe_address`), resolved now: a load
/// balancer's addresses change.
async fn probe_addr(cfg: &LocalConfig) -> Result<SocketAddr, String> {
    tokio::net::lookup_host(&cfg.probe_address)
        .await
        .map_err(|e| format!("cannot resolve {} ({e})", cfg.probe_address))?
        .next()
        .ok_or_else(|| format!("{} has no address", cfg.probe_address))
}

/// GET `/` of `host` through the web server (`probe_address`), whatever DNS says.
async fn probe(cfg: &LocalConfig, host: &str) -> Result<(u16, String), String> {
    let host = host.to_string();
    let addr = probe_addr(cfg).await?;
    let client = reqwest::Client::builder()
        .resolve(&host, addr)
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let mut request = client.get(format!("http://{host}:{}/", addr.port()));
    if cfg.addressing.https {
        // As CloudFront and the load balancer tell the site: the visitor came over https.
        request = request.header("X-Forwarded-Proto", "https");
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("no answer ({e})"))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| format!("a broken answer ({e})"))?;
    Ok((status, body))
}

/// Whether the page's `<title>` holds the site's title. WordPress escapes and texturises
/// it (`&` → `&#038;`, quotes → curly quotes), so words are compared, not bytes.
pub(crate) fn title_matches(body: &str, title: &str) -> bool {
    let lower = body.to_lowercase();
    let Some(start) = lower.find("<title") else {
        return false;
    };
    let Some(open_end) = lower[start..].find('>') else {
        return false;
    };
    let inner_start = start + open_end + 1;
    let Some(len) = lower[inner_start..].find("</title>") else {
        return false;
    };
    let page = words(&decode_entities(&body[inner_start..inner_start + len]));
    let wanted = words(title);
    !wanted.is_empty() && page.windows(wanted.len()).any(|w| w == wanted.as_slice())
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Turns character references into characters (numeric ones) or a space (named ones).
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match tail.find(';').filter(|&j| j <= 10) {
            Some(j) => {
                let entity = &tail[1..j];
                let ch = entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32);
                out.push(ch.unwrap_or(' '));
                rest = &tail[j + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of an HTML page (WordPress's error pages), without its tags, style and title.
fn strip_tags(s: &str) -> String {
    let s = match s.find("</head>") {
        Some(i) => &s[i..],
        None => s,
    };
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(s: &str, max: usize) -> String {
    let s = s.trim();
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_match_through_escaping() {
        let page =
            "<html><head><title>Tom&#8217;s Blog &#038; Co &#8211; Just another site</title>";
        assert!(title_matches(page, "Tom's Blog & Co"));
        assert!(!title_matches(page, "Other"));
        assert!(!title_matches("<p>no title</p>", "x"));
    }
}
