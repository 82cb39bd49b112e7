//! Staff's web fleet page in the AWS shape: a `mywp serve` configured by a config file reads
//! the Auto Scaling group made in moto through aws-sdk-autoscaling and aws-sdk-ec2, and shows
//! each instance per availability zone with its state and health. Customers may not see it.

#![cfg(feature = "aws")]

use mywp_tests::{
    aws::{infra, panel_vars, run_mywp, spawn_panel, write_config},
    postgres::TestDatabase,
    unique, Customer,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_the_web_fleet_per_zone_and_customers_do_not() {
    let infra = infra(true).await;
    let db = TestDatabase::create("aws_fleet").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &panel_vars(&infra, &db.url));
    let (_panel, base) = spawn_panel(&config);

    // The fleet as EC2 Auto Scaling says it is.
    let groups = infra
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&infra.cfg.web_asg)
        .send()
        .await
        .unwrap();
    let mut expected: Vec<(String, String)> = groups.auto_scaling_groups()[0]
        .instances()
        .iter()
        .map(|i| {
            (
                i.availability_zone().unwrap().to_string(),
                i.instance_id().unwrap().to_string(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 2);

    let email = format!("{}@example.com", unique("staff"));
    let (ok, out) = run_mywp(&config, &["staff", "add", &email]);
    assert!(ok, "{out}");
    let password = out
        .split("with password: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a generated password in: {out}"))
        .to_string();
    let staff = Customer::new(&base);
    let res = staff
        .call(
            "login",
            &[("email", email.as_str()), ("password", password.as_str())],
        )
        .await;
    assert!(res.status().is_success(), "staff login: {}", res.status());

    let (status, fleet) = staff.call_json("web_fleet", &[]).await;
    assert_eq!(status, 200, "{fleet}");
    assert_eq!(fleet["shape"], "aws");
    let nodes = fleet["nodes"].as_array().expect("nodes");
    let seen: Vec<(String, String)> = nodes
        .iter()
        .map(|n| {
            (
                n["availability_zone"].as_str().unwrap().to_string(),
                n["instance_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(seen, expected, "every instance, sorted by zone");
    for node in nodes {
        assert_eq!(node["lifecycle_state"], "InService", "{node}");
        assert_eq!(node["health_status"], "Healthy", "{node}");
        assert_eq!(node["state"], "running", "{node}");
        assert_eq!(node["instance_type"], "t3.small", "{node}");
    }
    let (status, page) = staff.page("/staff/fleet").await;
    assert_eq!(status, 200);
    for (zone, id) in &expected {
        assert!(page.contains(id.as_str()), "the page lists {id}");
        assert!(page.contains(zone.as_str()), "the page names {zone}");
    }

    // A customer is refused; signed out is asked to log in.
    let customer = Customer::new(&base);
    let signup = customer
        .call(
            "signup",
            &[
                ("email", format!("{}@example.com", unique("c")).as_str()),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert!(signup.status().is_success());
    let (status, body) = customer.call_json("web_fleet", &[]).await;
    assert_eq!(status, 403, "{body}");
    // The page shows this error as "This page is for staff.".
    assert_eq!(body, "Forbidden");
    let (status, _) = Customer::new(&base).call_json("web_fleet", &[]).await;
    assert_eq!(status, 401);
    db.drop_database().await;
}
