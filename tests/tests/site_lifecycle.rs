//! Over HTTP, end to end: sign up, create a site, see it live on its hostname, delete it,
//! and find nothing left of it.

use std::time::Duration;

use mywp_tests::{
    dataplane::{get_site_page, leftovers, Leftovers},
    unique, TestApp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_create_live_delete_gone() {
    let app = TestApp::spawn().await;
    let ann = app.new_customer().await;
    let slug = unique("life");
    let title = format!("Ann's Blog {slug}");
    ann.create_site(&title, &slug).await;

    let detail = ann
        .wait_status(&slug, "live", Duration::from_secs(120))
        .await;
    let steps = detail["steps"].as_array().unwrap();
    let state = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap()["state"].clone();
    for done in ["database", "files", "wordpress"] {
        assert_eq!(state(done), "done", "{done}: {detail}");
    }
    // Steps without an implementation here never claim to be done.
    for absent in ["media", "cdn", "dns", "certificate", "backup"] {
        assert_eq!(state(absent), "unavailable", "{absent}: {detail}");
    }

    let (status, body) = get_site_page(&slug).await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&title.replace('\'', "&#8217;")) || body.contains(&title),
        "the title is on the page"
    );
    assert_eq!(leftovers(&slug).await, Leftovers::ONE);

    // The list shows it.
    let (status, list) = ann.call_json("list_sites", &[("page", "1")]).await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["sites"][0]["slug"], slug.as_str());

    // A wrong confirmation deletes nothing.
    let (status, body) = ann
        .call_json("delete_site", &[("slug", &slug), ("confirm", "nope")])
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["Invalid"]["field"], "confirm");
    assert_eq!(get_site_page(&slug).await.0, 200);

    let (status, body) = ann
        .call_json("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    assert_eq!(status, 200, "{body}");
    ann.wait_gone(&slug, Duration::from_secs(60)).await;
    assert_eq!(leftovers(&slug).await, Leftovers::NONE);
    let (status, _) = get_site_page(&slug).await;
    assert_eq!(status, 404, "the hostname no longer serves the site");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wp_admin_login_link_opens_the_dashboard_once() {
    let app = TestApp::spawn().await;
    let ann = app.new_customer().await;
    let slug = unique("adm");
    ann.create_site("Admin Test", &slug).await;
    ann.wait_status(&slug, "live", Duration::from_secs(120))
        .await;

    let res = ann.call("open_wp_admin", &[("slug", &slug)]).await;
    assert_eq!(res.status(), 200);
    let link = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(link.contains("mywp-login="), "{link}");

    // Follow the link as the browser would, against nginx on loopback.
    let cfg = mywp_tests::dataplane::config();
    let url = reqwest::Url::parse(&link).unwrap();
    let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    let wp = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let host = format!("{}:{}", cfg.site_host(&slug), cfg.sites_port);
    let first = wp
        .get(format!("http://127.0.0.1:{}{path}", cfg.sites_port))
        .header("Host", &host)
        .send()
        .await
        .unwrap();
    assert!(
        first.status().is_redirection(),
        "first use logs in: {}",
        first.status()
    );
    let cookies: Vec<_> = first
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("wordpress_logged_in_")),
        "{cookies:?}"
    );
    let dashboard = wp
        .get(format!("http://127.0.0.1:{}/wp-admin/", cfg.sites_port))
        .header("Host", &host)
        .header(
            "Cookie",
            cookies
                .iter()
                .map(|c| c.split(';').next().unwrap())
                .collect::<Vec<_>>()
                .join("; "),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), 200);
    assert!(dashboard.text().await.unwrap().contains("Dashboard"));

    let again = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}{path}", cfg.sites_port))
        .header("Host", &host)
        .send()
        .await
        .unwrap();
    let again_cookies: Vec<_> = again
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert!(
        !again_cookies
            .iter()
            .any(|c| c.starts_with("wordpress_logged_in_")),
        "a link works once"
    );

    ann.call("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    ann.wait_gone(&slug, Duration::from_secs(60)).await;
    app.stop().await;
}
