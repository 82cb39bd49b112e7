//! A customer in their site's wp-admin, driven over HTTP as a browser would: signed in by a
//! one-time login link (the panel's, or one made from the site's spec), uploading a plugin
//! through WordPress's own upload form and activating it, the way a customer installs code
//! the platform did not write.

use std::{io::Write, time::Duration};

use crate::{dataplane, Customer};

/// The hostile tenant's plugin (`?mywp-hostile=<probe>`; see the file).
pub const HOSTILE_PLUGIN: &[u8] = include_bytes!("../fixtures/hostile-plugin/mywp-hostile.php");

/// A client for `slug`'s hostname on the data plane's nginx that keeps cookies and follows
/// no redirect by itself ([`get`] does, hop by hop).
pub fn client(slug: &str) -> reqwest::Client {
    dataplane::site_client_builder(slug)
        .redirect(reqwest::redirect::Policy::none())
        // A new connection per request: other tests' sites reload nginx, whose old workers
        // close idle keep-alive connections, and a request sent on one as it closes fails.
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(150))
        .build()
        .expect("an HTTP client")
}

/// GET `path` (or a full URL) on `slug` with `client`, following redirects: (status, body).
///
/// A hop that fails below HTTP is sent again (at most three times), as browsers do for a
/// GET: nginx reloads whenever a test's site changes, and under reloads in quick succession
/// an old worker has been seen to close a connection it had just taken ("open socket left
/// in connection" in nginx's log). Redirects are followed here, hop by hop, so a one-time
/// login link is never sent twice.
pub async fn get(client: &reqwest::Client, slug: &str, path: &str) -> (u16, String) {
    let mut url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", dataplane::config().addressing.site_url(slug))
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

/// A logged-in wp-admin session of one site.
pub struct WpAdmin {
    client: reqwest::Client,
    slug: String,
}

/// A zip of `files` (`(path inside the zip, contents)`), as a plugin is shipped.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (path, contents) in files {
        zip.start_file(*path, options).expect("a zip entry");
        zip.write_all(contents).expect("a zip entry's contents");
    }
    zip.finish().expect("a zip").into_inner()
}

/// The value of the first `name="<field>" value="…"` after `from` in `html`.
fn field_after(html: &str, from: &str, field: &str) -> Option<String> {
    let start = html.find(from)?;
    let needle = format!("name=\"{field}\" value=\"");
    let at = start + html[start..].find(&needle)? + needle.len();
    let len = html[at..].find('"')?;
    Some(html[at..at + len].to_string())
}

/// The first `href="…"` in `html` that contains `part`, with `&amp;` decoded.
fn href_with(html: &str, part: &str) -> Option<String> {
    html.match_indices("href=\"").find_map(|(i, m)| {
        let at = i + m.len();
        let len = html[at..].find('"')?;
        let href = &html[at..at + len];
        href.contains(part).then(|| href.replace("&amp;", "&"))
    })
}

impl WpAdmin {
    /// Signs `customer` into `slug`'s wp-admin through the panel's one-time link.
    pub async fn open(customer: &Customer, slug: &str) -> WpAdmin {
        let res = customer.call("open_wp_admin", &[("slug", slug)]).await;
        assert_eq!(res.status(), 200, "the panel gives a wp-admin link");
        let link = res.headers()["location"].to_str().unwrap().to_owned();
        Self::sign_in(slug, &link).await
    }

    /// Signs into `slug`'s wp-admin with the one-time login `link`.
    pub async fn sign_in(slug: &str, link: &str) -> WpAdmin {
        let client = client(slug);
        let (status, page) = get(&client, slug, link).await;
        assert!(
            status == 200 && page.contains("wp-admin"),
            "signed in to wp-admin: HTTP {status}: {}",
            text_of(&page)
        );
        WpAdmin {
            client,
            slug: slug.to_string(),
        }
    }

    /// GET `path` in the session: its page (200, or the test fails).
    pub async fn page(&self, path: &str) -> String {
        let (status, page) = get(&self.client, &self.slug, path).await;
        assert_eq!(status, 200, "GET {path}: {}", text_of(&page));
        page
    }

    /// Uploads `zip` through Plugins → Add New → Upload Plugin and activates the plugin it
    /// holds; returns the activated plugin's page text.
    pub async fn install_plugin(&self, file_name: &str, zip: Vec<u8>) -> String {
        let form = self.page("/wp-admin/plugin-install.php?tab=upload").await;
        let nonce = field_after(&form, "wp-upload-form", "_wpnonce")
            .unwrap_or_else(|| panic!("no upload form nonce in the page"));
        let part = reqwest::multipart::Part::bytes(zip)
            .file_name(file_name.to_string())
            .mime_str("application/zip")
            .unwrap();
        let upload = reqwest::multipart::Form::new()
            .text("_wpnonce", nonce)
            .text(
                "_wp_http_referer",
                "/wp-admin/plugin-install.php?tab=upload",
            )
            .text("install-plugin-submit", "Install Now")
            .part("pluginzip", part);
        let home = dataplane::config().addressing.site_url(&self.slug);
        let res = self
            .client
            .post(format!("{home}/wp-admin/update.php?action=upload-plugin"))
            .multipart(upload)
            .send()
            .await
            .expect("the plugin upload");
        let status = res.status();
        let page = res.text().await.expect("the upload's answer");
        assert!(
            status == 200 && page.contains("Plugin installed successfully"),
            "the upload was refused (HTTP {status}): {}",
            text_of(&page)
        );
        let activate = href_with(&page, "action=activate")
            .unwrap_or_else(|| panic!("no activation link: {}", text_of(&page)));
        let path = if activate.starts_with("http") {
            activate
        } else {
            format!("/wp-admin/{activate}")
        };
        let page = self.page(&path).await;
        assert!(
            page.contains("Plugin activated"),
            "the plugin was not activated: {}",
            text_of(&page)
        );
        page
    }

    /// Installs the hostile tenant's plugin ([`HOSTILE_PLUGIN`]).
    pub async fn install_hostile_plugin(&self) {
        let zip = zip_of(&[("mywp-hostile/mywp-hostile.php", HOSTILE_PLUGIN)]);
        self.install_plugin("mywp-hostile.zip", zip).await;
    }
}

/// What a WordPress page says, without its markup (for failure messages).
fn text_of(html: &str) -> String {
    let body = html.find("<body").map_or(html, |i| &html[i..]);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    words.join(" ").chars().take(600).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_form_fields_and_links() {
        let html = r#"<input name="_wpnonce" value="early"><form class="wp-upload-form"><input type="hidden" id="_wpnonce" name="_wpnonce" value="abc123" /></form><a href="plugins.php?action=activate&amp;plugin=x%2Fx.php&amp;_wpnonce=n">"#;
        assert_eq!(
            field_after(html, "wp-upload-form", "_wpnonce").as_deref(),
            Some("abc123")
        );
        assert_eq!(
            href_with(html, "action=activate").as_deref(),
            Some("plugins.php?action=activate&plugin=x%2Fx.php&_wpnonce=n")
        );
        let zip = zip_of(&[("p/p.php", b"<?php")]);
        assert_eq!(&zip[..2], b"PK");
    }
}
