//! The AWS shape end to end: a site is provisioned by the real pipeline with the AWS
//! drivers against moto server (S3, Route 53, CloudFront, ACM, EFS, AWS Backup) and the test
//! MariaDB over TCP (standing in for RDS MySQL), on a PostgreSQL control plane; a `mywp
//! agent` applies its server block from the "EFS" directory to this host's nginx, which
//! then serves WordPress. Every resource is read back through the SDK; after deletion an
//! inventory of the emulator and the data plane finds nothing left of the site.

#![cfg(feature = "aws")]

use std::{path::PathBuf, sync::Arc, time::Duration};

use aws_sdk_route53::types::RrType;
use mywp_jobs::{
    deployment::Deployment,
    domain::{CustomDomain, OpState, SiteSlug, SiteStatus, SnapshotKind, StepKind, StepState},
    drivers::aws::{
        access_point_uid, backup_plan_name, media_prefix, normalize_zone_id, snapshots_prefix,
        CdnDriver, CertificateDriver,
    },
    pipeline::{Pipeline, Settings},
    store::Store,
};
use mywp_tests::{
    aws::{
        dataplane_env, infra, inventory, site_access_points, web_config, Agent, Inventory, ONE_SITE,
    },
    dataplane::{self, leftovers_in, Leftovers},
    direct,
    postgres::TestDatabase,
    unique, wait_for,
};

