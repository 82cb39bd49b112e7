//! The panel's own defences, attacked over HTTP: logins raced and sprayed, the client's
//! address forged, signups in bulk, cross-site and opaque-origin posts, an off-site
//! Referer as a redirect, framing, session cookies and their lifetime, per-account limits
//! and a flood of password checks.

use std::time::{Duration, Instant};

use mywp_jobs::{
    domain::{SiteStatus, SnapshotFacts, SnapshotKind},
    secrets::Secret,
    settings::Settings,
    store::{login_delay, FREE_FAILURES},
};
use mywp_tests::{postgres::TestDatabase, unique, wait_for, TestApp};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";
const WRONG: &str = "wrong horse battery";

/// A client that sends only the headers each request is given (no Origin of its own), and
/// keeps cookies.
fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// POSTs `form` to `/api/<endpoint>` from the panel's own page, with `extra` headers
/// (such as `X-Forwarded-For`); returns the status and the body.
async fn post(
    client: &reqwest::Client,
    base: &str,
    endpoint: &str,
    form: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = client
        .post(format!("{base}/api/{endpoint}"))
        .header("Origin", base)
        .form(form);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn too_many(body: &Value) -> &str {
    body["TooManyRequests"].as_str().unwrap_or_default()
}

async fn signup(app: &TestApp) -> String {
    let email = format!("{}@example.com", unique("ph"));
    let (status, body) = post(
        &bare_client(),
        &app.base,
        "signup",
        &[("email", &email), ("password", PASSWORD)],
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    email
}

fn trusting_loopback(s: &mut Settings) {
    s.panel.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

/// How many attempts may reach the password check in `elapsed`: the free ones, plus one
/// for each wait that could have passed meanwhile.
fn allowed_in(elapsed: Duration) -> i64 {
    let (mut allowed, mut waited) = (FREE_FAILURES, Duration::ZERO);
    loop {
        waited += login_delay(allowed);
        if waited > elapsed {
            return allowed;
        }
        allowed += 1;
    }
}

/// 24 wrong passwords for one account at once: each attempt is recorded before its
/// password is checked, so only the free ones are checked; the owner's right password
/// works once the wait is over.
async fn parallel_logins(app: TestApp) {
    let email = signup(&app).await;
    let started = Instant::now();
    let answers = futures::future::join_all((0..24).map(|_| {
        let (base, email) = (app.base.clone(), email.clone());
        tokio::spawn(async move {
            post(
                &bare_client(),
                &base,
                "login",
                &[("email", &email), ("password", WRONG)],
                &[],
            )
            .await
        })
    }))
    .await;
    let elapsed = started.elapsed();
    let mut checked = 0;
    for answer in answers {
        match answer.unwrap() {
            (400, body) if body["Invalid"]["field"] == "password" => checked += 1,
            (429, body) if too_many(&body).contains("failed logins for this account") => {}
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    assert!(
        checked <= allowed_in(elapsed),
        "{checked} of 24 parallel attempts reached the password check in {elapsed:?}"
    );
    assert_eq!(
        app.plane.store.login_failures(&email).await.unwrap(),
        checked,
        "every checked attempt was recorded"
    );

    // No lockout: the right password works once the (short) wait is over.
    let owner = bare_client();
    wait_for(
        "the owner's login after the wait",
        Duration::from_secs(300),
        || {
            let (owner, base, email) = (&owner, &app.base, &email);
            async move {
                match post(
                    owner,
                    base,
                    "login",
                    &[("email", email), ("password", PASSWORD)],
                    &[],
                )
                .await
                {
                    (200, _) => Ok(()),
                    (429, body) if too_many(&body).contains("Wait") => Err(body.to_string()),
                    other => panic!("unexpected answer: {other:?}"),
                }
            }
        },
    )
    .await;
    assert_eq!(app.plane.store.login_failures(&email).await.unwrap(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_logins_reach_the_password_check_only_while_free_sqlite() {
    parallel_logins(TestApp::spawn_with(|s| s.panel.logins_per_minute = 1000, false).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_logins_reach_the_password_check_only_while_free_postgres() {
    let db = TestDatabase::create("panel_logins").await;
    let url = db.url.clone();
    let app = TestApp::spawn_with(
        move |s| {
            s.database_url = Some(Secret::new(&url));
            s.panel.logins_per_minute = 1000;
        },
        false,
    )
    .await;
    parallel_logins(app).await;
    db.drop_database().await;
}

/// An attacker's failures delay logins from addresses the account never signed in from,
/// never its owner at an address it did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_from_elsewhere_do_not_delay_the_owner() {
    let app = TestApp::spawn_with(trusting_loopback, false).await;
    let email = signup(&app).await;
    let home = [("X-Forwarded-For", "198.51.100.7")];
    let creds = [("email", email.as_str()), ("password", PASSWORD)];
    let owner = bare_client();
    assert_eq!(post(&owner, &app.base, "login", &creds, &home).await.0, 200);

    let attacker = bare_client();
    let away = [("X-Forwarded-For", "203.0.113.66")];
    let wrong = [("email", email.as_str()), ("password", WRONG)];
    let mut refused = 0;
    for _ in 0..10 {
        match post(&attacker, &app.base, "login", &wrong, &away).await {
            (400, _) => {}
            (429, body) if too_many(&body).contains("Wait") => refused += 1,
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    assert!(refused > 0, "the attacker was made to wait");
    assert_eq!(
        post(&attacker, &app.base, "login", &creds, &away).await.0,
        429,
        "from the attacker's address even the right password waits"
    );
    assert_eq!(
        post(&bare_client(), &app.base, "login", &creds, &home)
            .await
            .0,
        200,
        "the owner, at home, is not delayed"
    );
    app.stop().await;
}

/// `X-Forwarded-For` names the client only when a trusted proxy sends it: forged by a
/// client it changes nothing; from the proxy, each real client has its own limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    async fn attempt(app: &TestApp, forwarded: &str) -> (u16, Value) {
        let email = format!("{}@example.com", unique("nobody"));
        post(
            &bare_client(),
            &app.base,
            "login",
            &[("email", &email), ("password", WRONG)],
            &[("X-Forwarded-For", forwarded)],
        )
        .await
    }
    let per_address = |s: &mut Settings| s.panel.logins_per_minute = 3;

    // No trusted proxy: each forged address is ignored, the peer's limit holds.
    let app = TestApp::spawn_with(per_address, false).await;
    for n in 1..=3 {
        assert_eq!(attempt(&app, &format!("203.0.113.{n}")).await.0, 400);
    }
    let (status, body) = attempt(&app, "203.0.113.4").await;
    assert_eq!(status, 429, "{body}");
    assert!(too_many(&body).contains("from your address"), "{body}");
    app.stop().await;

    // Behind a trusted proxy: the real client's address is limited, not the proxy's.
    let app = TestApp::spawn_with(
        |s| {
            per_address(s);
            trusting_loopback(s);
        },
        false,
    )
    .await;
    for _ in 0..3 {
        assert_eq!(attempt(&app, "203.0.113.10").await.0, 400);
    }
    assert_eq!(attempt(&app, "203.0.113.10").await.0, 429);
    // A client of the proxy's may name itself first; the proxy's own entry counts.
    assert_eq!(attempt(&app, "198.51.100.1, 203.0.113.10").await.0, 429);
    assert_eq!(attempt(&app, "203.0.113.11").await.0, 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signups_are_limited_per_address() {
    let app = TestApp::spawn_with(
        |s| {
            trusting_loopback(s);
            s.panel.signups_per_hour = 2;
        },
        false,
    )
    .await;
    let signup_from = |ip: &'static str| {
        let base = app.base.clone();
        async move {
            let email = format!("{}@example.com", unique("su"));
            post(
                &bare_client(),
                &base,
                "signup",
                &[("email", &email), ("password", PASSWORD)],
                &[("X-Forwarded-For", ip)],
            )
            .await
        }
    };
    assert_eq!(signup_from("203.0.113.20").await.0, 200);
    assert_eq!(signup_from("203.0.113.20").await.0, 200);
    let (status, body) = signup_from("203.0.113.20").await;
    assert_eq!(status, 429, "{body}");
    assert!(too_many(&body).contains("Too many new accounts from your address"));
    assert_eq!(signup_from("203.0.113.21").await.0, 200);
    app.stop().await;
}

/// Mutations need this panel's Origin (or, without one, its Referer); `Origin: null` and
/// no Origin nor Referer are refused, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_need_the_panels_origin() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let email = signup(&app).await;
    let client = bare_client();
    let creds = [("email", email.as_str()), ("password", PASSWORD)];
    assert_eq!(post(&client, &app.base, "login", &creds, &[]).await.0, 200);

    let base = app.base.as_str();
    let create = |headers: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = format!("{base}/api/create_site");
        async move {
            let mut req = client
                .post(url)
                .form(&[("title", "Csrf"), ("slug", &unique("csrf"))]);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let own_page = format!("{base}/sites/new");
    for (what, headers) in [
        ("Origin: null", vec![("Origin", "null".to_string())]),
        (
            "Origin: null with the panel's Referer",
            vec![("Origin", "null".into()), ("Referer", own_page.clone())],
        ),
        ("no Origin, no Referer", vec![]),
        (
            "a cross-site Origin",
            vec![("Origin", "http://evil.example".into())],
        ),
        (
            "a look-alike Origin",
            vec![("Origin", format!("{base}.evil.example"))],
        ),
        (
            "a cross-site Referer alone",
            vec![("Referer", format!("http://evil.example/{base}"))],
        ),
    ] {
        let (status, body) = create(headers).await;
        assert_eq!(status, 403, "{what}: {body}");
    }
    assert_eq!(
        app.plane
            .store
            .site_count_of(account_id(&app, &email).await)
            .await
            .unwrap(),
        0,
        "nothing was created"
    );
    let (status, body) = create(vec![("Referer", own_page)]).await;
    assert_eq!(
        status, 200,
        "the panel's own Referer stands in for Origin: {body}"
    );
    let (status, body) = create(vec![("Origin", base.to_string())]).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

async fn account_id(app: &TestApp, email: &str) -> i64 {
    let email = mywp_jobs::domain::Email::parse(email).unwrap();
    app.plane
        .store
        .account_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// A form posted without JavaScript goes back to its page: only ever a page of the panel,
/// whatever the Referer says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_redirects_stay_on_the_panel() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    for referer in [
        "http://evil.example/phish".to_string(),
        format!("http://evil.example{}", "/signup"),
        "//evil.example/x".to_string(),
    ] {
        let res = bare_client()
            .post(format!("{}/api/signup", app.base))
            .header("Origin", &app.base)
            .header("Accept", "text/html")
            .header("Referer", &referer)
            .form(&[("email", "x@example.com"), ("password", "short")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{referer}");
        let location = res.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with('/') && !location.starts_with("//"),
            "Referer {referer} sent the browser to {location}"
        );
    }
    app.stop().await;
}

/// Every answer says: no framing, no sniffing, a bounded Referer; a page's inline scripts
/// carry the nonce its policy names, and nothing else may run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_the_security_headers() {
    let app = TestApp::spawn_with(|_| {}, false).await;
    let client = bare_client();
    let check = |res: &reqwest::Response| {
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
        csp
    };
    let page = client
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    let csp = check(&page);
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("a nonce in {csp}"))
        .to_owned();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.unwrap();
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty(), "the page hydrates with scripts");
    for script in scripts {
        let tag = script.split('>').next().unwrap();
        assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "<script{tag}>");
    }
    let second = client
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        !check(&second).contains(&nonce),
        "a fresh nonce for every page"
    );

    for res in [
        client
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap(),
        client
            .get(format!("{}/pkg/none.js", app.base))
            .send()
            .await
            .unwrap(),
        client
            .post(format!("{}/api/me", app.base))
            .header("Origin", &app.base)
            .send()
            .await
            .unwrap(),
        client
            .post(format!("{}/api/me", app.base))
            .send()
            .await
            .unwrap(),
    ] {
        let csp = check(&res);
        assert!(csp.contains("default-src 'none'"), "{csp}");
    }
    app.stop().await;
}

/// The session cookie's `Set-Cookie` value after a login from `client`.
async fn login_cookie(app: &TestApp, client: &reqwest::Client, email: &str) -> String {
    let res = client
        .post(format!("{}/api/login", app.base))
        .header("Origin", &app.base)
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.contains("mywp_session="))
        .expect("a session cookie")
}

/// Who `/api/me` says is signed in with `cookie` (`name=value`).
async fn me(app: &TestApp, cookie: &str) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{}/api/me", app.base))
        .header("Origin", &app.base)
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn name_value(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

/// Under https the cookie is `__Host-` (Secure, path /, no domain); a login never keeps the
/// session it came with; a session left idle ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_host_bound_rotated_and_end_when_idle() {
    let app = TestApp::spawn_serving(|_| {}, false, true).await;
    let email = signup(&app).await;
    let client = bare_client();
    let first = login_cookie(&app, &client, &email).await;
    assert!(first.starts_with("__Host-mywp_session="), "{first}");
    let attrs = first.to_ascii_lowercase();
    assert!(
        attrs.contains("; secure") && attrs.contains("; path=/"),
        "{first}"
    );
    assert!(!attrs.contains("domain="), "{first}");
    assert_eq!(me(&app, name_value(&first)).await["email"], email.as_str());
    let plain = name_value(&first).replacen("__Host-", "", 1);
    assert_eq!(
        me(&app, &plain).await,
        Value::Null,
        "only the __Host- name counts"
    );

    // Logging in again with that session's cookie ends it and opens another.
    let second = bare_client()
        .post(format!("{}/api/login", app.base))
        .header("Origin", &app.base)
        .header("Cookie", name_value(&first))
        .form(&[("email", email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let second = second
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.contains("mywp_session="))
        .unwrap();
    assert_ne!(name_value(&second), name_value(&first));
    assert_eq!(
        me(&app, name_value(&first)).await,
        Value::Null,
        "the old session ended"
    );
    assert_eq!(me(&app, name_value(&second)).await["email"], email.as_str());

    // Left idle past the idle time (two hours by default), it ends.
    let idle_for = |hours: i64| {
        sqlx::query("UPDATE sessions SET last_seen_at = $1")
            .bind(mywp_jobs::store::now_ms() - hours * 3600 * 1000)
            .execute(app.plane.store.pool())
    };
    idle_for(1).await.unwrap();
    assert_eq!(me(&app, name_value(&second)).await["email"], email.as_str());
    idle_for(3).await.unwrap();
    assert_eq!(me(&app, name_value(&second)).await, Value::Null);
    app.stop().await;

    // Over plain http the cookie keeps its plain name.
    let app = TestApp::spawn_with(|_| {}, false).await;
    let email = signup(&app).await;
    let cookie = login_cookie(&app, &bare_client(), &email).await;
    assert!(cookie.starts_with("mywp_session="), "{cookie}");
    assert!(
        !cookie.to_ascii_lowercase().contains("; secure"),
        "{cookie}"
    );
    app.stop().await;
}

/// A customer's sites and snapshot storage are limited, with a message that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_account_limits_are_enforced() {
    let app = TestApp::spawn_with(
        |s| {
            s.panel.max_sites_per_account = 1;
            s.panel.snapshot_quota_mb = 1;
        },
        false,
    )
    .await;
    let c = app.new_customer().await;
    let slug = unique("lim");
    c.create_site("Limited", &slug).await;
    let (status, body) = c
        .call_json("create_site", &[("title", "Two"), ("slug", &unique("lim"))])
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["Conflict"]
            .as_str()
            .unwrap()
            .contains("limit of 1 sites"),
        "{body}"
    );

    // A live site whose snapshots already fill the account's megabyte.
    let store = &app.plane.store;
    let site = store.site_by_slug(&slug).await.unwrap().unwrap();
    store
        .set_site_status(site.id, SiteStatus::Live, None)
        .await
        .unwrap();
    let snapshot = store
        .request_snapshot(site.id, SnapshotKind::Manual, None)
        .await
        .unwrap();
    store.start_snapshot(snapshot.id).await.unwrap();
    let facts = SnapshotFacts {
        database_bytes: 700 * 1024,
        database_sha256: "0".repeat(64),
        files_bytes: 400 * 1024,
        files_sha256: "0".repeat(64),
    };
    store.finish_snapshot(snapshot.id, &facts).await.unwrap();
    let (status, body) = c.call_json("take_snapshot", &[("slug", &slug)]).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["Conflict"]
            .as_str()
            .unwrap()
            .contains("1 MB of snapshot storage"),
        "{body}"
    );
    app.stop().await;
}

/// A flood of logins for unknown emails: password checks run a few at a time, and those
/// beyond the short queue are answered 429 at once instead of waiting (and holding memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_password_checks_is_bounded() {
    let app = TestApp::spawn_with(|s| s.panel.logins_per_minute = 10_000, false).await;
    let answers = futures::future::join_all((0..120).map(|_| {
        let base = app.base.clone();
        tokio::spawn(async move {
            let email = format!("{}@example.com", unique("flood"));
            post(
                &bare_client(),
                &base,
                "login",
                &[("email", &email), ("password", WRONG)],
                &[],
            )
            .await
        })
    }))
    .await;
    let (mut checked, mut busy) = (0, 0);
    for answer in answers {
        match answer.unwrap() {
            (400, _) => checked += 1,
            (429, body) if too_many(&body).contains("busy checking passwords") => busy += 1,
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    assert!(busy > 0, "{checked} checked, none refused");
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(checked >= cores, "{checked} checked");
    app.stop().await;
}
