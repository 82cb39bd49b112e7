//! Each site's database is its own (issue 9, point 1): names come from the site's id, so
//! the slug collision that made two customers share a database no longer can; and a site
//! made by the previous code (`wp_<slug>`) moves to its new name when it reconverges, its
//! content intact.

use std::time::Duration;

use mywp_jobs::{
    domain::SiteSlug,
    drivers::local::LocalConfig,
    sitedb::{legacy_db_name, legacy_db_password},
};
use mywp_tests::{
    dataplane::{config, get_site_page, leftovers, site_sql, wait_for_title, Leftovers},
    unique, wait_for, TestApp,
};
use sqlx::{ConnectOptions, Connection};

const LIVE: Duration = Duration::from_secs(120);
const GONE: Duration = Duration::from_secs(60);

/// Runs `sql` as the database server's administrator.
async fn admin_sql(cfg: &LocalConfig, sql: &str) {
    let mut conn = cfg.db.admin_options().connect().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
}

async fn tables(cfg: &LocalConfig, db: &str) -> i64 {
    let mut conn = cfg.db.admin_options().connect().await.unwrap();
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?")
            .bind(db)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.ok();
    n
}

/// Issue 9's attack: a slug of 30+ characters, and the 29-character slug made of its first
/// 20 characters and the 8 hex digits of its hash, which the previous code gave the same
/// database. Two customers make them: each site gets its own database and serves its own
/// title, and deleting the attacker's leaves the victim's intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_slugs_get_their_own_databases() {
    let app = TestApp::spawn().await;
    let cfg = config();
    let victim = app.new_customer().await;
    let attacker = app.new_customer().await;
    let mut long = unique("dbc");
    while long.len() < 36 {
        long.push('a');
    }
    let legacy = legacy_db_name(&long);
    let crafted = format!("{}-{}", &long[..20], &legacy[legacy.len() - 8..]);
    assert_eq!(crafted.len(), 29);
    assert_eq!(
        legacy_db_name(&crafted),
        legacy,
        "the slugs collided before"
    );

    let (victim_title, attacker_title) = (format!("Victim {long}"), format!("Attacker {crafted}"));
    victim.create_site(&victim_title, &long).await;
    attacker.create_site(&attacker_title, &crafted).await;
    victim.wait_status(&long, "live", LIVE).await;
    attacker.wait_status(&crafted, "live", LIVE).await;
    let (victim_db, attacker_db) = (app.site_db(&long).await, app.site_db(&crafted).await);
    assert_ne!(victim_db, attacker_db);
    wait_for_title(&long, &victim_title).await;
    wait_for_title(&crafted, &attacker_title).await;
    assert_eq!(leftovers(&victim_db, &long).await, Leftovers::ONE);
    assert_eq!(leftovers(&attacker_db, &crafted).await, Leftovers::ONE);
    assert_eq!(
        tables(&cfg, &legacy).await,
        0,
        "nothing uses the legacy name"
    );

    attacker
        .call("delete_site", &[("slug", &crafted), ("confirm", &crafted)])
        .await;
    attacker.wait_gone(&crafted, GONE).await;
    assert_eq!(leftovers(&attacker_db, &crafted).await, Leftovers::NONE);
    assert_eq!(leftovers(&victim_db, &long).await, Leftovers::ONE);
    wait_for_title(&long, &victim_title).await;

    victim
        .call("delete_site", &[("slug", &long), ("confirm", &long)])
        .await;
    victim.wait_gone(&long, GONE).await;
    assert_eq!(leftovers(&victim_db, &long).await, Leftovers::NONE);
    app.stop().await;
}

/// A published post the home page lists.
fn post_sql(title: &str) -> String {
    format!(
        "INSERT INTO wp_posts (post_author, post_date, post_date_gmt, post_content, post_title, \
         post_excerpt, post_status, post_name, to_ping, pinged, post_modified, \
         post_modified_gmt, post_content_filtered, post_type) VALUES (1, NOW(), UTC_TIMESTAMP(), \
         'Written before the upgrade.', '{title}', '', 'publish', 'before-the-upgrade', '', '', \
         NOW(), UTC_TIMESTAMP(), '', 'post')"
    )
}

async fn wait_for_post(slug: &str, title: &str) {
    wait_for(
        &format!("{slug} to list {title}"),
        Duration::from_secs(30),
        || async {
            let (status, body) = get_site_page(slug).await;
            if status == 200 && body.contains(title) {
                Ok(())
            } else {
                Err(format!("HTTP {status}"))
            }
        },
    )
    .await
}