/// GET `/` of `host` from the test nginx, as CloudFront would ask the load balancer.
async fn serve(host: &str) -> Result<(u16, String), String> {
    let listen = dataplane::config().addressing.port;
    let client = reqwest::Client::builder()
        .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], listen)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let res = client
        .get(format!("http://{host}:{listen}/"))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok((res.status().as_u16(), res.text().await.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_on_aws_is_made_read_back_served_and_deleted_to_nothing() {
    let infra = infra(false).await;
    let cfg = infra.cfg.clone();
    let clients = infra.clients.clone();
    let web = web_config(&infra);
    let fleet_dir = PathBuf::from(&dataplane_env()["MYWP_NGINX_FLEET_SITES_DIR"]);
    let agent = Agent::start(&cfg);

    let db = TestDatabase::create("aws_shape").await;
    let store = Store::open(&db.url).await.unwrap();
    let slug = unique("aws");
    let title = format!("Cloud Blog {slug}");
    let owner = direct::customer(&store).await;
    let site_id = direct::site(&store, owner, &slug, &title).await;
    let settings = Settings {
        addressing: web.addressing.clone(),
        backoff: Duration::from_millis(100),
        ..Settings::default()
    };
    let deployment = Deployment::aws(Arc::new(cfg.clone()), clients.clone(), web.clone());
    let drivers = deployment.drivers.clone();
    let pipeline = Arc::new(Pipeline::new(
        store.clone(),
        deployment.drivers,
        deployment.snapshots,
        settings,
        unique("aws-worker"),
    ));

    direct::drive(&pipeline, site_id, Duration::from_secs(240)).await;
    let row = store.site(site_id).await.unwrap().unwrap();
    let steps = store.steps(site_id).await.unwrap();
    assert_eq!(row.status, SiteStatus::Live, "{row:?} {steps:?}");
    assert!(
        steps.iter().all(|s| s.state == StepState::Done),
        "every step is done in the AWS shape: {steps:?}"
    );
    let spec = pipeline.spec(&row).await.unwrap();
    let host = spec.hostnames[0].to_string();

    // CloudFront: the load balancer for pages, the bucket (through OAC) for media.
    let dist = CdnDriver::new(clients.clone(), Arc::new(cfg.clone()))
        .find(&spec)
        .await
        .unwrap()
        .expect("the site's distribution");
    let config = clients
        .cloudfront
        .get_distribution_config()
        .id(&dist.id)
        .send()
        .await
        .unwrap();
    let config = config.distribution_config().unwrap();
    assert!(config.enabled());
    assert_eq!(
        config.aliases().unwrap().items(),
        std::slice::from_ref(&host)
    );
    let origins = config.origins().unwrap().items();
    let web_origin = origins.iter().find(|o| o.id() == "web").unwrap();
    assert_eq!(web_origin.domain_name(), cfg.alb_dns_name);
    let media_origin = origins.iter().find(|o| o.id() == "media").unwrap();
    assert!(media_origin.domain_name().starts_with(&cfg.media_bucket));
    assert_eq!(
        media_origin.origin_path(),
        Some(format!("/sites/{slug}").as_str())
    );
    // The media origin's access control exists (moto does not keep an origin's link to it;
    // the request carrying it is checked in jobs/tests/aws_recorded.rs).
    let oacs = clients
        .cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .unwrap();
    let oac_name = format!("mywp-media-{}", cfg.media_bucket);
    assert!(
        oacs.origin_access_control_list()
            .is_some_and(|l| l.items().iter().any(|o| o.name() == oac_name)),
        "the media bucket's origin access control"
    );
    assert_eq!(
        config.viewer_certificate().unwrap().acm_certificate_arn(),
        Some(cfg.platform_cert_arn.as_str())
    );
    assert_eq!(
        config.default_cache_behavior().unwrap().target_origin_id(),
        "web"
    );
    // AWS WAF: the platform's web ACL guards the distribution.
    assert_eq!(config.web_acl_id(), Some(cfg.web_acl.as_str()));

    // Route 53: A and AAAA aliases to the distribution.
    let sets = clients
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&cfg.hosted_zone_id)
        .start_record_name(format!("{host}."))
        .send()
        .await
        .unwrap();
    let aliases: Vec<(RrType, String)> = sets
        .resource_record_sets()
        .iter()
        .filter(|s| s.name() == format!("{host}."))
        .map(|s| {
            (
                s.r#type().clone(),
                s.alias_target()
                    .map(|a| a.dns_name().trim_end_matches('.').to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        aliases,
        [
            (RrType::A, dist.domain_name.clone()),
            (RrType::Aaaa, dist.domain_name.clone())
        ]
    );

    // EFS: the site's access point, its own owner, rooted at its directory.
    let aps = site_access_points(&clients, &cfg, site_id).await;
    let ap = aps.first().expect("the site's access point");
    assert_eq!(
        ap.root_directory().and_then(|r| r.path()),
        Some(format!("/sites/{slug}").as_str())
    );
    assert_eq!(
        ap.posix_user().map(|p| p.uid()),
        Some(access_point_uid(site_id))
    );

    // Backup: the plan, daily into the vault, kept 35 days. (Its tags are checked on the
    // request in jobs/tests/aws_recorded.rs: moto's ListTags misreads the Rust SDK's path.)
    let plans = clients.backup.list_backup_plans().send().await.unwrap();
    let plan = plans
        .backup_plans_list()
        .iter()
        .find(|p| p.backup_plan_name() == Some(backup_plan_name(&spec).as_str()))
        .expect("the site's backup plan");
    let plan = clients
        .backup
        .get_backup_plan()
        .backup_plan_id(plan.backup_plan_id().unwrap())
        .send()
        .await
        .unwrap();
    let rule = &plan.backup_plan().unwrap().rules()[0];
    assert_eq!(rule.target_backup_vault_name(), cfg.backup_vault);
    assert_eq!(
        rule.lifecycle().and_then(|l| l.delete_after_days()),
        Some(35)
    );

    // MySQL, the site's directory and server block on "EFS"; WordPress answers with its
    // title through the nginx the agent configured.
    let site_db = web.db_namespace.db_name(site_id);
    assert_eq!(leftovers_in(&web, &site_db, &slug).await, Leftovers::ONE);
    assert!(fleet_dir.join(format!("{slug}.conf")).is_file());
    let (status, body) = serve(&host).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&slug), "the site's title is served: {body}");
    assert!(
        body.contains(&format!("https://{host}")),
        "WordPress knows it is https"
    );

    // Someone takes the web ACL off the distribution; the cdn step's next ensure (a
    // reconverge) puts it back.
    let web_acl_of = |id: String| {
        let clients = clients.clone();
        async move {
            let out = clients
                .cloudfront
                .get_distribution_config()
                .id(id)
                .send()
                .await
                .unwrap();
            let etag = out.e_tag().unwrap().to_string();
            (out.distribution_config().unwrap().clone(), etag)
        }
    };
    let (mut stripped, etag) = web_acl_of(dist.id.clone()).await;
    stripped.web_acl_id = Some(String::new());
    clients
        .cloudfront
        .update_distribution()
        .id(&dist.id)
        .if_match(etag)
        .distribution_config(stripped)
        .send()
        .await
        .expect("take the web ACL off");
    assert_eq!(
        web_acl_of(dist.id.clone())
            .await
            .0
            .web_acl_id()
            .unwrap_or_default(),
        ""
    );

    // Idempotent: every driver's ensure again makes nothing new.
    let before = inventory(&cfg, &clients, &spec).await;
    for step in StepKind::ALL {
        if let Some(driver) = drivers.get(step) {
            driver
                .ensure(&spec)
                .await
                .unwrap_or_else(|e| panic!("{step:?}: {e}"));
        }
    }
    let again = inventory(&cfg, &clients, &spec).await;
    assert_eq!(again, before);
    assert_eq!(before, ONE_SITE);
    assert_eq!(
        web_acl_of(dist.id.clone()).await.0.web_acl_id(),
        Some(cfg.web_acl.as_str()),
        "the web ACL is back"
    );

    // Media of the site, in two versions, and another site's object next to it.
    for body in ["v1", "v2"] {
        clients
            .s3
            .put_object()
            .bucket(&cfg.media_bucket)
            .key(format!(
                "{}media/2026/11/photo.jpg",
                media_prefix(&spec.slug)
            ))
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let other = format!(
        "{}media/keep.jpg",
        media_prefix(&SiteSlug::from_stored(&format!("{slug}-other")).unwrap())
    );
    clients
        .s3
        .put_object()
        .bucket(&cfg.media_bucket)
        .key(&other)
        .body(b"keep".to_vec().into())
        .send()
        .await
        .unwrap();

    // A logical snapshot goes under the site's prefix, and restores what it holds.
    let served_title = |want: String| {
        let host = host.clone();
        async move {
            wait_for(
                &format!("{host} to serve {want:?}"),
                Duration::from_secs(30),
                || async {
                    match serve(&host).await {
                        Ok((200, body)) if body.contains(&want) => Ok(()),
                        seen => Err(format!("{seen:?}")),
                    }
                },
            )
            .await
        }
    };
    let title_sql = |t: &str| {
        format!("UPDATE wp_options SET option_value = '{t}' WHERE option_name = 'blogname'")
    };
    let before = format!("Before {slug}");
    dataplane::site_sql(&web, &site_db, title_sql(&before)).await;
    let note = web
        .site_dir(&SiteSlug::from_stored(&slug).unwrap())
        .join("wp-content/uploads/note.txt");
    std::fs::write(&note, "first").unwrap();
    let snapshot = store
        .request_snapshot(site_id, SnapshotKind::Manual, None)
        .await
        .unwrap();
    direct::drive(&pipeline, site_id, Duration::from_secs(60)).await;
    let snapshot = store.snapshot(snapshot.id).await.unwrap().unwrap();
    assert_eq!(snapshot.state, OpState::Done, "{snapshot:?}");
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(&cfg.media_bucket)
        .prefix(format!("{}{}/", snapshots_prefix(&spec.slug), snapshot.id))
        .send()
        .await
        .unwrap();
    let mut names: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    names.sort();
    let base = format!("sites/{slug}/snapshots/{}/", snapshot.id);
    assert_eq!(
        names,
        ["database.sql.gz", "files.tar.gz", "manifest.json"].map(|n| format!("{base}{n}"))
    );
    dataplane::site_sql(&web, &site_db, title_sql("After")).await;
    std::fs::remove_file(&note).unwrap();
    served_title("After".into()).await;
    store
        .request_restore(site_id, snapshot.id, None)
        .await
        .unwrap();
    direct::drive(&pipeline, site_id, Duration::from_secs(60)).await;
    let restore = &store.restores_of(site_id, 1).await.unwrap()[0];
    assert_eq!(restore.state, OpState::Done, "{restore:?}");
    served_title(before).await;
    assert_eq!(std::fs::read_to_string(&note).unwrap(), "first");

    // The customer's own domain, in a zone of this account: its certificate is validated
    // through Route 53, issued, and attached with the domain to the distribution.
    let zone_name = format!("{}.example", unique("cust"));
    let zone = clients
        .route53
        .create_hosted_zone()
        .name(&zone_name)
        .caller_reference(unique("zone"))
        .send()
        .await
        .unwrap();
    let zone_id = normalize_zone_id(zone.hosted_zone().unwrap().id());
    let www = format!("www.{zone_name}");
    let domain = CustomDomain::parse(&www, &cfg.platform_domain).unwrap();
    store.add_domain(site_id, &domain).await.unwrap();
    store.reconverge_site(site_id).await.unwrap();
    direct::drive(&pipeline, site_id, Duration::from_secs(120)).await;
    let row = store.site(site_id).await.unwrap().unwrap();
    assert_eq!(
        row.status,
        SiteStatus::Live,
        "{:?}",
        store.steps(site_id).await
    );
    let with_domain = pipeline.spec(&row).await.unwrap();
    let hostnames: Vec<String> = with_domain
        .hostnames
        .iter()
        .map(|h| h.to_string())
        .collect();
    assert_eq!(hostnames, vec![host.clone(), www.clone()]);
    let certs = CertificateDriver::new(
        clients.clone(),
        Arc::new(cfg.clone()),
        Arc::new(CdnDriver::new(clients.clone(), Arc::new(cfg.clone()))),
    );
    let arns = certs.certificates(&with_domain).await.unwrap();
    assert_eq!(arns.len(), 1, "one certificate for the site's domain");
    let cert = clients
        .acm
        .describe_certificate()
        .certificate_arn(&arns[0])
        .send()
        .await
        .unwrap();
    let cert = cert.certificate().unwrap();
    assert_eq!(cert.status().map(|s| s.as_str()), Some("ISSUED"));
    assert_eq!(cert.subject_alternative_names(), std::slice::from_ref(&www));
    let cnames = |zone_id: String| {
        let clients = clients.clone();
        async move {
            clients
                .route53
                .list_resource_record_sets()
                .hosted_zone_id(zone_id)
                .send()
                .await
                .unwrap()
                .resource_record_sets()
                .iter()
                .filter(|r| *r.r#type() == RrType::Cname)
                .map(|r| r.name().to_string())
                .collect::<Vec<_>>()
        }
    };
    let validation = cnames(zone_id.clone()).await;
    assert_eq!(validation.len(), 1, "the validation record is in our zone");
    let dist_config = |id: String| {
        let clients = clients.clone();
        async move {
            let out = clients
                .cloudfront
                .get_distribution_config()
                .id(id)
                .send()
                .await
                .unwrap();
            let c = out.distribution_config().unwrap().clone();
            let mut aliases = c.aliases().unwrap().items().to_vec();
            aliases.sort();
            let cert = c
                .viewer_certificate()
                .and_then(|v| v.acm_certificate_arn())
                .map(str::to_string);
            (aliases, cert)
        }
    };
    let mut both = vec![host.clone(), www.clone()];
    both.sort();
    assert_eq!(
        dist_config(dist.id.clone()).await,
        (both, Some(arns[0].clone()))
    );
    assert_eq!(
        inventory(&cfg, &clients, &with_domain).await.certificates,
        1
    );
    // The web fleet serves the domain too, once the agent has applied the new block.
    wait_for(
        &format!("the web fleet to serve {www}"),
        Duration::from_secs(30),
        || async {
            match serve(&www).await {
                Ok((200, body)) if body.contains(&slug) => Ok(()),
                seen => Err(format!("{seen:?}")),
            }
        },
    )
    .await;

    // Removed: back to the platform's name and certificate; the domain's certificate and its
    // validation record are gone.
    assert!(store.remove_domain(site_id, &www).await.unwrap());
    store.reconverge_site(site_id).await.unwrap();
    direct::drive(&pipeline, site_id, Duration::from_secs(120)).await;
    let row = store.site(site_id).await.unwrap().unwrap();
    assert_eq!(
        row.status,
        SiteStatus::Live,
        "{:?}",
        store.steps(site_id).await
    );
    assert_eq!(
        dist_config(dist.id.clone()).await,
        (vec![host.clone()], Some(cfg.platform_cert_arn.clone()))
    );
    assert!(certs.certificates(&with_domain).await.unwrap().is_empty());
    assert!(cnames(zone_id.clone()).await.is_empty());
    clients
        .route53
        .delete_hosted_zone()
        .id(&zone_id)
        .send()
        .await
        .unwrap();

    assert!(store.request_delete(site_id).await.unwrap());
    direct::drive(&pipeline, site_id, Duration::from_secs(240)).await;
    assert!(
        store.site(site_id).await.unwrap().is_none(),
        "the site is forgotten"
    );
    assert_eq!(
        inventory(&cfg, &clients, &spec).await,
        Inventory::default(),
        "nothing of the site is left in AWS, snapshots included"
    );
    assert_eq!(leftovers_in(&web, &site_db, &slug).await, Leftovers::NONE);
    clients
        .s3
        .head_object()
        .bucket(&cfg.media_bucket)
        .key(&other)
        .send()
        .await
        .expect("another site's media is untouched");
    let block = fleet_dir.join(format!("{slug}.conf"));
    wait_for(
        "the agent to drop the server block",
        Duration::from_secs(30),
        || {
            let block = block.clone();
            let host = host.clone();
            async move {
                match (block.exists(), serve(&host).await) {
                    (false, Ok((404, _))) => Ok(()),
                    (exists, seen) => Err(format!("block exists: {exists}, served: {seen:?}")),
                }
            }
        },
    )
    .await;
    drop(agent);
    let _ = std::fs::remove_dir_all(cfg.efs_mount.as_path());
    db.drop_database().await;
}

/// Big snapshot files go up in parts (S3 needs it past 5 GiB) and come back whole; deleting
/// the snapshot leaves no version behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_snapshot_files_go_up_in_parts_and_come_back_whole() {
    use mywp_jobs::{
        drivers::aws::S3Vault,
        snapshots::{Download, SnapshotKey, Vault},
    };
    let infra = infra(false).await;
    let part = 5 * 1024 * 1024;
    let vault = S3Vault::with_part_size(infra.clients.clone(), Arc::new(infra.cfg.clone()), part);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("files.tar.gz");
    // Two and a bit parts of bytes that do not repeat within a part.
    let data: Vec<u8> = (0..(2 * part + 12_345))
        .map(|i| (i * 7 + i / 251) as u8)
        .collect();
    std::fs::write(&big, &data).unwrap();
    let key = SnapshotKey {
        slug: SiteSlug::from_stored(&unique("vault")).unwrap(),
        id: 7,
    };
    vault.put(&key, "files.tar.gz", &big).await.unwrap();
    let object = format!("{}7/files.tar.gz", snapshots_prefix(&key.slug));
    let head = infra
        .clients
        .s3
        .head_object()
        .bucket(&infra.cfg.media_bucket)
        .key(&object)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(data.len() as i64));
    assert!(
        head.e_tag().is_some_and(|t| t.ends_with("-3\"")),
        "a multipart upload of 3 parts: {:?}",
        head.e_tag()
    );
    let back = dir.path().join("back");
    vault.get(&key, "files.tar.gz", &back).await.unwrap();
    assert!(
        std::fs::read(&back).unwrap() == data,
        "the file comes back whole"
    );
    // A download is a short-lived presigned link to the object, which serves it whole.
    let Download::Url(link) = vault
        .download(&key, "files.tar.gz", "x.tar.gz")
        .await
        .unwrap()
    else {
        panic!("a link");
    };
    let fetched = reqwest::get(&link).await.unwrap();
    assert_eq!(fetched.status(), 200, "{link}");
    assert!(link.contains("X-Amz-Expires=300"), "{link}");
    assert!(
        fetched.bytes().await.unwrap() == data,
        "the link serves the file"
    );
    let missing = vault.get(&key, "nope", &back).await.unwrap_err();
    assert!(missing.to_string().contains("missing"), "{missing}");

    vault.delete_site(&key.slug).await.unwrap();
    let left = infra
        .clients
        .s3
        .list_object_versions()
        .bucket(&infra.cfg.media_bucket)
        .prefix(snapshots_prefix(&key.slug))
        .send()
        .await
        .unwrap();
    assert!(left.versions().is_empty() && left.delete_markers().is_empty());
}
