//! Part 5: the browser bundle. Each file raw and as the gzip and brotli copies
//! `scripts/build-bundle.sh` wrote beside it, then a first visit to the login page fetched
//! from a panel (no workers, no data plane use) the way a browser makes it: the HTML and every
//! `/pkg` file it names, with the `Accept-Encoding` of a browser over HTTPS (`br, gzip`) and
//! over plain HTTP (`gzip`), counted in bytes as sent.

use mywp_tests::{bundle, TestApp};

use super::{log, Report};

/// The issue's target for a first load, compressed as served (in bytes: 1 KB = 1,000 B).
const TARGET_FIRST_LOAD: usize = 400_000;

/// `1234567` as `1,234,567 B`.
fn bytes(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out + " B"
}

fn size(path: &std::path::Path) -> usize {
    std::fs::metadata(path)
        .map(|m| m.len() as usize)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub async fn bundle(report: &mut Report) {
    let pkg = bundle::pkg_dir();
    for file in bundle::FILES {
        let raw = pkg.join(file);
        let with = |ext: &str| raw.with_file_name(format!("{file}.{ext}"));
        report.row(
            &format!("bundle: `{file}` raw / gzip (zopfli) / brotli -q 11"),
            1,
            bytes(size(&raw)),
            bytes(size(&with("gz"))),
            bytes(size(&with("br"))),
            String::new(),
        );
    }

    let app = TestApp::spawn_with(|_| {}, false).await;
    for (accept, who) in [
        ("br, gzip", "a browser over HTTPS"),
        ("gzip", "a browser over plain HTTP"),
    ] {
        let load = bundle::first_load(&app.base, "/login", accept).await;
        let parts: Vec<String> = load
            .items
            .iter()
            .map(|(url, encoding, n)| {
                let name = url.rsplit('/').next().unwrap_or(url);
                let name = if name.is_empty() { url.as_str() } else { name };
                format!(
                    "{name} {}{}",
                    bytes(*n),
                    encoding
                        .as_deref()
                        .map(|e| format!(" {e}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        log(format!(
            "first load, Accept-Encoding {accept}: {}",
            parts.join(", ")
        ));
        let total = load.total();
        let met = if total <= TARGET_FIRST_LOAD {
            "met"
        } else {
            "**missed**"
        };
        report.row(
            &format!("first load of /login (HTML + JS + wasm + CSS as served), `Accept-Encoding: {accept}` ({who})"),
            load.items.len(),
            String::new(),
            String::new(),
            bytes(total),
            format!("≤ 400 KB: {met}"),
        );
        report.notes.push(format!(
            "First load with `Accept-Encoding: {accept}`: {}.",
            parts.join(" + ")
        ));
    }
    app.stop().await;
}
