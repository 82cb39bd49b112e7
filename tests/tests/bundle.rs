//! The browser bundle over HTTP: the panel answers each `/pkg` file with the brotli or gzip
//! copy `scripts/build-bundle.sh` wrote, as the client's `Accept-Encoding` asks (brotli when
//! both are welcome, q-values respected), labelled so that it decodes to exactly the file;
//! a client that accepts neither gets the file itself; every answer says it varies by
//! `Accept-Encoding`. Sizes are measured by `make bench`, not asserted here.

use std::io::Read;

use mywp_tests::{
    bundle::{self, fetch, raw_client, Fetched},
    TestApp,
};

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

fn unbrotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli_decompressor::Decompressor::new(body, 64 * 1024)
        .read_to_end(&mut out)
        .expect("a brotli body");
    out
}

/// The body decoded as its `Content-Encoding` says.
fn decoded(res: &Fetched) -> Vec<u8> {
    match res.content_encoding.as_deref() {
        None => res.body.clone(),
        Some("br") => unbrotli(&res.body),
        Some("gzip") => gunzip(&res.body),
        Some(other) => panic!("unexpected Content-Encoding {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_is_served_in_the_encoding_the_client_accepts() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let pkg = bundle::pkg_dir();
    let client = raw_client();
    // (Accept-Encoding sent, the Content-Encoding that must come back)
    let cases = [
        (Some("br"), Some("br")),
        (Some("gzip"), Some("gzip")),
        // What browsers send: brotli wins a tie, whatever the order.
        (Some("gzip, deflate, br, zstd"), Some("br")),
        (Some("br, gzip"), Some("br")),
        (Some("gzip;q=1.0, br;q=0.5"), Some("gzip")),
        (Some("br;q=0, gzip"), Some("gzip")),
        // Neither: the file itself.
        (None, None),
        (Some("identity"), None),
        (Some("deflate"), None),
        (Some("br;q=0, gzip;q=0"), None),
    ];
    for file in bundle::FILES {
        let raw = std::fs::read(pkg.join(file)).expect("the bundle file");
        let url = format!("{}/pkg/{file}", app.base);
        for (accept, want) in cases {
            let what = format!("GET /pkg/{file} with Accept-Encoding {accept:?}");
            let res = fetch(&client, &url, accept).await;
            assert_eq!(res.status, 200, "{what}");
            assert_eq!(res.content_encoding.as_deref(), want, "{what}");
            assert!(
                res.vary.iter().any(|v| v == "accept-encoding"),
                "{what}: Vary is {:?}",
                res.vary
            );
            if want.is_some() {
                assert_ne!(
                    res.body, raw,
                    "{what}: the file itself came back labelled {want:?}"
                );
            }
            assert!(decoded(&res) == raw, "{what}: does not decode to the file");
        }
    }
    // The wasm keeps its type whatever the encoding (the browser compiles it while it
    // streams in only when it is application/wasm).
    for accept in [Some("br"), Some("gzip"), None] {
        let res = fetch(&client, &format!("{}/pkg/mywp_bg.wasm", app.base), accept).await;
        assert_eq!(
            res.content_type.as_deref(),
            Some("application/wasm"),
            "Accept-Encoding {accept:?}"
        );
    }
    // The pages name the bundle's files where the panel serves them.
    let named = bundle::pkg_urls(&String::from_utf8_lossy(
        &fetch(&client, &format!("{}/login", app.base), None)
            .await
            .body,
    ));
    for file in bundle::FILES {
        assert!(
            named.contains(&format!("/pkg/{file}")),
            "/login does not name /pkg/{file}: {named:?}"
        );
    }
    app.stop().await;
}
