//! The browser bundle as the panel serves it: where `scripts/build-bundle.sh` put it, and
//! what a client gets for a page and its assets with a given `Accept-Encoding` (bytes as
//! they cross the wire, never decoded here). Used by `tests/bundle.rs` and the benchmark.

use std::path::PathBuf;

use reqwest::{header, Client, StatusCode};

/// The files `scripts/build-bundle.sh` writes, each with a `.br` and a `.gz` copy beside it.
pub const FILES: [&str; 3] = ["mywp_bg.wasm", "mywp.js", "mywp.css"];

/// Where the panel of the tests serves `/pkg` from (`test_config`'s site root).
pub fn pkg_dir() -> PathBuf {
    let dir = crate::repo_root().join("target/site/pkg");
    assert!(
        dir.join("mywp_bg.wasm.br").exists(),
        "{} has no brotli bundle: run scripts/build-bundle.sh (make test does)",
        dir.display()
    );
    dir
}

/// One answer, its body as sent.
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub content_encoding: Option<String>,
    pub content_type: Option<String>,
    pub vary: Vec<String>,
    pub body: Vec<u8>,
}

/// A client that leaves `Accept-Encoding` and the body alone (reqwest's decompression is off:
/// the workspace builds it without its gzip or brotli features; a test that the encoding
/// arrives intact would catch it being turned on).
pub fn raw_client() -> Client {
    Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

/// GET `url`, sending `accept` as `Accept-Encoding` (none when `None`).
pub async fn fetch(client: &Client, url: &str, accept: Option<&str>) -> Fetched {
    let mut req = client.get(url);
    if let Some(accept) = accept {
        req = req.header(header::ACCEPT_ENCODING, accept);
    }
    let res = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let text = |name: header::HeaderName| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_encoding = text(header::CONTENT_ENCODING);
    let content_type = text(header::CONTENT_TYPE);
    let vary = res
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    let status = res.status();
    let body = res
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: body: {e}"))
        .to_vec();
    Fetched {
        status,
        content_encoding,
        content_type,
        vary,
        body,
    }
}

/// The `/pkg/…` addresses a page's HTML names (its scripts, preloads and stylesheet), in order.
pub fn pkg_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for (at, _) in html.match_indices("\"/pkg/") {
        let rest = &html[at + 1..];
        if let Some(end) = rest.find('"') {
            let url = rest[..end].to_owned();
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    urls
}

/// What a first visit to one page costs on the wire: the page, then each asset its HTML
/// names, with the encoding each came in and its bytes as sent.
#[derive(Debug)]
pub struct FirstLoad {
    pub items: Vec<(String, Option<String>, usize)>,
}

impl FirstLoad {
    pub fn total(&self) -> usize {
        self.items.iter().map(|i| i.2).sum()
    }
}

/// Fetches `path` from the panel at `base` and every `/pkg` asset its HTML names, all with
/// `Accept-Encoding: accept`, as a browser's first visit does (the wasm is named by a preload).
pub async fn first_load(base: &str, path: &str, accept: &str) -> FirstLoad {
    let client = raw_client();
    let page = fetch(&client, &format!("{base}{path}"), Some(accept)).await;
    assert_eq!(page.status, StatusCode::OK, "GET {path}");
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let mut items = vec![(path.to_owned(), page.content_encoding, page.body.len())];
    for url in pkg_urls(&html) {
        let asset = fetch(&client, &format!("{base}{url}"), Some(accept)).await;
        assert_eq!(asset.status, StatusCode::OK, "GET {url}");
        items.push((url, asset.content_encoding, asset.body.len()));
    }
    FirstLoad { items }
}
