//! The AWS shape under transient faults: the drivers talk to moto through a proxy that
//! throttles, answers 503 and drops connections — before the request reaches moto, and
//! after moto did the work but before its answer arrived. Every site still converges to
//! live, with exactly one of each resource, and deleting them still leaves nothing.

#![cfg(feature = "aws")]

use std::{sync::Arc, time::Duration};

use mywp_jobs::{
    deployment::Deployment,
    domain::SiteStatus,
    drivers::aws::{AwsClients, CdnDriver},
    pipeline::{Pipeline, Settings},
    store::Store,
};
use mywp_tests::{
    aws::{infra, inventory, web_config, Agent, Inventory, ONE_SITE},
    direct,
    faults::{Fault, FaultyProxy},
    postgres::TestDatabase,
    unique,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_converge_through_throttling_errors_and_dropped_connections() {
    let infra = infra(false).await;
    let agent = Agent::start(&infra.cfg);
    let web = web_config(&infra);
    let proxy = FaultyProxy::start(infra.var("MYWP_AWS_ENDPOINT_URL")).await;
    let mut faulty = infra.cfg.clone();
    faulty.endpoint_url = Some(proxy.url.clone());
    let faulty = Arc::new(faulty);
    let clients = AwsClients::new(&faulty).await;

    let db = TestDatabase::create("aws_faults").await;
    let store = Store::open(&db.url).await.unwrap();
    let owner = direct::customer(&store).await;
    let settings = Settings {
        addressing: web.addressing.clone(),
        backoff: Duration::from_millis(50),
        max_attempts: 8,
        ..Settings::default()
    };
    let deployment = Deployment::aws(Arc::clone(&faulty), clients, web);
    let pipeline = Arc::new(Pipeline::new(
        store.clone(),
        deployment.drivers,
        deployment.snapshots,
        settings,
        unique("faulty-worker"),
    ));

    let mut sites = Vec::new();
    for _ in 0..3 {
        let slug = unique("f");
        let site = direct::site(&store, owner, &slug, &format!("Faulty {slug}")).await;
        sites.push(site);
    }
    futures::future::join_all(
        sites
            .iter()
            .map(|id| direct::drive(&pipeline, *id, Duration::from_secs(300))),
    )
    .await;

    for id in &sites {
        let row = store.site(*id).await.unwrap().unwrap();
        assert_eq!(
            row.status,
            SiteStatus::Live,
            "{row:?}: {:?}",
            store.steps(*id).await.unwrap()
        );
        let spec = pipeline.spec(&row).await.unwrap();
        assert_eq!(
            inventory(&infra.cfg, &infra.clients, &spec).await,
            ONE_SITE,
            "exactly one of each resource for {}",
            spec.slug
        );
        let dist = CdnDriver::new(infra.clients.clone(), Arc::new(infra.cfg.clone()))
            .find(&spec)
            .await
            .unwrap()
            .expect("the site's distribution");
        assert_eq!(
            dist.web_acl.as_deref(),
            Some(infra.cfg.web_acl.as_str()),
            "the web ACL guards {}",
            spec.slug
        );
    }
    for fault in [
        Fault::Throttled,
        Fault::TooManyRequests,
        Fault::Unavailable,
        Fault::DroppedBefore,
        Fault::DroppedAfter,
    ] {
        assert!(
            proxy.injected(fault) >= 3,
            "{fault:?} was injected {} times in {} requests",
            proxy.injected(fault),
            proxy.requests()
        );
    }

    let mut specs = Vec::new();
    for id in &sites {
        specs.push(
            pipeline
                .spec(&store.site(*id).await.unwrap().unwrap())
                .await
                .unwrap(),
        );
        assert!(store.request_delete(*id).await.unwrap());
    }
    futures::future::join_all(
        sites
            .iter()
            .map(|id| direct::drive(&pipeline, *id, Duration::from_secs(300))),
    )
    .await;
    for spec in &specs {
        assert!(
            store.site(spec.id).await.unwrap().is_none(),
            "{} is gone",
            spec.slug
        );
        assert_eq!(
            inventory(&infra.cfg, &infra.clients, spec).await,
            Inventory::default(),
            "nothing of {} is left",
            spec.slug
        );
    }
    eprintln!(
        "fault proxy: {} requests, {} throttled, {} 429, {} 503, {} dropped before, {} dropped after",
        proxy.requests(),
        proxy.injected(Fault::Throttled),
        proxy.injected(Fault::TooManyRequests),
        proxy.injected(Fault::Unavailable),
        proxy.injected(Fault::DroppedBefore),
        proxy.injected(Fault::DroppedAfter)
    );
    drop(agent);
    let _ = std::fs::remove_dir_all(&infra.cfg.efs_mount);
    db.drop_database().await;
}
