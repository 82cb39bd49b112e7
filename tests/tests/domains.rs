//! A customer's own domains on a single host, over HTTP, with a real DNS server of the
//! test's own (dnsmasq): a domain is claimed (IDNA-normalised, refused when bad, invisible
//! or taken), not served until its DNS proves it the site's (a CNAME to the platform
//! hostname, or the site's TXT record), "check now" (also as a form post without
//! JavaScript), served, made the site's address (WordPress then links to it), given back
//! to the platform hostname, and removed (no longer served); a proof that disappears is
//! found by the periodic check, and the domain stops being served.

use std::time::Duration;

use mywp_tests::{
    customer::Customer,
    dataplane::{config, get_host},
    dns::DnsServer,
    unique, wait_for, TestApp,
};
use serde_json::Value;

const LIVE: Duration = Duration::from_secs(120);

/// Waits (bounded) until `host` answers as `want` says; returns what it answered.
async fn wait_host(
    host: &str,
    what: &str,
    want: impl Fn(u16, Option<&str>, &str) -> bool,
) -> (u16, Option<String>, String) {
    wait_host_for(host, what, Duration::from_secs(30), want).await
}

async fn wait_host_for(
    host: &str,
    what: &str,
    timeout: Duration,
    want: impl Fn(u16, Option<&str>, &str) -> bool,
) -> (u16, Option<String>, String) {
    wait_for(&format!("{host}: {what}"), timeout, || async {
        let (status, location, body) = get_host(host).await;
        if want(status, location.as_deref(), &body) {
            Ok((status, location, body))
        } else {
            Err(format!("{status} {location:?}"))
        }
    })
    .await
}

async fn change(ann: &Customer, endpoint: &str, slug: &str, hostname: &str) {
    let (status, body) = ann
        .call_json(endpoint, &[("slug", slug), ("hostname", hostname)])
        .await;
    assert_eq!(status, 200, "{endpoint} {hostname}: {body}");
    ann.wait_status(slug, "live", LIVE).await;
}

/// The site's domain `hostname` as its page's data shows it.
async fn domain_of(c: &Customer, slug: &str, hostname: &str) -> Value {
    let (status, detail) = c.site(slug).await;
    assert_eq!(status, 200, "{detail}");
    detail["domains"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["hostname"] == hostname)
        .unwrap_or_else(|| panic!("{hostname} is not listed: {detail}"))
        .clone()
}

