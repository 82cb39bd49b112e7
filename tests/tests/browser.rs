//! In a real (headless) browser, end to end: a signup error shown next to its field, sign
//! up, create a site, watch it go live without reloading (the hydrated page refreshes
//! itself), check its steps, delete it through the UI, and see it leave the list.

use std::time::{Duration, Instant};

use mywp_tests::{
    browser::{Browser, Chromedriver},
    repo_root, unique, TestApp,
};
use serde_json::json;

/// How long a page may take to load and hydrate on a busy machine.
const PAGE: Duration = Duration::from_secs(60);
const LIVE: Duration = Duration::from_secs(120);
const GONE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sign_up_create_watch_live_delete() {
    let started = Instant::now();
    let app = TestApp::spawn().await;
    let driver = Chromedriver::start().await;
    let browser = Browser::open(&driver).await;
    let shots = repo_root().join("target/screenshots");
    let url = |path: &str| format!("{}{path}", app.base);

    // A password that is too short: the error shows next to its field.
    let email = format!("{}@example.com", unique("br"));
    browser.goto(&url("/signup")).await;
    browser.wait_form("/signup", "#signup-form", PAGE).await;
    browser.fill("#field-email", &email).await;
    browser.fill("#field-password", "short").await;
    browser.click("#signup-form button[type=submit]").await;
    let message = browser
        .wait("the password's error", PAGE, || async {
            browser
                .text(r#"#signup-form p.error[data-field="password"]"#)
                .await?
                .ok_or_else(|| "no error yet".to_string())
        })
        .await;
    assert!(
        message.contains("Use at least 10 characters"),
        "unexpected error: {message}"
    );
    // Next to the field: the nearest input before the message is the password's, marked invalid.
    let placement = browser
        .js(
            r#"const err = document.querySelector('#signup-form p.error[data-field="password"]');
               let e = err.previousElementSibling;
               while (e && e.tagName !== 'INPUT') e = e.previousElementSibling;
               return { input: e && e.id, invalid: e && e.getAttribute('aria-invalid') };"#,
            vec![],
        )
        .await
        .expect("locate the error");
    assert_eq!(
        placement,
        json!({"input": "field-password", "invalid": "true"})
    );
    assert_eq!(browser.path().await.unwrap(), "/signup");
    browser.screenshot(&shots.join("signup-error.png")).await;

    // Sign up for real: the sites list.
    browser
        .fill("#field-password", "correct horse battery")
        .await;
    browser.click("#signup-form button[type=submit]").await;
    browser
        .wait("the sites list", PAGE, || async {
            match browser.path().await?.as_str() {
                "/sites" => browser
                    .text("main h1, h1")
                    .await?
                    .filter(|h| h == "Your sites")
                    .map(|_| ())
                    .ok_or_else(|| "no heading yet".to_string()),
                other => Err(format!("on {other}")),
            }
        })
        .await;

    // A new site.
    browser.click(r#"a.button[href="/sites/new"]"#).await;
    browser
        .wait_form("/sites/new", "#new-site-form", PAGE)
        .await;
    let slug = unique("br");
    let title = format!("Browser Blog {slug}");
    browser.fill("#field-title", &title).await;
    browser.fill("#field-slug", &slug).await;
    browser.click("#new-site-form button[type=submit]").await;
    let site_path = format!("/sites/{slug}");
    let first = browser
        .wait("the site's page", PAGE, || async {
            let now = browser.path().await?;
            if now != site_path {
                return Err(format!("on {now}"));
            }
            browser
                .text("#site-status")
                .await?
                .ok_or_else(|| "no status yet".to_string())
        })
        .await;
    assert_eq!(browser.text("h1").await.unwrap(), Some(title.clone()));
    // Marks this document: if anything reloads the page, the mark is gone.
    browser
        .js("window.__mywpNoReload = true; return null;", vec![])
        .await
        .unwrap();

    // Without reloading, the page follows the site until it is live.
    let created = Instant::now();
    let seen = std::cell::RefCell::new(vec![first.clone()]);
    browser
        .wait("the site to be live", LIVE, || {
            let seen = &seen;
            let browser = &browser;
            async move {
                let now = browser
                    .js(
                        "const s = document.querySelector('#site-status'); \
                         return [window.__mywpNoReload === true, s ? s.textContent.trim() : null];",
                        vec![],
                    )
                    .await?;
                let status = now[1].as_str().ok_or("no status")?.to_owned();
                if now[0] != true {
                    panic!(
                        "the page reloaded itself while waiting (statuses seen: {:?}, now {status})",
                        seen.borrow()
                    );
                }
                if seen.borrow().last() != Some(&status) {
                    seen.borrow_mut().push(status.clone());
                }
                match status.as_str() {
                    "live" => Ok(()),
                    "failed" => panic!("the site failed: {}", browser.console().await),
                    _ => Err(format!("status {status}")),
                }
            }
        })
        .await;
    assert_ne!(
        first, "live",
        "the site was live before the page showed it: the live refresh went untested"
    );
    println!(
        "statuses seen: {:?}; live after {:?}",
        seen.borrow(),
        created.elapsed()
    );

    let step = |name: &'static str| {
        let browser = &browser;
        async move {
            browser
                .text(&format!(r#"#steps tr[data-step="{name}"] td:nth-child(2)"#))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("no {name} row"))
        }
    };
    assert_eq!(step("database").await, "done");
    assert_eq!(step("media").await, "not available here");
    assert_eq!(step("backup").await, "done");
    browser.screenshot(&shots.join("site-live.png")).await;

    // Take a snapshot, then restore it, from the page.
    browser.wait_form(&site_path, "#take-snapshot", PAGE).await;
    browser.click("#take-snapshot button[type=submit]").await;
    let done = r#"#snapshots tr[data-state="done"]"#;
    browser
        .wait("the snapshot to be done", LIVE, || async {
            match browser.text(done).await? {
                Some(row) => Ok(row),
                None => Err(browser.text("#backups").await?.unwrap_or_default()),
            }
        })
        .await;
    let restore_form = format!("{done} details.restore form");
    browser
        .click(&format!("{done} details.restore summary"))
        .await;
    browser.wait_form(&site_path, &restore_form, PAGE).await;
    browser
        .click(&format!("{restore_form} button[type=submit]"))
        .await;
    let status = browser
        .wait("the restore to be done", LIVE, || async {
            let state = browser
                .js(
                    "const e = document.querySelector('#restore-status'); \
                     return e ? e.dataset.state : null;",
                    vec![],
                )
                .await?;
            match state.as_str() {
                Some("done") => Ok(browser.text("#restore-status").await?.unwrap_or_default()),
                Some("failed") => panic!(
                    "the restore failed: {:?}",
                    browser.text("#restore-status").await
                ),
                _ => Err(format!("restore status: {state}")),
            }
        })
        .await;
    assert!(status.starts_with("Restored the snapshot of"), "{status}");
    let kinds = browser
        .js(
            "return [...document.querySelectorAll('#snapshots tbody tr td:nth-child(2)')]\
             .map(e => e.textContent.trim());",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        kinds,
        serde_json::json!(["Before a restore", "Taken on request"])
    );
    browser.screenshot(&shots.join("site-restored.png")).await;

    // Map a domain through the form: it is listed, and the site goes live again with it.
    let domain = format!("www.{slug}.test");
    browser.wait_form(&site_path, "#add-domain", PAGE).await;
    browser.fill("#field-hostname", &domain).await;
    browser.click("#add-domain button[type=submit]").await;
    let row = format!(r#"#domains tr[data-domain="{domain}"]"#);
    browser
        .wait(
            "the domain to be listed and the site live",
            LIVE,
            || async {
                let listed = browser.text(&row).await?;
                let status = browser.text("#site-status").await?.unwrap_or_default();
                match listed {
                    Some(text) if status == "live" => Ok(text),
                    other => Err(format!("row {other:?}, status {status}")),
                }
            },
        )
        .await;
    browser.screenshot(&shots.join("site-domain.png")).await;

    // Delete it through the UI.
    browser.wait_form(&site_path, "#delete-form", PAGE).await;
    browser.fill("#field-confirm", &slug).await;
    browser.click("#delete-form button[type=submit]").await;
    browser
        .wait("the sites list after deleting", PAGE, || async {
            match browser.path().await?.as_str() {
                "/sites" => Ok(()),
                other => Err(format!("on {other}")),
            }
        })
        .await;
    // The list does not refresh itself: load it again until the site has left it.
    let link = format!(r#"a[href="/sites/{slug}"]"#);
    browser
        .wait("the site to leave the list", GONE, || async {
            browser.goto(&url("/sites")).await;
            let state = browser
                .js(
                    "return { rendered: !!document.querySelector('table.sites') \
                              || document.body.textContent.includes('No sites yet'), \
                              listed: !!document.querySelector(arguments[0]) };",
                    vec![json!(link)],
                )
                .await?;
            if state == json!({"rendered": true, "listed": false}) {
                Ok(())
            } else {
                Err(state.to_string())
            }
        })
        .await;

    browser.close().await;
    drop(driver);
    app.stop().await;
    println!("browser test took {:?}", started.elapsed());
}