/// A site as the previous code left it — database and user `wp_<slug>`, the password it
/// derived from the slug, granted on that database, the site's config naming them — is
/// moved by its next reconverge: same content, the new name, the legacy ones gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_made_before_the_upgrade_moves_with_its_content() {
    let app = TestApp::spawn().await;
    let cfg = config();
    let ann = app.new_customer().await;
    let slug = unique("upg");
    let title = format!("Upgraded {slug}");
    ann.create_site(&title, &slug).await;
    ann.wait_status(&slug, "live", LIVE).await;
    let db = app.site_db(&slug).await;
    let post = format!("Post of {slug}");
    site_sql(&cfg, &db, post_sql(&post)).await;
    wait_for_post(&slug, &post).await;

    // Back to what the previous code made (its ensure, statement by statement).
    let legacy = legacy_db_name(&slug);
    let legacy_password = legacy_db_password(&slug, &cfg.master_key);
    let host = &cfg.db_user_host;
    admin_sql(
        &cfg,
        &format!("CREATE DATABASE `{legacy}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
    )
    .await;
    let mut conn = cfg.db.admin_options().connect().await.unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = ?",
    )
    .bind(&db)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    for t in &names {
        admin_sql(
            &cfg,
            &format!("RENAME TABLE `{db}`.`{t}` TO `{legacy}`.`{t}`"),
        )
        .await;
    }
    admin_sql(&cfg, &format!("DROP DATABASE `{db}`")).await;
    admin_sql(&cfg, &format!("DROP USER '{db}'@'{host}'")).await;
    admin_sql(
        &cfg,
        &format!("DELETE FROM mywp_registry.site_databases WHERE name = '{db}'"),
    )
    .await;
    admin_sql(
        &cfg,
        &format!(
            "CREATE USER '{legacy}'@'{host}' IDENTIFIED BY '{}'",
            legacy_password.expose()
        ),
    )
    .await;
    admin_sql(
        &cfg,
        &format!(
            "GRANT ALL PRIVILEGES ON `{}`.* TO '{legacy}'@'{host}'",
            legacy.replace('_', "\\_")
        ),
    )
    .await;
    let config_php = cfg.site_config(&SiteSlug::from_stored(&slug).unwrap());
    let site = app.plane.store.site_by_slug(&slug).await.unwrap().unwrap();
    let current = mywp_jobs::sitedb::SiteDatabase::of(
        &app.plane.pipeline.spec(&site).await.unwrap(),
        &cfg_namespace(&app),
        &cfg.master_key,
    )
    .unwrap();
    let text = std::fs::read_to_string(&config_php).unwrap();
    assert!(text.contains(&db) && text.contains(current.password.expose()));
    let old_text = text
        .replace(&format!("'{db}'"), &format!("'{legacy}'"))
        .replace(current.password.expose(), legacy_password.expose());
    std::fs::write(&config_php, old_text).unwrap();
    // The previous code's site works as it did.
    wait_for_post(&slug, &post).await;
    assert_eq!(tables(&cfg, &db).await, 0);

    // The upgraded panel reconverges it (as adding a domain does).
    app.plane.store.reconverge_site(site.id).await.unwrap();
    app.plane
        .queue
        .enqueue(site.id, Duration::ZERO)
        .await
        .unwrap();
    ann.wait_status(&slug, "live", LIVE).await;
    wait_for_title(&slug, &title).await;
    wait_for_post(&slug, &post).await;
    assert_eq!(
        tables(&cfg, &db).await,
        names.len() as i64,
        "every table moved"
    );
    assert_eq!(leftovers(&db, &slug).await, Leftovers::ONE);
    assert_eq!(
        leftovers(&legacy, &slug).await,
        Leftovers {
            directory: true,
            server_block: true,
            ..Leftovers::NONE
        },
        "the legacy database and user are gone"
    );
    let text = std::fs::read_to_string(&config_php).unwrap();
    assert!(text.contains(&format!("'{db}'")) && !text.contains(&legacy));

    ann.call("delete_site", &[("slug", &slug), ("confirm", &slug)])
        .await;
    ann.wait_gone(&slug, GONE).await;
    assert_eq!(leftovers(&db, &slug).await, Leftovers::NONE);
    app.stop().await;
}

fn cfg_namespace(app: &TestApp) -> mywp_jobs::sitedb::DbNamespace {
    app.config.host.db_namespace.clone()
}