/// Waits (bounded) until the domain's check is done and its proof is `want`.
async fn wait_proof(
    c: &Customer,
    slug: &str,
    hostname: &str,
    want: &str,
    timeout: Duration,
) -> Value {
    wait_for(&format!("{hostname} to be {want}"), timeout, || async {
        let d = domain_of(c, slug, hostname).await;
        if d["proof"] == want && d["checking"] == false {
            Ok(d)
        } else {
            Err(d.to_string())
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_is_proven_served_made_the_address_and_removed() {
    let mut dns = DnsServer::start().await;
    let app = TestApp::spawn_with(|c| dns.use_in(c), true).await;
    let ann = app.new_customer().await;
    let cfg = config();
    let slug = unique("dom");
    let title = format!("Domains {slug}");
    ann.create_site(&title, &slug).await;
    ann.wait_status(&slug, "live", LIVE).await;
    let platform = cfg.addressing.platform_host_of(&slug);

    // Bad input: a clear error on the field, nothing recorded.
    for (bad, says) in [
        ("not a domain", "not a valid domain"),
        ("https://x.example/", "only the domain"),
        (&format!("shop.{platform}"), "platform"),
        ("ex\u{AD}ample.com", "soft hyphen (U+00AD)"),
        ("www.\u{202E}elgoog.com", "right-to-left override (U+202E)"),
        ("p\u{430}ypal.com", "mixes letters"),
    ] {
        let (status, body) = ann
            .call_json("add_domain", &[("slug", &slug), ("hostname", bad)])
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["Invalid"]["field"], "hostname", "{bad}");
        let message = body["Invalid"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{bad:?}: {message}");
    }
    let (_, detail) = ann.site(&slug).await;
    assert_eq!(detail["domains"]["items"].as_array().unwrap().len(), 0);
    assert_eq!(detail["domains"]["platform_host"], platform.as_str());

    // Claimed as typed by a person (capitals, a trailing dot), kept in its ASCII form, and
    // checked at once: no record yet, so it waits and is not served.
    let domain = format!("www.{slug}.test");
    let (status, body) = ann
        .call_json(
            "add_domain",
            &[("slug", &slug), ("hostname", &format!("WWW.{slug}.Test."))],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let pending = wait_proof(&ann, &slug, &domain, "pending", LIVE).await;
    assert_eq!(
        pending["txt_name"],
        format!("_mywp-challenge.{domain}").as_str()
    );
    let token = pending["txt_value"].as_str().unwrap().to_string();
    assert!(
        token.starts_with("mywp-verify=") && token.len() > 30,
        "{token}"
    );
    let (_, _, body) = get_host(&domain).await;
    assert!(!body.contains(&title), "an unproven domain is not served");
    wait_host(&domain, "nginx's default answer", |s, _, _| s == 404).await;
    // The site's page says which records to create.
    let (status, page) = ann.page(&format!("/sites/{slug}")).await;
    assert_eq!(status, 200);
    for shown in [
        format!("data-proof-records=\"{domain}\""),
        format!("_mywp-challenge.{domain}"),
        token.clone(),
        platform.clone(),
        "Check now".to_string(),
    ] {
        assert!(page.contains(&shown), "the page shows {shown}");
    }
    // Not proven: it cannot be the site's address.
    let (status, body) = ann
        .call_json(
            "set_primary_domain",
            &[("slug", &slug), ("hostname", &domain)],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["Invalid"]["message"]
        .as_str()
        .unwrap()
        .contains("verified"));

    // A CNAME to another site proves nothing, and says so.
    dns.set_cname(
        &domain,
        &format!("other.{}", cfg.addressing.platform_domain),
    )
    .await;
    check_now(&ann, &slug, &domain).await;
    let failed = wait_proof(&ann, &slug, &domain, "failed", LIVE).await;
    assert!(
        failed["proof_detail"]
            .as_str()
            .unwrap()
            .contains("CNAME to other."),
        "{failed}"
    );

    // The CNAME to the site: "check now" (a form post, as without JavaScript) proves it,
    // and the domain serves the site (whose links still name its address).
    dns.set_cname(&domain, &platform).await;
    let res = ann
        .client
        .post(format!("{}/api/check_domain", ann.base))
        .header("Accept", "text/html")
        .header("Origin", &ann.base)
        .header("Referer", format!("{}/sites/{slug}", ann.base))
        .form(&[("slug", slug.as_str()), ("hostname", domain.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let verified = wait_proof(&ann, &slug, &domain, "verified", LIVE).await;
    assert!(verified["proof_detail"].as_str().unwrap().contains("CNAME"));
    ann.wait_status(&slug, "live", LIVE).await;
    let (_, _, body) = wait_host(&domain, "the site", |s, _, b| {
        s == 200 && b.contains(&format!("<title>{title}"))
    })
    .await;
    assert!(
        body.contains(&cfg.addressing.site_url(&slug)),
        "links name the address"
    );
    let (_, page) = ann.page(&format!("/sites/{slug}")).await;
    assert!(!page.contains(&format!("data-proof-records=\"{domain}\"")));

    // Nobody else may claim it now that it is Ann's.
    let bob = app.new_customer().await;
    let bobs = unique("bob");
    bob.create_site("Bob's", &bobs).await;
    let (status, body) = bob
        .call_json("add_domain", &[("slug", &bobs), ("hostname", &domain)])
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["Invalid"]["message"]
            .as_str()
            .unwrap()
            .contains("already mapped to another site"),
        "{body}"
    );
    // Nor touch Ann's site's domains.
    for endpoint in [
        "add_domain",
        "remove_domain",
        "set_primary_domain",
        "check_domain",
    ] {
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
    assert!(
        body.contains(&home),
        "WordPress links to its new address {home}: {}",
        body.split("href=")
            .skip(1)
            .take(8)
            .map(|s| s.chars().take(80).collect::<String>())
            .collect::<Vec<_>>()
            .join(" | ")
    );
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

    // A domain the site does not have cannot be made its address.
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

    // Removed from Ann's site, the domain is free for Bob's (its CNAME points at Ann's
    // site, so Bob's claim waits for his own proof).
    let (status, body) = bob
        .call_json("add_domain", &[("slug", &bobs), ("hostname", &domain)])
        .await;
    assert_eq!(status, 200, "{body}");
    let bobs_claim = wait_proof(&bob, &bobs, &domain, "failed", LIVE).await;
    assert!(bobs_claim["proof_detail"]
        .as_str()
        .unwrap()
        .contains(&platform));
    app.stop().await;
}

/// Asks for a check of the domain, as the page's button does.
async fn check_now(c: &Customer, slug: &str, hostname: &str) {
    let (status, body) = c
        .call_json("check_domain", &[("slug", slug), ("hostname", hostname)])
        .await;
    assert_eq!(status, 200, "check_domain {hostname}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_txt_token_proves_a_domain_and_a_lost_proof_stops_serving_it() {
    let mut dns = DnsServer::start().await;
    // Domains are checked again every 2 s (the sweep hands them out every 15 s).
    let app = TestApp::spawn_with(
        |c| {
            dns.use_in(c);
            c.domains.domain_check_every_seconds = 2;
        },
        true,
    )
    .await;
    let ann = app.new_customer().await;
    let slug = unique("txt");
    let title = format!("TXT {slug}");
    ann.create_site(&title, &slug).await;
    ann.wait_status(&slug, "live", LIVE).await;

    // A bare domain, which cannot have a CNAME: proven by the site's TXT record.
    let domain = format!("{slug}.test");
    let (status, body) = ann
        .call_json("add_domain", &[("slug", &slug), ("hostname", &domain)])
        .await;
    assert_eq!(status, 200, "{body}");
    let pending = wait_proof(&ann, &slug, &domain, "pending", LIVE).await;
    let (name, value) = (
        pending["txt_name"].as_str().unwrap().to_string(),
        pending["txt_value"].as_str().unwrap().to_string(),
    );
    // Another site's token (a value of the wrong site) proves nothing.
    dns.set_txt(&name, "mywp-verify=0123456789abcdef0123456789abcdef")
        .await;
    check_now(&ann, &slug, &domain).await;
    wait_proof(&ann, &slug, &domain, "failed", LIVE).await;
    wait_host(&domain, "nginx's default answer", |s, _, _| s == 404).await;

    dns.set_txt(&name, &value).await;
    check_now(&ann, &slug, &domain).await;
    let verified = wait_proof(&ann, &slug, &domain, "verified", LIVE).await;
    assert!(verified["proof_detail"].as_str().unwrap().contains("TXT"));
    wait_host(&domain, "the site", |s, _, b| {
        s == 200 && b.contains(&format!("<title>{title}"))
    })
    .await;

    // The record is removed: the periodic check (nobody asks) finds it gone, the domain is
    // no longer served, and the owner sees why.
    dns.remove(&name).await;
    let lost = wait_proof(&ann, &slug, &domain, "lost", Duration::from_secs(90)).await;
    assert!(
        lost["proof_detail"].as_str().unwrap().contains(&name),
        "{lost}"
    );
    wait_host_for(&domain, "nginx's default answer", LIVE, |s, _, _| s == 404).await;
    ann.wait_status(&slug, "live", LIVE).await;
    let platform = config().addressing.platform_host_of(&slug);
    wait_host(&platform, "the site", |s, _, b| {
        s == 200 && b.contains(&format!("<title>{title}"))
    })
    .await;
    let (_, page) = ann.page(&format!("/sites/{slug}")).await;
    assert!(
        page.contains("proof lost"),
        "the page says the proof is lost"
    );
    app.stop().await;
}
