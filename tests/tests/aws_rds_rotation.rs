//! RDS rotates its managed master secret (every 7 days by default). The panel reads the
//! master login from Secrets Manager (moto) and, when the database (the test MariaDB over
//! TCP, as RDS MySQL) refuses it, reads the secret again and carries on; a refused login
//! whose secret did not change is a permanent error that says so.

#![cfg(feature = "aws")]

use std::sync::Arc;

use mywp_jobs::drivers::{
    aws::resolve_rds_secret, local::MariaDbDriver, Ensured, SiteSpec, StepDriver,
};
use mywp_tests::{
    aws::{infra, web_config, TestInfra},
    dataplane::leftovers_in,
    unique,
};
use sqlx::{ConnectOptions, Connection};

fn site(id: i64, slug: &str) -> SiteSpec {
    let no_hosts: [&str; 0] = [];
    SiteSpec::parse(
        id,
        slug,
        &format!("Rotation {slug}"),
        "owner@example.com",
        &no_hosts,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_master_password_is_read_again() {
    let base = infra(false).await;
    let clients = base.clients.clone();
    // The test's own master user on the "RDS" server, its login in a secret.
    let user: String = unique("rot").chars().take(30).collect();
    let sql = |statement: String| {
        let options = web_config(&base).db.admin_options();
        async move {
            let mut conn = options
                .connect()
                .await
                .expect("connect as the test's admin");
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .expect("run the statement");
            conn.close().await.ok();
        }
    };
    sql(format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'first-pass-1'"
    ))
    .await;
    sql(format!(
        "GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION"
    ))
    .await;
    let login = |password: &str| format!(r#"{{"username":"{user}","password":"{password}"}}"#);
    let secret = clients
        .secrets
        .create_secret()
        .name(unique("rds-master"))
        .secret_string(login("first-pass-1"))
        .send()
        .await
        .unwrap();
    let arn = secret.arn().unwrap().to_string();
    let mut cfg = base.cfg.clone();
    cfg.rds.admin_secret_arn = Some(arn.clone());
    resolve_rds_secret(&mut cfg, &clients).await.unwrap();
    assert_eq!(cfg.rds.admin.user(), user);
    let mine = TestInfra {
        vars: base.vars.clone(),
        cfg,
        clients: clients.clone(),
    };
    let web = web_config(&mine);
    let first = site(900_001, &unique("rot"));
    let driver = MariaDbDriver::new(Arc::new(web.clone()));
    assert!(matches!(
        driver.ensure(&first).await.unwrap(),
        Ensured::Done { .. }
    ));

    // RDS rotates: the password changes, and the secret with it.
    sql(format!(
        "ALTER USER '{user}'@'%' IDENTIFIED BY 'second-pass-2'"
    ))
    .await;
    clients
        .secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(login("second-pass-2"))
        .send()
        .await
        .unwrap();
    // A driver that connects now (a worker started before the rotation) is refused once,
    // reads the secret again, and the retry goes through.
    let second = site(900_002, &unique("rot"));
    let driver = MariaDbDriver::new(Arc::new(web.clone()));
    let refused = driver
        .ensure(&second)
        .await
        .expect_err("the old password is refused");
    assert!(refused.is_transient(), "{refused:?}");
    assert!(refused.to_string().contains("rotated"), "{refused}");
    assert!(!refused.to_string().contains("second-pass"), "{refused}");
    assert!(matches!(
        driver.ensure(&second).await.unwrap(),
        Ensured::Done { .. }
    ));
    assert_eq!(web.db.admin().unwrap().password().expose(), "second-pass-2");

    // A password changed without the secret: refused for good, with the server's reason.
    sql(format!(
        "ALTER USER '{user}'@'%' IDENTIFIED BY 'third-pass-3'"
    ))
    .await;
    let driver = MariaDbDriver::new(Arc::new(web.clone()));
    let third = site(900_003, &unique("rot"));
    let refused = driver.ensure(&third).await.expect_err("a wrong password");
    assert!(!refused.is_transient(), "{refused:?}");
    assert!(refused.to_string().contains("Access denied"), "{refused}");

    // Clean up with the test's admin.
    for s in [&first, &second] {
        let name = web.db_namespace.db_name(s.id);
        sql(format!("DROP DATABASE IF EXISTS `{name}`")).await;
        sql(format!("DROP USER IF EXISTS '{name}'@'%'")).await;
        sql(format!(
            "DELETE FROM mywp_registry.site_databases WHERE name = '{name}'"
        ))
        .await;
        assert_eq!(
            leftovers_in(&web_config(&base), &name, &s.slug).await,
            mywp_tests::dataplane::Leftovers {
                directory: false,
                server_block: false,
                ..mywp_tests::dataplane::Leftovers::NONE
            }
        );
    }
    sql(format!("DROP USER '{user}'@'%'")).await;
    clients
        .secrets
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
}
