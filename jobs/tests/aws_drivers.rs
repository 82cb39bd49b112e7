//! The AWS shape's drivers (feature `aws`) against a real AWS API emulator: moto server,
//! started by `make test` (scripts/test.sh → scripts/moto.sh) and found through
//! `MYWP_TEST_AWS_ENDPOINT`. When it is not set these tests fail, they do not skip.
//!
//! moto keeps one state for every test: each test makes its own bucket or hosted zone.

#![cfg(feature = "aws")]

mod common;

use std::{collections::BTreeSet, sync::Arc};

use aws_sdk_route53::types::{
    AliasTarget as R53AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord,
    ResourceRecordSet, RrType,
};
use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt;
use mywp_jobs::drivers::{
    aws::{
        media_prefix, AliasTarget, AwsClients, AwsConfig, DnsDriver, MediaDriver,
        CLOUDFRONT_HOSTED_ZONE_ID, SITE_ID_METADATA,
    },
    Ensured, SiteSpec, StepDriver, StepError,
};

fn endpoint() -> String {
    common::aws_endpoint()
}

fn config(endpoint: String) -> AwsConfig {
    common::aws_config(endpoint)
}

fn site(id: i64, slug: &str, hostnames: Vec<String>) -> SiteSpec {
    SiteSpec::parse(
        id,
        slug,
        &format!("Blog {slug}"),
        "owner@example.com",
        &hostnames,
    )
    .unwrap()
}

/// A fresh bucket, and the config and clients that use it.
async fn media_setup() -> (Arc<AwsConfig>, AwsClients) {
    let mut cfg = config(endpoint());
    let clients = AwsClients::new(&cfg).await;
    cfg.media_bucket = common::unique("mywp-media-");
    clients
        .s3
        .create_bucket()
        .bucket(&cfg.media_bucket)
        .send()
        .await
        .expect("create the test bucket");
    (Arc::new(cfg), clients)
}

async fn keys_under(clients: &AwsClients, bucket: &str, prefix: &str) -> Vec<String> {
    clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .expect("list objects")
        .iter()
        .flat_map(|page| page.contents().iter().filter_map(|o| o.key()))
        .map(str::to_string)
        .collect()
}

