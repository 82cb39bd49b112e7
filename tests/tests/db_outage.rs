//! MariaDB away for longer than the retries last (~4 s) no longer fails a site's
//! provisioning for good: the database step waits for the server, round after round, and
//! the site goes live once it is back. The test runs its own MariaDB, which it starts only
//! after the site was asked for; every other test keeps the shared one.

use std::time::Duration;

use mywp_tests::{dataplane::wait_for_title, own_mariadb::OwnMariaDb, unique, wait_for, TestApp};
use serde_json::Value;

const LIVE: Duration = Duration::from_secs(120);

fn database_step(detail: &Value) -> Value {
    detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "database")
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_waits_out_a_mariadb_outage() {
    let mut db = OwnMariaDb::install().await;
    let socket = db.socket.clone();
    let app = TestApp::spawn_with(move |c| c.host.mariadb_socket = Some(socket), true).await;
    let ann = app.new_customer().await;
    let slug = unique("out");
    let title = format!("Outage {slug}");
    ann.create_site(&title, &slug).await;

    // Two rounds of tries and the wait between them: longer than the retries alone last.
    let seen = wait_for("the database step to wait out two rounds", LIVE, || async {
        let (_, detail) = ann.site(&slug).await;
        let step = database_step(&detail);
        assert_ne!(detail["site"]["status"], "failed", "{detail}");
        assert_ne!(step["state"], "failed", "{detail}");
        if step["state"] == "waiting" && step["attempts"].as_i64().unwrap_or(0) >= 10 {
            Ok(step)
        } else {
            Err(step.to_string())
        }
    })
    .await;
    let error = seen["error"].as_str().unwrap_or_default();
    assert!(error.contains("cannot reach MariaDB"), "{seen}");

    db.start().await;
    ann.wait_status(&slug, "live", LIVE).await;
    wait_for_title(&slug, &title).await;

    ann.call("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    ann.wait_gone(&slug, LIVE).await;
    app.stop().await;
    db.stop().await;
}
