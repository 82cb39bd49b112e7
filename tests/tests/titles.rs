//! Site titles over HTTP on a single host: titles without a letter or a digit go live (the
//! wordpress step used to look for words in the page's title and never found any), and
//! titles holding invisible or direction-changing characters are refused with a reason.

use std::time::Duration;

use mywp_tests::{
    dataplane::{config, get_host},
    unique, TestApp,
};

const LIVE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn titles_without_words_go_live() {
    let app = TestApp::spawn().await;
    let ann = app.new_customer().await;
    let sites: Vec<(String, &str)> = vec![(unique("sym"), "!!! ???"), (unique("emo"), "🎉🚀 ✨")];
    for (slug, title) in &sites {
        ann.create_site(title, slug).await;
    }
    for (slug, title) in &sites {
        ann.wait_status(slug, "live", LIVE).await;
        let host = config().addressing.platform_host_of(slug);
        let (status, _, body) = get_host(&host).await;
        assert_eq!(status, 200, "{host}");
        let shown = body
            .split("<title>")
            .nth(1)
            .and_then(|t| t.split("</title>").next())
            .unwrap_or_default();
        assert!(
            shown.starts_with(title),
            "{host} shows {shown:?}, not {title:?}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_characters_in_titles_are_refused() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let ann = app.new_customer().await;
    for (title, says) in [
        ("Ann\u{AD}s Blog", "soft hyphen (U+00AD)"),
        ("My \u{202E}gnp.exe Blog", "right-to-left override (U+202E)"),
        ("Zero\u{200B}Width", "zero-width space (U+200B)"),
    ] {
        let slug = unique("inv");
        let (status, body) = ann
            .call_json("create_site", &[("title", title), ("slug", &slug)])
            .await;
        assert_eq!(status, 400, "{title:?}: {body}");
        assert_eq!(body["Invalid"]["field"], "title", "{body}");
        let message = body["Invalid"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{title:?}: {message}");
        assert_eq!(ann.site(&slug).await.0, 404, "nothing was made");
    }
    app.stop().await;
}