async fn put(clients: &AwsClients, bucket: &str, key: String) {
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(ByteStream::from_static(b"\xff\xd8 not really a jpeg"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

#[tokio::test]
async fn media_prefix_is_made_once_and_removed_to_the_last_object() {
    let (cfg, clients) = media_setup().await;
    let bucket = cfg.media_bucket.clone();
    let slug = common::unique("m");
    let neighbour = format!("{slug}-2"); // shares `sites/<slug>` but not `sites/<slug>/`
    let prefix = media_prefix(&mywp_jobs::domain::SiteSlug::from_stored(&slug).unwrap());
    let driver = MediaDriver::new(clients.clone(), cfg.clone());
    let blog = site(41, &slug, vec![]);

    let expected = Ensured::Done {
        resource: format!("s3://{bucket}/{prefix}"),
    };
    assert_eq!(driver.ensure(&blog).await.unwrap(), expected);
    assert_eq!(driver.ensure(&blog).await.unwrap(), expected);
    assert_eq!(
        keys_under(&clients, &bucket, &prefix).await,
        vec![format!("{prefix}.mywp")],
        "exactly one marker"
    );
    let head = clients
        .s3
        .head_object()
        .bucket(&bucket)
        .key(format!("{prefix}.mywp"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata().and_then(|m| m.get(SITE_ID_METADATA)),
        Some(&"41".to_string())
    );

    // Another site that got the same name while this one's media still exists is refused.
    let err = driver
        .ensure(&site(99, &slug, vec![]))
        .await
        .expect_err("another site must not adopt this prefix");
    assert!(
        matches!(&err, StepError::Permanent(m) if m.contains("belongs to site 41")),
        "{err:?}"
    );

    // More than one page of uploads, written side by side; and another site's media.
    let started = std::time::Instant::now();
    futures::stream::iter(0..1105)
        .map(|i| {
            put(
                &clients,
                &bucket,
                format!("{prefix}uploads/2026/11/img-{i:04}.jpg"),
            )
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
    let other_key = format!(
        "{}keep.jpg",
        media_prefix(&mywp_jobs::domain::SiteSlug::from_stored(&neighbour).unwrap())
    );
    put(&clients, &bucket, other_key.clone()).await;
    assert_eq!(keys_under(&clients, &bucket, &prefix).await.len(), 1106);
    eprintln!("uploaded 1105 objects in {:?}", started.elapsed());

    // One removal empties the prefix (page after page); a second finds nothing to do.
    for _ in 0..2 {
        driver.remove(&blog).await.unwrap();
        let left = keys_under(&clients, &bucket, &prefix).await;
        assert!(
            left.is_empty(),
            "{} objects left under {prefix}, e.g. {:?}",
            left.len(),
            left.first()
        );
    }
    assert_eq!(
        keys_under(&clients, &bucket, "sites/").await,
        vec![other_key],
        "the other site's media is untouched"
    );

    // Removing media that never existed succeeds too.
    driver
        .remove(&site(7, &common::unique("never"), vec![]))
        .await
        .unwrap();
}

#[tokio::test]
async fn media_errors_say_whether_to_retry() {
    let (cfg, clients) = media_setup().await;
    let blog = site(1, &common::unique("e"), vec![]);

    let mut missing = (*cfg).clone();
    missing.media_bucket = common::unique("mywp-missing-");
    let driver = MediaDriver::new(clients, Arc::new(missing));
    let err = driver.ensure(&blog).await.expect_err("no such bucket");
    eprintln!("missing bucket: {err}");
    assert!(
        matches!(&err, StepError::Permanent(m) if m.contains("does not exist")),
        "{err:?}"
    );
    let err = driver.remove(&blog).await.expect_err("no such bucket");
    assert!(!err.is_transient(), "{err:?}");

    // Nothing listens on port 1: a dropped connection is worth retrying.
    let mut down = (*cfg).clone();
    down.endpoint_url = Some("http://127.0.0.1:1".to_string());
    let clients = AwsClients::new(&down).await;
    let driver = MediaDriver::new(clients, Arc::new(down));
    let err = driver.ensure(&blog).await.expect_err("nothing listens");
    eprintln!("endpoint down: {err}");
    assert!(err.is_transient(), "{err:?}");
}

/// A fresh hosted zone `<unique>.mywp.test`, and the config and clients that use it.
async fn dns_setup() -> (Arc<AwsConfig>, AwsClients) {
    let mut cfg = config(endpoint());
    let clients = AwsClients::new(&cfg).await;
    let domain = format!("{}.mywp.test", common::unique("z"));
    let zone = clients
        .route53
        .create_hosted_zone()
        .name(&domain)
        .caller_reference(common::unique("ref"))
        .send()
        .await
        .expect("create the test hosted zone");
    let id = zone.hosted_zone().expect("the new zone").id();
    cfg.hosted_zone_id = mywp_jobs::drivers::aws::normalize_zone_id(id);
    cfg.platform_domain = domain;
    (Arc::new(cfg), clients)
}

/// Every record set in the zone: (name without the trailing dot, type, alias DNS name).
async fn zone_records(
    clients: &AwsClients,
    zone: &str,
) -> BTreeSet<(String, String, Option<String>)> {
    let mut out = BTreeSet::new();
    let mut next: Option<(String, RrType)> = None;
    loop {
        let mut req = clients
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone);
        if let Some((name, ty)) = next.take() {
            req = req.start_record_name(name).start_record_type(ty);
        }
        let page = req.send().await.expect("list record sets");
        for set in page.resource_record_sets() {
            let alias = set
                .alias_target()
                .map(|a| a.dns_name().trim_end_matches('.').to_string());
            let fresh = out.insert((
                set.name().trim_end_matches('.').to_string(),
                set.r#type().as_str().to_string(),
                alias,
            ));
            assert!(fresh, "duplicate record set {set:?}");
        }
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(name), Some(ty)) => next = Some((name.to_string(), ty.clone())),
            _ => return out,
        }
    }
}

async fn create_record(clients: &AwsClients, zone: &str, set: ResourceRecordSet) {
    let change = Change::builder()
        .action(ChangeAction::Create)
        .resource_record_set(set)
        .build()
        .unwrap();
    clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .expect("create a record");
}

#[tokio::test]
async fn dns_alias_records_are_upserted_and_only_they_are_removed() {
    let (cfg, clients) = dns_setup().await;
    let zone = cfg.hosted_zone_id.clone();
    let domain = cfg.platform_domain.clone();
    let blog = format!("blog.{domain}");
    let www = format!("www.blog.{domain}");

    // What is in the zone already: another site's alias, a plain A, a TXT at the site's name.
    let other_site = format!("blog-2.{domain}");
    create_record(
        &clients,
        &zone,
        ResourceRecordSet::builder()
            .name(format!("{other_site}."))
            .r#type(RrType::A)
            .alias_target(
                R53AliasTarget::builder()
                    .hosted_zone_id(CLOUDFRONT_HOSTED_ZONE_ID)
                    .dns_name("d222222abcdef8.cloudfront.net")
                    .evaluate_target_health(false)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    )
    .await;
    for (name, ty, value) in [
        (format!("mail.{domain}."), RrType::A, "192.0.2.10"),
        (format!("{blog}."), RrType::Txt, "\"keep-me\""),
    ] {
        create_record(
            &clients,
            &zone,
            ResourceRecordSet::builder()
                .name(name)
                .r#type(ty)
                .ttl(300)
                .resource_records(ResourceRecord::builder().value(value).build().unwrap())
                .build()
                .unwrap(),
        )
        .await;
    }
    let before = zone_records(&clients, &zone).await;

    let spec = site(
        5,
        "blog",
        vec![
            blog.clone(),
            www.clone(),
            blog.to_uppercase(),            // the same name again
            "shop.example.org".to_string(), // not in our zone: the customer's DNS
        ],
    );
    let driver = DnsDriver::new(
        clients.clone(),
        cfg.clone(),
        Arc::new(AliasTarget::cloudfront("d111111abcdef8.cloudfront.net")),
    );
    let first = driver.ensure(&spec).await.unwrap();
    assert_eq!(driver.ensure(&spec).await.unwrap(), first);
    let target = "d111111abcdef8.cloudfront.net".to_string();
    let ours: BTreeSet<_> = [&blog, &www]
        .into_iter()
        .flat_map(|n| ["A", "AAAA"].map(|t| (n.clone(), t.to_string(), Some(target.clone()))))
        .collect();
    let after = zone_records(&clients, &zone).await;
    assert_eq!(
        after.difference(&before).cloned().collect::<BTreeSet<_>>(),
        ours,
        "exactly one A and one AAAA alias per hostname in the zone"
    );
    assert!(before.is_subset(&after), "nothing else changed");

    // The alias target's zone is CloudFront's.
    let sets = clients
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .start_record_name(format!("{www}."))
        .start_record_type(RrType::A)
        .send()
        .await
        .unwrap();
    let alias = sets.resource_record_sets()[0].alias_target().unwrap();
    assert_eq!(alias.hosted_zone_id(), CLOUDFRONT_HOSTED_ZONE_ID);

    // A new target (the site got its own distribution) replaces the records, no duplicates.
    let moved = DnsDriver::new(
        clients.clone(),
        cfg.clone(),
        Arc::new(AliasTarget::cloudfront("d333333abcdef8.cloudfront.net")),
    );
    moved.ensure(&spec).await.unwrap();
    let moved_records: BTreeSet<_> = zone_records(&clients, &zone)
        .await
        .difference(&before)
        .cloned()
        .collect();
    assert_eq!(moved_records.len(), 4, "{moved_records:?}");
    assert!(moved_records
        .iter()
        .all(|(_, _, a)| a.as_deref() == Some("d333333abcdef8.cloudfront.net")));

    for _ in 0..2 {
        driver.remove(&spec).await.unwrap();
        assert_eq!(
            zone_records(&clients, &zone).await,
            before,
            "the site's records are gone, every other record is untouched"
        );
    }
}

#[tokio::test]
async fn dns_in_a_missing_zone_is_a_permanent_error() {
    let (cfg, clients) = dns_setup().await;
    let mut missing = (*cfg).clone();
    missing.hosted_zone_id = "ZNOSUCHZONE123".to_string();
    let spec = site(5, "blog", vec![format!("blog.{}", cfg.platform_domain)]);
    let driver = DnsDriver::new(
        clients,
        Arc::new(missing),
        Arc::new(AliasTarget::cloudfront("d111111abcdef8.cloudfront.net")),
    );
    let err = driver.ensure(&spec).await.expect_err("no such zone");
    eprintln!("missing zone: {err}");
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("ZNOSUCHZONE123"), "{err}");
}
