//! `mywp infra check` in the AWS shape, run as the operator runs it: the `mywp` binary with
//! the configuration in a config file (`--config`), against infrastructure made in moto
//! server and the test MariaDB standing in for RDS.

#![cfg(feature = "aws")]

use std::process::Command;

use mywp_tests::{
    aws::{infra, web_acl},
    mywp_bin, unique,
};

/// Writes `vars` as an env-style config file and runs `mywp --config FILE infra check`:
/// (exit code, output).
fn infra_check(vars: &[(String, String)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mywp.env");
    let mut text = String::from("# written by the test\nMYWP_SHAPE=aws\n");
    for (k, v) in vars {
        text.push_str(&format!("{k}=\"{v}\"\n"));
    }
    std::fs::write(&file, text).unwrap();
    let out = Command::new(mywp_bin())
        .arg("--config")
        .arg(&file)
        .args(["infra", "check"])
        // Only the file configures it (the test process's own MYWP_* must not leak in).
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run mywp infra check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infra_check_reads_everything_back_and_names_what_is_wrong() {
    let good = infra(true).await;
    let (code, out) = infra_check(&good.vars);
    assert_eq!(code, 0, "{out}");
    for what in [
        "media bucket",
        "hosted zone",
        "load balancer",
        "platform certificate",
        "web ACL",
        "file system",
        "mount path",
        "RDS MySQL",
        "backup vault",
        "web fleet",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with("ok") && l.contains(what)),
            "{what} is checked and fine:\n{out}"
        );
    }
    assert!(
        out.contains("Everything the configuration names is in place."),
        "{out}"
    );

    // A bucket that does not exist, a zone of another domain, a wrong RDS password, a web
    // ACL without its rate-based rule on the login paths.
    let mut wrong = good.vars.clone();
    let other_zone = infra(false).await;
    let no_rate_rule = web_acl(&good.clients, false).await;
    for (k, v) in wrong.iter_mut() {
        match k.as_str() {
            "MYWP_AWS_MEDIA_BUCKET" => *v = unique("no-such-bucket-"),
            "MYWP_AWS_HOSTED_ZONE_ID" => *v = other_zone.var("MYWP_AWS_HOSTED_ZONE_ID").into(),
            "MYWP_AWS_WEB_ACL_ARN" => *v = no_rate_rule.clone(),
            _ => {}
        }
    }
    wrong.retain(|(k, _)| k != "MYWP_AWS_RDS_ADMIN_PASSWORD_FILE");
    wrong.push((
        "MYWP_AWS_RDS_ADMIN_PASSWORD".into(),
        "not-the-password".into(),
    ));
    let (code, out) = infra_check(&wrong);
    assert_eq!(code, 1, "{out}");
    let problem = |what: &str| {
        out.lines()
            .find(|l| l.starts_with("PROBLEM") && l.contains(what))
            .unwrap_or_else(|| panic!("a problem with {what} is reported:\n{out}"))
            .to_string()
    };
    assert!(problem("MYWP_AWS_MEDIA_BUCKET").contains("cannot be reached"));
    assert!(problem("MYWP_AWS_HOSTED_ZONE_ID").contains("not of the platform domain"));
    assert!(problem("RDS MySQL").contains("cannot connect"));
    assert!(
        problem("MYWP_AWS_WEB_ACL_ARN").contains(
            "no rate-based rule that blocks per IP address on /wp-login.php and /xmlrpc.php"
        ),
        "{out}"
    );
    assert!(
        !out.contains("not-the-password"),
        "the password is never printed:\n{out}"
    );
    assert!(out.contains("4 problem(s)"), "{out}");

    // A web ACL that is not there at all.
    let mut missing = good.vars.clone();
    for (k, v) in missing.iter_mut() {
        if k == "MYWP_AWS_WEB_ACL_ARN" {
            let name = v.rsplit_once('/').unwrap().0;
            *v = format!("{name}/00000000-0000-0000-0000-000000000000");
        }
    }
    let (code, out) = infra_check(&missing);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("PROBLEM")
            && l.contains("MYWP_AWS_WEB_ACL_ARN")
            && l.contains("cannot be read")),
        "{out}"
    );
    assert!(out.contains("1 problem(s)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok") && l.contains("web fleet")),
        "what is right is still said to be right:\n{out}"
    );
}

#[test]
fn the_single_host_shape_has_nothing_to_check_and_bad_config_files_are_refused() {
    let (code, out) = infra_check(&[]);
    // MYWP_SHAPE=aws without its keys: the first missing one is named.
    assert_ne!(code, 0);
    assert!(
        out.contains("MYWP_PLATFORM_DOMAIN") || out.contains("is not set"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.env");
    std::fs::write(
        &file,
        "MYWP_SHAPE=single-host\nthis line is not a setting\n",
    )
    .unwrap();
    let out = Command::new(mywp_bin())
        .arg(format!("--config={}", file.display()))
        .args(["infra", "check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("bad.env:2: expected KEY=value"), "{text}");

    std::fs::write(&file, "MYWP_SHAPE=single-host\n").unwrap();
    let out = Command::new(mywp_bin())
        .arg("--config")
        .arg(&file)
        .args(["infra", "check"])
        .env_remove("MYWP_SHAPE")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("single-host"));
}
