//! A hostile tenant's tools: sites provisioned through the single-host drivers, commands
//! run as a site's Unix user, a WordPress plugin built and uploaded through wp-admin as a
//! customer does it, and the plugin's PHP that tries what a tenant must not do.

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::Duration,
};

use mywp_jobs::{
    deployment::Deployment,
    domain::SiteSlug,
    drivers::{
        local::{login_link, LocalConfig, SiteUser},
        Drivers, Ensured, SiteSpec,
    },
};

use crate::{dataplane, unique};

/// One test site: its spec, its Unix user, its directory.
pub struct Site {
    pub spec: SiteSpec,
    pub user: SiteUser,
    pub dir: PathBuf,
}

impl Site {
    pub fn slug(&self) -> &str {
        self.spec.slug.as_str()
    }

    pub fn content(&self) -> PathBuf {
        self.dir.join("wp-content")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config.php")
    }
}

/// The single host's drivers.
/// Held for the whole of a test that drives wp-admin: one such test at a time in a test
/// binary. Each tenant test creates and removes sites, so nginx and php-fpm reload several
/// times a second; under that, an nginx worker told to quit right after it started has been
/// seen to exit with a wp-admin response half sent ("open socket left in connection",
/// "aborting" in nginx's log), which fails a test about something else. A reload on a real
/// host is one per site change, and browsers reload a broken page.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

pub fn drivers(cfg: &LocalConfig) -> Drivers {
    Deployment::single_host(cfg.clone()).drivers
}

/// A new site's spec with a unique slug and an id no other test uses (site ids of the
/// panel's tests are small; these are large and random).
pub fn new_site(cfg: &LocalConfig, prefix: &str) -> Site {
    let slug = unique(prefix);
    let id = rand::random::<u32>() as i64 % 900_000_000 + 100_000_000;
    let spec = SiteSpec::parse(
        id,
        &slug,
        &format!("Tenant {slug}"),
        &format!("{slug}@example.com"),
        &[cfg.addressing.platform_host_of(&slug)],
    )
    .unwrap();
    let user = SiteUser::of(cfg, &spec).unwrap();
    let dir = cfg.site_dir(&SiteSlug::from_stored(&slug).unwrap());
    Site { spec, user, dir }
}

/// Runs the database, files and wordpress steps for the site: live when it returns.
pub async fn provision(drivers: &Drivers, site: &Site) {
    for (name, driver) in [
        ("database", &drivers.database),
        ("files", &drivers.files),
        ("wordpress", &drivers.wordpress),
    ] {
        match driver.as_ref().unwrap().ensure(&site.spec).await {
            Ok(Ensured::Done { .. }) => {}
            other => panic!("{name}.ensure of {}: {other:?}", site.slug()),
        }
    }
}

/// Removes what [`provision`] made.
pub async fn remove(drivers: &Drivers, site: &Site) {
    for driver in [&drivers.wordpress, &drivers.files, &drivers.database] {
        driver.as_ref().unwrap().remove(&site.spec).await.unwrap();
    }
}

/// `sh -c script` with `args` as the site's user (its uid and gid, no other group).
pub fn as_user(user: SiteUser, script: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .uid(user.uid)
        .gid(user.gid)
        .stdin(Stdio::null())
        .output()
        .expect("run sh as the site's user")
}

