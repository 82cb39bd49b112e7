//! Over HTTP, end to end: sign up, create a site, see it live on its hostname, open its
//! wp-admin, delete it, and find nothing left of it.

use std::time::Duration;

use mywp_tests::{
    dataplane::{get_site_page, leftovers, site_client, wait_for_title, Leftovers},
    unique, TestApp,
};

const LIVE: Duration = Duration::from_secs(120);
const GONE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_create_live_delete_gone() {
    let app = TestApp::spawn().await;
    let ann = app.new_customer().await;
    let slug = unique("life");
    let title = format!("Ann Blog {slug}");
    ann.create_site(&title, &slug).await;

    let detail = ann.wait_status(&slug, "live", LIVE).await;
    let steps = detail["steps"].as_array().unwrap();
    let state = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap()["state"].clone();
    for done in ["database", "files", "wordpress", "backup"] {
        assert_eq!(state(done), "done", "{done}: {detail}");
    }
    // Steps without an implementation here never claim to be done.
    for absent in ["media", "cdn", "dns", "certificate"] {
        assert_eq!(state(absent), "unavailable", "{absent}: {detail}");
    }

    wait_for_title(&slug, &title).await;
    let db = app.site_db(&slug).await;
    assert_eq!(leftovers(&db, &slug).await, Leftovers::ONE);
    let snapshots = mywp_tests::dataplane::config()
        .state_dir
        .join("snapshots")
        .join(&slug);
    assert!(
        snapshots.is_dir(),
        "the backup step makes the site's snapshot directory"
    );

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
    ann.wait_gone(&slug, GONE).await;
    assert_eq!(leftovers(&db, &slug).await, Leftovers::NONE);
    assert!(
        !snapshots.exists(),
        "the snapshot directory goes with the site"
    );
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
    ann.wait_status(&slug, "live", LIVE).await;

    let res = ann.call("open_wp_admin", &[("slug", &slug)]).await;
    assert_eq!(res.status(), 200);
    let link = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(link.contains("mywp-login="), "{link}");

    // Followed as a browser would, the link ends on the dashboard, logged in.
    let res = site_client(&slug).get(&link).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.url().path(), "/wp-admin/");
    assert!(res.text().await.unwrap().contains("Dashboard"));
    // It works once.
    let again = site_client(&slug).get(&link).send().await.unwrap();
    assert_eq!(again.status(), 403);
    // Another customer cannot get a link to this site.
    let eve = app.new_customer().await;
    assert_eq!(
        eve.call("open_wp_admin", &[("slug", &slug)]).await.status(),
        404
    );

    ann.call("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    ann.wait_gone(&slug, GONE).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_control_plane_and_queue_provision_a_site() {
    let db = mywp_tests::postgres::TestDatabase::create("lifepg").await;
    let url = db.url.clone();
    let app = TestApp::spawn_with(
        move |c| c.database_url = Some(mywp_jobs::secrets::Secret::new(url)),
        true,
    )
    .await;
    let ann = app.new_customer().await;
    let slug = unique("pg");
    let title = format!("On Postgres {slug}");
    ann.create_site(&title, &slug).await;
    let detail = ann.wait_status(&slug, "live", LIVE).await;
    let database = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "database")
        .unwrap()
        .clone();
    assert_eq!(
        database["attempts"], 1,
        "the database step ran once: {detail}"
    );
    wait_for_title(&slug, &title).await;
    let site_db = app.site_db(&slug).await;

    ann.call("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    ann.wait_gone(&slug, GONE).await;
    assert_eq!(leftovers(&site_db, &slug).await, Leftovers::NONE);
    app.stop().await;
    db.drop_database().await;
}
