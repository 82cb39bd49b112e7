//! A customer's own domains on a single host, over HTTP: added (IDNA-normalised, refused
//! when bad or taken), served by the site, made the site's address (WordPress then links
//! to it), given back to the platform hostname, and
//! removed (no longer served).

use std::time::Duration;

use mywp_tests::{
    customer::Customer,
    dataplane::{config, get_host},
    unique, wait_for, TestApp,
};

const LIVE: Duration = Duration::from_secs(120);

/// Waits (bounded) until `host` answers as `want` says; returns what it answered.
async fn wait_host(
    host: &str,
    what: &str,
    want: impl Fn(u16, Option<&str>, &str) -> bool,
) -> (u16, Option<String>, String) {
    wait_for(
        &format!("{host}: {what}"),
        Duration::from_secs(30),
        || async {
            let (status, location, body) = get_host(host).await;
            if want(status, location.as_deref(), &body) {
                Ok((status, location, body))
            } else {
                Err(format!("{status} {location:?}"))
            }
        },
    )
    .await
}

async fn change(ann: &Customer, endpoint: &str, slug: &str, hostname: &str) {
    let (status, body) = ann
        .call_json(endpoint, &[("slug", slug), ("hostname", hostname)])
        .await;
    assert_eq!(status, 200, "{endpoint} {hostname}: {body}");
    ann.wait_status(slug, "live", LIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_is_added_served_made_the_address_and_removed() {
    let app = TestApp::spawn().await;
    let ann = app.new_customer().await;
    let cfg = config();
    let slug = unique("dom");
    let title = format!("Domains {slug}");
    ann.create_site(&title, &slug).await;
    ann.wait_status(&slug, "live", LIVE).await;
    let platform = cfg.addressing.platform_host_of(&slug);

    // Bad input: a clear error on the field, nothing recorded.
    for bad in [
        "not a domain",
        "https://x.example/",
        &format!("shop.{platform}"),
    ] {
        let (status, body) = ann
            .call_json("add_domain", &[("slug", &slug), ("hostname", bad)])
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["Invalid"]["field"], "hostname", "{bad}");
    }
    let (_, detail) = ann.site(&slug).await;
    assert_eq!(detail["domains"]["items"].as_array().unwrap().len(), 0);
    assert_eq!(detail["domains"]["platform_host"], platform.as_str());

    // Added as typed by a person (capitals, a trailing dot), kept in its ASCII form.
    let domain = format!("www.{slug}.test");
    change(&ann, "add_domain", &slug, &format!("WWW.{slug}.Test.")).await;
    let (_, detail) = ann.site(&slug).await;
    assert_eq!(detail["domains"]["items"][0]["hostname"], domain.as_str());
    assert_eq!(detail["domains"]["primary"], serde_json::Value::Null);
    // The domain serves the site (whose links still name its address, the platform hostname).
    let (_, _, body) = wait_host(&domain, "the site", |s, _, b| {
        s == 200 && b.contains(&format!("<title>{title}"))
    })
    .await;
    assert!(
        body.contains(&cfg.addressing.site_url(&slug)),
        "links name the address"
    );

    // Nobody else may map it.
    let bob = app.new_customer().await;
    let bobs = unique("bob");
    bob.create_site("Bob's", &bobs).await;
    let (status, body) = bob
        .call_json("add_domain", &[("slug", &bobs), ("hostname", &domain)])
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["Invalid"]["message"]
        .as_str()
        .unwrap()
        .contains("already mapped"));
    // Nor touch Ann's site's domains.
    for endpoint in ["add_domain", "remove_domain", "set_primary_domain"] {
        let (status, body) = bob
            .call_json(endpoint, &[("slug", &slug), ("hostname", &domain)])
            .await;
        assert_eq!(status, 404, "{endpoint}: {body}");
    }

    // The domain becomes the site's address.
    change(&ann, "set_primary_domain", &slug, &domain).await;
    let home = format!("http://{domain}:{}", cfg.addressing.port);
    let (_, _, body) = wait_host(&domain, "the site", |s, _, b| {
        s == 200 && b.contains(&format!("<title>{title}"))
    })
    .await;
    assert!(body.contains(&home), "WordPress links to its new address");
    wait_host(&platform, "a redirect to the domain", |s, l, _| {
        s == 301 && l.is_some_and(|l| l.starts_with(&home))
    })
    .await;
    let (_, detail) = ann.site(&slug).await;
    assert_eq!(detail["site"]["url"], format!("{home}/").as_str());
    // The wp-admin link goes to the address, where the login cookie must be set.
    let res = ann.call("open_wp_admin", &[("slug", &slug)]).await;
    let to = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(to.starts_with(&format!("{home}/?mywp-login=")), "{to}");

    // A domain cannot be made the address of another customer's site, nor a stranger's.
    let (status, body) = ann
        .call_json(
            "set_primary_domain",
            &[("slug", &slug), ("hostname", "other.example")],
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // Back to the platform hostname, then removed: the domain is no longer served.
    change(&ann, "set_primary_domain", &slug, "").await;
    wait_host(&platform, "the site", |s, _, b| {
        s == 200 && b.contains(&format!("<title>{title}"))
    })
    .await;
    change(&ann, "remove_domain", &slug, &domain).await;
    wait_host(&domain, "nothing", |s, _, _| s == 404).await;
    let (_, detail) = ann.site(&slug).await;
    assert_eq!(detail["domains"]["items"].as_array().unwrap().len(), 0);

    // Removed from Ann's site, the domain is free for Bob's.
    let (status, body) = bob
        .call_json("add_domain", &[("slug", &bobs), ("hostname", &domain)])
        .await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}
