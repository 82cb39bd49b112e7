//! Accounts and tenant isolation over HTTP: every bad input gets a clear message and
//! writes nothing; a customer can neither read, change nor delete another's site; forms
//! work without JavaScript; cross-site posts are refused.

use std::time::Duration;

use mywp_jobs::domain::{Email, SnapshotFacts, SnapshotKind};
use mywp_tests::{unique, Customer, TestApp};
use serde_json::Value;

fn field(body: &Value) -> (&str, &str) {
    (
        body["Invalid"]["field"].as_str().unwrap_or_default(),
        body["Invalid"]["message"].as_str().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_rejects_bad_input_and_writes_nothing() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let c = app.customer();
    let email = format!("{}@example.com", unique("su"));

    let (status, body) = c
        .call_json(
            "signup",
            &[
                ("email", "not-an-email"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!((status, field(&body).0), (400, "email"), "{body}");
    assert!(field(&body).1.contains('@'));

    let (status, body) = c
        .call_json("signup", &[("email", &email), ("password", "short")])
        .await;
    assert_eq!((status, field(&body).0), (400, "password"), "{body}");
    assert!(field(&body).1.contains("10 characters"));
    let (status, body) = c
        .call_json("signup", &[("email", &email), ("password", "password123")])
        .await;
    assert_eq!((status, field(&body).0), (400, "password"), "{body}");
    // Nothing was written by the refused sign-ups.
    let parsed = Email::parse(&email).unwrap();
    assert!(app
        .plane
        .store
        .account_by_email(&parsed)
        .await
        .unwrap()
        .is_none());

    let (status, _) = c
        .call_json(
            "signup",
            &[("email", &email), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(status, 200);
    let again = app.customer();
    let (status, body) = again
        .call_json(
            "signup",
            &[
                ("email", &email.to_uppercase()),
                ("password", "another good password"),
            ],
        )
        .await;
    assert_eq!((status, field(&body).0), (400, "email"), "{body}");
    assert!(field(&body).1.contains("already exists"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_logout_and_rate_limit() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let email = format!("{}@example.com", unique("li"));
    let owner = app.customer();
    owner
        .call_json(
            "signup",
            &[("email", &email), ("password", "correct horse battery")],
        )
        .await;

    // Signed in: the site list answers; after logout it does not.
    assert_eq!(owner.call_json("list_sites", &[("page", "1")]).await.0, 200);
    assert_eq!(owner.call_json("logout", &[]).await.0, 200);
    assert_eq!(owner.call_json("list_sites", &[("page", "1")]).await.0, 401);

    let c = app.customer();
    let (status, body) = c
        .call_json(
            "login",
            &[("email", &email), ("password", "wrong horse battery")],
        )
        .await;
    assert_eq!((status, field(&body).0), (400, "password"), "{body}");
    assert_eq!(field(&body).1, "Wrong email or password.");
    // An unknown email gets the same answer.
    let (_, unknown) = c
        .call_json(
            "login",
            &[
                ("email", "nobody-here@example.com"),
                ("password", "whatever it is"),
            ],
        )
        .await;
    assert_eq!(field(&unknown).1, "Wrong email or password.");

    let (status, _) = c
        .call_json(
            "login",
            &[("email", &email), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(c.call_json("list_sites", &[("page", "1")]).await.0, 200);

    // Five failures lock the email for a while, even for the right password.
    let d = app.customer();
    for _ in 0..5 {
        d.call_json(
            "login",
            &[("email", &email), ("password", "wrong horse battery")],
        )
        .await;
    }
    let (status, body) = d
        .call_json(
            "login",
            &[("email", &email), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(body["TooManyRequests"]
        .as_str()
        .unwrap()
        .contains("15 minutes"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_form_rejects_bad_input() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let ann = app.new_customer().await;
    for (slug, needle) in [
        ("www", "reserved"),
        ("admin", "reserved"),
        ("ab", "3 to 40"),
        ("my_blog", "not allowed"),
        ("-abc", "hyphen"),
    ] {
        let (status, body) = ann
            .call_json("create_site", &[("title", "A title"), ("slug", slug)])
            .await;
        assert_eq!((status, field(&body).0), (400, "slug"), "{slug}: {body}");
        assert!(field(&body).1.contains(needle), "{slug}: {body}");
    }
    let (status, body) = ann
        .call_json("create_site", &[("title", "   "), ("slug", &unique("t"))])
        .await;
    assert_eq!((status, field(&body).0), (400, "title"), "{body}");

    // A slug another customer holds is taken.
    let slug = unique("dup");
    ann.create_site("First", &slug).await;
    let bob = app.new_customer().await;
    let (status, body) = bob
        .call_json("create_site", &[("title", "Second"), ("slug", &slug)])
        .await;
    assert_eq!((status, field(&body).0), (400, "slug"), "{body}");
    assert!(field(&body).1.contains("taken"));
    let (_, list) = bob.call_json("list_sites", &[("page", "1")]).await;
    assert_eq!(list["total"], 0, "the refused site was not written");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_cannot_touch_each_others_sites() {
    // No workers: the site stays as created; isolation is about the panel's checks.
    let app = TestApp::spawn_with(|_| {}, false).await;
    let ann = app.new_customer().await;
    let slug = unique("iso");
    ann.create_site("Ann's", &slug).await;
    let eve = app.new_customer().await;
    let anonymous = app.customer();

    let (_, list) = eve.call_json("list_sites", &[("page", "1")]).await;
    assert_eq!(list["total"], 0);
    // A finished snapshot of Ann's site.
    let store = &app.plane.store;
    let ann_site = store.site_by_slug(&slug).await.unwrap().unwrap();
    let snapshot = store
        .request_snapshot(ann_site.id, SnapshotKind::Manual, None)
        .await
        .unwrap();
    let facts = SnapshotFacts {
        database_bytes: 1,
        database_sha256: "0".repeat(64),
        files_bytes: 1,
        files_sha256: "0".repeat(64),
    };
    store.finish_snapshot(snapshot.id, &facts).await.unwrap();
    let snapshot_id = snapshot.id.to_string();
    for (endpoint, form) in [
        ("take_snapshot", vec![("slug", slug.as_str())]),
        (
            "add_domain",
            vec![("slug", slug.as_str()), ("hostname", "www.eve.example")],
        ),
        (
            "remove_domain",
            vec![("slug", slug.as_str()), ("hostname", "www.eve.example")],
        ),
        (
            "check_domain",
            vec![("slug", slug.as_str()), ("hostname", "www.eve.example")],
        ),
        (
            "set_primary_domain",
            vec![("slug", slug.as_str()), ("hostname", "")],
        ),
        (
            "restore_snapshot",
            vec![
                ("slug", slug.as_str()),
                ("snapshot_id", snapshot_id.as_str()),
            ],
        ),
        ("get_site", vec![("slug", slug.as_str())]),
        (
            "delete_site",
            vec![("slug", slug.as_str()), ("confirm", slug.as_str())],
        ),
        ("retry_site", vec![("slug", slug.as_str())]),
        ("open_wp_admin", vec![("slug", slug.as_str())]),
    ] {
        let (status, body) = eve.call_json(endpoint, &form).await;
        assert_eq!(status, 404, "{endpoint} by another customer: {body}");
        assert_eq!(body, "NotFound", "{endpoint}");
        let (status, _) = anonymous.call_json(endpoint, &form).await;
        assert_eq!(status, 401, "{endpoint} without a session");
    }
    assert_eq!(
        anonymous.call_json("list_sites", &[("page", "1")]).await.0,
        401
    );
    // Nor can Ann's snapshot be restored onto a site of Eve's.
    let eves = unique("eve");
    eve.create_site("Eve's", &eves).await;
    let (status, body) = eve
        .call_json(
            "restore_snapshot",
            &[("slug", &eves), ("snapshot_id", &snapshot_id)],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["Invalid"]["field"], "snapshot_id");
    assert!(store.restores_of(ann_site.id, 5).await.unwrap().is_empty());
    let eve_site = store.site_by_slug(&eves).await.unwrap().unwrap();
    assert!(store.restores_of(eve_site.id, 5).await.unwrap().is_empty());
    assert_eq!(store.snapshots_of(ann_site.id).await.unwrap().len(), 1);
    assert!(store.domains_of(ann_site.id).await.unwrap().is_empty());
    // The page does not show it either.
    let (_, page) = eve.page(&format!("/sites/{slug}")).await;
    assert!(
        page.contains("no such site") && !page.contains("Ann&#x27;s") && !page.contains("Ann's")
    );

    // Ann's site is untouched.
    let (status, detail) = ann.site(&slug).await;
    assert_eq!(status, 200);
    assert_eq!(detail["site"]["status"], "provisioning");
    assert!(
        app.plane
            .store
            .site_by_slug(&slug)
            .await
            .unwrap()
            .unwrap()
            .wanted
    );
    app.stop().await;
}

/// A browser without JavaScript posts the form itself and follows the redirects.
fn no_js_post(
    c: &Customer,
    endpoint: &str,
    from: &str,
    form: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    c.client
        .post(format!("{}/api/{endpoint}", c.base))
        .header("Accept", "text/html")
        .header("Referer", format!("{}{from}", c.base))
        .form(form)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_work_without_javascript() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let c = app.customer();
    let email = format!("{}@example.com", unique("nj"));

    let res = no_js_post(
        &c,
        "signup",
        "/signup",
        &[("email", &email), ("password", "short")],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("{}/signup?", c.base)), "{back}");
    let page = c
        .client
        .get(&back)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Use at least 10 characters for your password."),
        "the error is shown on the form"
    );

    let res = no_js_post(
        &c,
        "signup",
        "/signup",
        &[("email", &email), ("password", "correct horse battery")],
    )
    .send()
    .await
    .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["location"], "/sites");
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    let slug = unique("nj");
    let res = no_js_post(
        &c,
        "create_site",
        "/sites/new",
        &[("title", "No JS"), ("slug", &slug)],
    )
    .send()
    .await
    .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("/sites/{slug}")
    );
    let (status, page) = c.page(&format!("/sites/{slug}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("No JS") && page.contains("data-step=\"database\""));
    // A page that is still provisioning refreshes itself without JavaScript.
    assert!(page.contains("http-equiv=\"refresh\""));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let ann = app.new_customer().await;
    let res = ann
        .client
        .post(format!("{}/api/create_site", ann.base))
        .header("Origin", "http://evil.example")
        .form(&[("title", "Evil"), ("slug", &unique("evil"))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (_, list) = ann.call_json("list_sites", &[("page", "1")]).await;
    assert_eq!(list["total"], 0);
    // The same request from the panel's own origin goes through.
    let res = ann
        .client
        .post(format!("{}/api/create_site", ann.base))
        .header("Origin", ann.base.clone())
        .form(&[("title", "Mine"), ("slug", &unique("mine"))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::timeout(Duration::from_secs(60), app.stop())
        .await
        .expect("the panel stops");
}