/// Writes `contents` to `path` as the site's user (as its PHP could).
pub fn write_as(user: SiteUser, path: &Path, contents: &str) {
    let out = as_user(
        user,
        "printf '%s' \"$2\" > \"$1\"",
        &[path.to_str().unwrap(), contents],
    );
    assert!(
        out.status.success(),
        "write {} as uid {}: {}",
        path.display(),
        user.uid,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client for the site's hostname on the data plane's nginx, with cookies.
pub fn client(cfg: &LocalConfig, site: &Site) -> reqwest::Client {
    reqwest::Client::builder()
        .resolve(
            &cfg.addressing.platform_host_of(site.slug()),
            std::net::SocketAddr::from(([127, 0, 0, 1], cfg.addressing.port)),
        )
        .cookie_store(true)
        .no_proxy()
        // [`get`] follows redirects itself, one hop at a time.
        .redirect(reqwest::redirect::Policy::none())
        // A new connection per request: other tests' sites reload nginx, whose old workers
        // close idle keep-alive connections, and a request sent on one as it closes fails.
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// GET `path` (or a full URL) on the site, following redirects: (status, body).
///
/// A hop that fails below HTTP is sent again (at most three times), as browsers do for a
/// GET: the other tests create sites meanwhile, and an nginx reload in quick succession
/// may close a connection its old worker had just taken (nginx logs "open socket left in
/// connection"). Redirects are followed here, hop by hop, so a one-time login link is
/// never sent twice.
pub async fn get(
    client: &reqwest::Client,
    cfg: &LocalConfig,
    site: &Site,
    path: &str,
) -> (u16, String) {
    let mut url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", cfg.addressing.site_url(site.slug()))
    };
    for _hop in 0..10 {
        let mut attempt = 0;
        let (status, location, body) = loop {
            attempt += 1;
            let sent = async {
                let res = client.get(&url).send().await?;
                let status = res.status();
                let location = res
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .map(str::to_string);
                Ok::<_, reqwest::Error>((status, location, res.text().await?))
            }
            .await;
            match sent {
                Ok(answer) => break answer,
                Err(e) if attempt < 3 && !e.is_timeout() => {
                    eprintln!("GET {url}: {e}; sending it again");
                }
                Err(e) => panic!("GET {url}: {e}"),
            }
        };
        match location {
            Some(next) if status.is_redirection() => {
                url = reqwest::Url::parse(&url)
                    .and_then(|base| base.join(&next))
                    .unwrap_or_else(|e| panic!("redirect to {next:?}: {e}"))
                    .to_string();
            }
            _ => return (status.as_u16(), body),
        }
    }
    panic!("GET {path}: more than 10 redirects");
}

/// Logs the client into the site's wp-admin with a one-time login link.
pub async fn log_in(client: &reqwest::Client, cfg: &LocalConfig, site: &Site) {
    let link = login_link(cfg, &site.spec, Duration::from_secs(300));
    let (status, body) = get(client, cfg, site, &link).await;
    assert!(
        status == 200 && body.contains("wp-admin"),
        "login: HTTP {status}"
    );
}

/// The value of the hidden input `name` that follows `after` in `page`.
pub fn hidden_after(page: &str, after: &str, name: &str) -> String {
    let start = page
        .find(after)
        .unwrap_or_else(|| panic!("no {after:?} in the page"));
    let key = format!("name=\"{name}\" value=\"");
    let at = page[start..]
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} after {after:?}"));
    let rest = &page[start + at + key.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// A `multipart/form-data` body of `fields` and one file: (content type, body).
pub fn multipart(
    fields: &[(&str, &str)],
    file_field: &str,
    file_name: &str,
    file: &[u8],
) -> (String, Vec<u8>) {
    let boundary = format!("----mywp{:016x}", rand::random::<u64>());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A zip archive (stored, not compressed) of `files`: (path in the archive, contents).
pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let le16 = |v: &mut Vec<u8>, n: u16| v.extend(n.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, n: u32| v.extend(n.to_le_bytes());
    for (name, data) in files {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let (crc, len, offset) = (crc.sum(), data.len() as u32, out.len() as u32);
        le32(&mut out, 0x0403_4b50);
        for v in [20u16, 0, 0, 0, 0x21] {
            le16(&mut out, v);
        }
        for v in [crc, len, len] {
            le32(&mut out, v);
        }
        le16(&mut out, name.len() as u16);
        le16(&mut out, 0);
        out.extend(name.as_bytes());
        out.extend(*data);
        le32(&mut central, 0x0201_4b50);
        for v in [20u16, 20, 0, 0, 0, 0x21] {
            le16(&mut central, v);
        }
        for v in [crc, len, len] {
            le32(&mut central, v);
        }
        for v in [name.len() as u16, 0, 0, 0, 0] {
            le16(&mut central, v);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend(name.as_bytes());
    }
    let (cd_offset, cd_len) = (out.len() as u32, central.len() as u32);
    out.extend(&central);
    le32(&mut out, 0x0605_4b50);
    for v in [0u16, 0, files.len() as u16, files.len() as u16] {
        le16(&mut out, v);
    }
    le32(&mut out, cd_len);
    le32(&mut out, cd_offset);
    le16(&mut out, 0);
    out
}

/// What the probe plugin is asked to try.
#[derive(Debug, Default)]
pub struct Attempts {
    pub read: Vec<String>,
    pub list: Vec<String>,
    pub write: Vec<String>,
}

/// The probe plugin's PHP: on `?mywp-probe`, it tries every attempt and answers with JSON
/// saying which succeeded, and who it ran as.
pub fn probe_plugin(attempts: &Attempts) -> String {
    let json = serde_json::json!({
        "read": attempts.read,
        "list": attempts.list,
        "write": attempts.write,
    });
    format!(
        r#"<?php
/**
 * Plugin Name: MyWP probe
 * Description: What a hostile tenant tries (MyWP's isolation tests).
 */
if (!isset($_GET['mywp-probe'])) {{
    return;
}}
$attempts = json_decode(<<<'JSON'
{json}
JSON, true);
$out = array(
    'uid' => posix_geteuid(),
    'gid' => posix_getegid(),
    'groups' => posix_getgroups(),
    'open_basedir' => ini_get('open_basedir'),
    'read' => array(), 'list' => array(), 'write' => array(),
);
foreach ($attempts['read'] as $p) {{ $out['read'][$p] = @file_get_contents($p) !== false; }}
foreach ($attempts['list'] as $p) {{ $out['list'][$p] = @scandir($p) !== false; }}
foreach ($attempts['write'] as $p) {{ $out['write'][$p] = @file_put_contents($p, "<?php // planted\n") !== false; }}
header('Content-Type: application/json');
echo json_encode($out);
exit;
"#
    )
}

/// Installs and activates `php` as the plugin `mywp-probe` through wp-admin's upload
/// form, as the site's owner does it (the client must be logged in).
pub async fn install_plugin(client: &reqwest::Client, cfg: &LocalConfig, site: &Site, php: &str) {
    let (status, page) = get(client, cfg, site, "/wp-admin/plugin-install.php?tab=upload").await;
    assert_eq!(status, 200, "the upload form");
    let nonce = hidden_after(&page, "action=upload-plugin", "_wpnonce");
    let archive = zip(&[("mywp-probe/mywp-probe.php", php.as_bytes())]);
    let (content_type, body) = multipart(
        &[
            ("_wpnonce", &nonce),
            (
                "_wp_http_referer",
                "/wp-admin/plugin-install.php?tab=upload",
            ),
            ("install-plugin-submit", "Install Now"),
        ],
        "pluginzip",
        "mywp-probe.zip",
        &archive,
    );
    let url = format!(
        "{}/wp-admin/update.php?action=upload-plugin",
        cfg.addressing.site_url(site.slug())
    );
    let res = client
        .post(&url)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let page = res.text().await.unwrap();
    assert!(
        status == 200 && page.contains("Plugin installed successfully"),
        "the plugin upload: HTTP {status}: {}",
        page.chars()
            .filter(|c| !c.is_control())
            .take(3000)
            .collect::<String>()
    );
    let at = page
        .find("plugins.php?action=activate")
        .expect("an activation link");
    let href = &page[at..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    let (status, page) = get(client, cfg, site, &format!("/wp-admin/{href}")).await;
    assert!(
        status == 200 && page.contains("Plugin activated"),
        "activate: HTTP {status}"
    );
}

/// Runs the probe plugin: its JSON answer.
pub async fn probe(client: &reqwest::Client, cfg: &LocalConfig, site: &Site) -> serde_json::Value {
    let (status, body) = get(client, cfg, site, "/?mywp-probe=1").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The data plane's configuration.
pub fn config() -> LocalConfig {
    dataplane::config()
}
