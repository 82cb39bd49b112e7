//! Password guessing on a single host: nginx limits `/wp-login.php` and `/xmlrpc.php` per
//! client address (`limit_req`, zone `mywp_login` in the data plane's nginx.conf). A client
//! that floods them gets 429 there, and still gets the site's pages; another client logs
//! in as usual meanwhile.
//!
//! Each client comes from its own loopback address (any 127.x.y.z reaches nginx on
//! 127.0.0.1), unique to this run, so other tests' requests never share its budget.

use std::{net::IpAddr, time::Duration};

use mywp_tests::{
    dataplane::{self, wait_for_title},
    unique, TestApp,
};

const LIVE: Duration = Duration::from_secs(120);

/// A loopback address of its own for one client of this test run.
fn client_address(n: u8) -> IpAddr {
    let pid = std::process::id();
    IpAddr::from([127, 66, (pid % 251) as u8, n])
}

/// A browser-like client (cookies, redirects followed) of `slug`'s hostname, connecting
/// from `from`.
fn client_from(slug: &str, from: IpAddr) -> reqwest::Client {
    dataplane::site_client_builder(slug)
        .local_address(from)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

const XMLRPC_LOGIN: &str = "<?xml version=\"1.0\"?><methodCall>\
    <methodName>wp.getUsersBlogs</methodName><params>\
    <param><value><string>owner</string></value></param>\
    <param><value><string>guess</string></value></param>\
    </params></methodCall>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_gets_429_while_the_site_and_other_logins_work() {
    let app = TestApp::spawn().await;
    let ann = app.new_customer().await;
    let slug = unique("rate");
    let title = format!("Rate Blog {slug}");
    ann.create_site(&title, &slug).await;
    ann.wait_status(&slug, "live", LIVE).await;
    wait_for_title(&slug, &title).await;
    // A password the test knows (WordPress takes an MD5 hash and rehashes it at login).
    let password = unique("pw-");
    dataplane::site_sql(
        &dataplane::config(),
        &app.site_db(&slug).await,
        format!(
            "UPDATE wp_users SET user_login = 'owner', user_pass = MD5('{password}') WHERE ID = 1"
        ),
    )
    .await;
    let site = dataplane::config().addressing.site_url(&slug);
    let site = site.trim_end_matches('/');

    // The attacker guesses through both doors, alternately, until each answers 429.
    let attacker = client_from(&slug, client_address(1));
    let (mut login, mut xmlrpc) = (Vec::new(), Vec::new());
    for _ in 0..60 {
        let res = attacker
            .post(format!("{site}/wp-login.php"))
            .form(&[("log", "owner"), ("pwd", "guess"), ("wp-submit", "Log In")])
            .send()
            .await
            .expect("POST /wp-login.php");
        login.push(res.status().as_u16());
        let res = attacker
            .post(format!("{site}/xmlrpc.php"))
            .header("Content-Type", "text/xml")
            .body(XMLRPC_LOGIN)
            .send()
            .await
            .expect("POST /xmlrpc.php");
        xmlrpc.push(res.status().as_u16());
        if login.contains(&429) && xmlrpc.contains(&429) {
            break;
        }
    }
    assert_eq!(
        login[0], 200,
        "the first login attempt reaches WordPress: {login:?}"
    );
    assert_eq!(
        xmlrpc[0], 200,
        "the first XML-RPC call reaches WordPress: {xmlrpc:?}"
    );
    assert!(login.contains(&429), "wp-login.php is limited: {login:?}");
    assert!(xmlrpc.contains(&429), "xmlrpc.php is limited: {xmlrpc:?}");
    assert!(
        login.iter().chain(&xmlrpc).all(|s| *s == 200 || *s == 429),
        "nothing but WordPress's answers and 429: {login:?} {xmlrpc:?}"
    );

    // The limit is on the login doors only: the attacker still gets the home page.
    let res = attacker.get(format!("{site}/")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.text().await.unwrap().contains(&title));

    // Another client logs in as usual: the form, then the password, then the dashboard.
    let owner = client_from(&slug, client_address(2));
    let res = owner
        .get(format!("{site}/wp-login.php"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "the login form");
    let res = owner
        .post(format!("{site}/wp-login.php"))
        .form(&[
            ("log", "owner"),
            ("pwd", password.as_str()),
            ("wp-submit", "Log In"),
            ("testcookie", "1"),
            ("redirect_to", &format!("{site}/wp-admin/")),
        ])
        .send()
        .await
        .expect("log in");
    let landed = res.url().path().to_string();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{landed}: {body:.300}");
    assert_eq!(landed, "/wp-admin/", "{body:.300}");
    assert!(body.contains("Dashboard"), "{body:.300}");
    app.stop().await;
}
