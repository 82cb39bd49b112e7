//! A customer in their site's wp-admin, driven over HTTP as a browser would: signed in by the
//! panel's one-time link, uploading a plugin through WordPress's own upload form and
//! activating it, the way a customer installs code the platform did not write.

use std::io::Write;

use crate::{dataplane, Customer};

/// A logged-in wp-admin session of one site.
pub struct WpAdmin {
    client: reqwest::Client,
    /// The site's address, e.g. `http://blog.localhost:8081`.
    pub home: String,
}

/// A zip of `files` (`(path inside the zip, contents)`), as a plugin is shipped.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored);
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
        let client = dataplane::site_client(slug);
        let res = client.get(&link).send().await.expect("the login link");
        assert_eq!(res.url().path(), "/wp-admin/", "signed in to wp-admin");
        WpAdmin {
            client,
            home: dataplane::config().addressing.site_url(slug),
        }
    }

    async fn get_page(&self, path: &str) -> String {
        let res = self
            .client
            .get(format!("{}{path}", self.home))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(res.status(), 200, "GET {path}");
        res.text().await.unwrap()
    }

    /// Uploads `zip` through Plugins → Add New → Upload Plugin and activates the plugin it
    /// holds; returns the activated plugin's page text.
    pub async fn install_plugin(&self, file_name: &str, zip: Vec<u8>) -> String {
        let form = self.get_page("/wp-admin/plugin-install.php?tab=upload").await;
        let nonce = field_after(&form, "wp-upload-form", "_wpnonce")
            .unwrap_or_else(|| panic!("no upload form nonce in the page"));
        let part = reqwest::multipart::Part::bytes(zip)
            .file_name(file_name.to_string())
            .mime_str("application/zip")
            .unwrap();
        let upload = reqwest::multipart::Form::new()
            .text("_wpnonce", nonce)
            .text("_wp_http_referer", "/wp-admin/plugin-install.php?tab=upload")
            .text("install-plugin-submit", "Install Now")
            .part("pluginzip", part);
        let res = self
            .client
            .post(format!("{}/wp-admin/update.php?action=upload-plugin", self.home))
            .multipart(upload)
            .send()
            .await
            .expect("the plugin upload");
        let status = res.status();
        let page = res.text().await.unwrap();
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
            format!("{}/wp-admin/{activate}", self.home)
        };
        let res = self.client.get(&path).send().await.expect("activation");
        let page = res.text().await.unwrap();
        assert!(
            page.contains("Plugin activated"),
            "the plugin was not activated: {}",
            text_of(&page)
        );
        page
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
