//! What moto cannot emulate, tested against recorded AWS responses: the SDK clients talk to
//! a scripted HTTP client that checks each request and answers as AWS does (bodies and
//! error codes as AWS documents them).
//!
//! - CloudFront refuses to delete an enabled distribution (`DistributionNotDisabled`):
//!   removal disables, waits for the change to deploy, then deletes with the new ETag.
//! - AWS Backup selections (moto has none): made with the site's tag condition; removed
//!   before their plan, which AWS requires.
//! - Route 53 rejects a CREATE of a record that exists: the dns step only ever UPSERTs,
//!   also when the SDK retries after a 5xx.
//! - ACM validates by actually reading DNS: a pending certificate keeps the step waiting
//!   with the records the customer must create; a failed one is a readable error.

#![cfg(feature = "aws")]

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;
use mywp_jobs::drivers::{
    aws::{
        AliasTarget, AwsClients, AwsConfig, BackupDriver, CdnDriver, CertificateDriver, DnsDriver,
    },
    Ensured, Removed, SiteSpec, StepDriver,
};

mod common;

/// One recorded exchange: what the request must be, and AWS's answer.
struct Exchange {
    /// `METHOD path` prefix, or the `X-Amz-Target` of a JSON-protocol call.
    expect: &'static str,
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

fn ok(expect: &'static str, body: impl Into<String>) -> Exchange {
    Exchange {
        expect,
        status: 200,
        headers: vec![],
        body: body.into(),
    }
}

fn with_etag(mut e: Exchange, etag: &'static str) -> Exchange {
    e.headers.push(("ETag", etag));
    e
}

fn status(expect: &'static str, status: u16, body: impl Into<String>) -> Exchange {
    Exchange {
        expect,
        status,
        headers: vec![],
        body: body.into(),
    }
}

/// The requests seen: (`METHOD path?query` or target, headers as text, body).
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// Clients whose every request is answered from `script`, in order.
async fn recorded(script: Vec<Exchange>) -> (AwsClients, Seen, Arc<Mutex<VecDeque<Exchange>>>) {
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let seen: Seen = Arc::default();
    let (s, q) = (seen.clone(), script.clone());
    let http = infallible_client_fn(move |req: http::Request<SdkBody>| {
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let line = format!("{} {}", req.method(), req.uri().path_and_query().unwrap());
        let what = target.clone().unwrap_or(line);
        let headers = format!("{:?}", req.headers());
        let body = String::from_utf8_lossy(req.body().bytes().unwrap_or_default()).to_string();
        s.lock().unwrap().push((what.clone(), headers, body));
        let next = q
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("no recorded answer left for {what}"));
        assert!(
            what.starts_with(next.expect),
            "expected a request {:?}, got {what:?}",
            next.expect
        );
        let mut res = http::Response::builder().status(next.status);
        for (k, v) in next.headers {
            res = res.header(k, v);
        }
        res.body(SdkBody::from(next.body)).unwrap()
    });
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "AKIDRECORDED",
            "recorded",
            None,
            None,
            "recorded",
        ))
        .load()
        .await;
    (AwsClients::from_sdk_config(&shared, false), seen, script)
}

fn config(selections: bool) -> Arc<AwsConfig> {
    let mut cfg = common::aws_config("http://recorded.invalid".into());
    cfg.platform_domain = "mywp.test".into();
    cfg.hosted_zone_id = "ZPLATFORM".into();
    cfg.backup_selections = selections;
    Arc::new(cfg)
}

fn site(hostnames: &[&str]) -> SiteSpec {
    SiteSpec::parse(5, "blog", "Blog", "owner@example.com", hostnames).unwrap()
}

const CF: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";

fn distribution_list(enabled: bool, status: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<DistributionList xmlns="{CF}"><Marker></Marker><MaxItems>100</MaxItems><IsTruncated>false</IsTruncated><Quantity>1</Quantity><Items><DistributionSummary><Id>E2MYWP</Id><ARN>arn:aws:cloudfront::123456789012:distribution/E2MYWP</ARN><Status>{status}</Status><LastModifiedTime>2026-11-27T10:00:00.000Z</LastModifiedTime><DomainName>d2mywp.cloudfront.net</DomainName><Aliases><Quantity>1</Quantity><Items><CNAME>blog.mywp.test</CNAME></Items></Aliases><Comment>MyWP site blog #5</Comment><PriceClass>PriceClass_100</PriceClass><Enabled>{enabled}</Enabled><WebACLId></WebACLId><HttpVersion>http2and3</HttpVersion><IsIPV6Enabled>true</IsIPV6Enabled><Staging>false</Staging></DistributionSummary></Items></DistributionList>"#
    )
}

fn distribution_config(enabled: bool) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<DistributionConfig xmlns="{CF}"><CallerReference>mywp-site-5-blog</CallerReference><Aliases><Quantity>1</Quantity><Items><CNAME>blog.mywp.test</CNAME></Items></Aliases><Origins><Quantity>1</Quantity><Items><Origin><Id>web</Id><DomainName>alb.example.com</DomainName><CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>http-only</OriginProtocolPolicy></CustomOriginConfig></Origin></Items></Origins><DefaultCacheBehavior><TargetOriginId>web</TargetOriginId><ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy><CachePolicyId>4135ea2d-6df8-44a3-9df3-4b5a84be39ad</CachePolicyId></DefaultCacheBehavior><Comment>MyWP site blog #5</Comment><Enabled>{enabled}</Enabled></DistributionConfig>"#
    )
}

fn distribution(enabled: bool, status: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Distribution xmlns="{CF}"><Id>E2MYWP</Id><ARN>arn:aws:cloudfront::123456789012:distribution/E2MYWP</ARN><Status>{status}</Status><LastModifiedTime>2026-11-27T10:00:00.000Z</LastModifiedTime><InProgressInvalidationBatches>0</InProgressInvalidationBatches><DomainName>d2mywp.cloudfront.net</DomainName>{}</Distribution>"#,
        distribution_config(enabled).replace(
            &format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<DistributionConfig xmlns="{CF}">"#
            ),
            "<DistributionConfig>"
        )
    )
}

fn cf_error(code: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><ErrorResponse xmlns="{CF}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>rec-1</RequestId></ErrorResponse>"#
    )
}

#[tokio::test]
async fn an_enabled_distribution_is_disabled_then_deleted_once_deployed() {
    let (clients, seen, left) = recorded(vec![
        // First removal: enabled → disable it; AWS is still deploying that.
        ok(
            "GET /2020-05-31/distribution",
            distribution_list(true, "Deployed"),
        ),
        with_etag(
            ok(
                "GET /2020-05-31/distribution/E2MYWP/config",
                distribution_config(true),
            ),
            "ETAG1",
        ),
        with_etag(
            ok(
                "PUT /2020-05-31/distribution/E2MYWP/config",
                distribution(false, "InProgress"),
            ),
            "ETAG2",
        ),
        ok(
            "GET /2020-05-31/distribution",
            distribution_list(false, "InProgress"),
        ),
        // Second: disabled but not deployed everywhere yet; AWS still refuses the delete.
        ok(
            "GET /2020-05-31/distribution",
            distribution_list(false, "Deployed"),
        ),
        with_etag(
            ok(
                "GET /2020-05-31/distribution/E2MYWP",
                distribution(false, "Deployed"),
            ),
            "ETAG2",
        ),
        status(
            "DELETE /2020-05-31/distribution/E2MYWP",
            409,
            cf_error(
                "DistributionNotDisabled",
                "The distribution you are trying to delete has not been disabled.",
            ),
        ),
        // Third: deleted.
        ok(
            "GET /2020-05-31/distribution",
            distribution_list(false, "Deployed"),
        ),
        with_etag(
            ok(
                "GET /2020-05-31/distribution/E2MYWP",
                distribution(false, "Deployed"),
            ),
            "ETAG3",
        ),
        status("DELETE /2020-05-31/distribution/E2MYWP", 204, ""),
    ])
    .await;
    let cdn = CdnDriver::new(clients, config(false));
    let spec = site(&["blog.mywp.test"]);

    let first = cdn.remove(&spec).await.unwrap();
    assert!(matches!(first, Removed::Waiting { .. }), "{first:?}");
    let seen_now = seen.lock().unwrap().clone();
    let (_, headers, body) = &seen_now[2];
    assert!(body.contains("<Enabled>false</Enabled>"), "{body}");
    assert!(body.contains("<CallerReference>mywp-site-5-blog</CallerReference>"));
    assert!(headers.contains("\"if-match\": \"ETAG1\""), "{headers}");

    let second = cdn.remove(&spec).await.unwrap();
    assert!(matches!(second, Removed::Waiting { .. }), "{second:?}");
    assert_eq!(cdn.remove(&spec).await.unwrap(), Removed::Gone);
    let all = seen.lock().unwrap().clone();
    let (what, headers, _) = all.last().unwrap();
    assert!(what.starts_with("DELETE"), "{what}");
    assert!(headers.contains("\"if-match\": \"ETAG3\""), "{headers}");
    assert!(
        left.lock().unwrap().is_empty(),
        "every recorded answer was used"
    );
}

#[tokio::test]
async fn backup_selections_select_the_sites_tag_and_go_before_their_plan() {
    let plans_empty = r#"{"BackupPlansList":[]}"#;
    let plan = r#"{"BackupPlansList":[{"BackupPlanArn":"arn:aws:backup:us-east-1:123456789012:backup-plan:p-1","BackupPlanId":"p-1","BackupPlanName":"mywp-site-5-blog","VersionId":"v1","CreationDate":1764237600}]}"#;
    let (clients, seen, left) = recorded(vec![
        ok("GET /backup/plans", plans_empty),
        ok(
            "PUT /backup/plans",
            r#"{"BackupPlanArn":"arn:aws:backup:us-east-1:123456789012:backup-plan:p-1","BackupPlanId":"p-1","VersionId":"v1","CreationDate":1764237600}"#,
        ),
        ok("GET /backup/plans/p-1/selections", r#"{"BackupSelectionsList":[]}"#),
        ok(
            "PUT /backup/plans/p-1/selections",
            r#"{"BackupPlanId":"p-1","SelectionId":"s-1","CreationDate":1764237600}"#,
        ),
        // Again: both exist, nothing is made.
        ok("GET /backup/plans", plan),
        ok(
            "GET /backup/plans/p-1/selections",
            r#"{"BackupSelectionsList":[{"SelectionId":"s-1","SelectionName":"site-resources","BackupPlanId":"p-1","IamRoleArn":"arn:aws:iam::123456789012:role/placeholder"}]}"#,
        ),
        // Removal: the selection, then the plan.
        ok("GET /backup/plans", plan),
        ok(
            "GET /backup/plans/p-1/selections",
            r#"{"BackupSelectionsList":[{"SelectionId":"s-1","SelectionName":"site-resources","BackupPlanId":"p-1"}]}"#,
        ),
        ok("DELETE /backup/plans/p-1/selections/s-1", ""),
        ok(
            "DELETE /backup/plans/p-1",
            r#"{"BackupPlanId":"p-1","BackupPlanArn":"arn:aws:backup:us-east-1:123456789012:backup-plan:p-1","VersionId":"v1","DeletionDate":1764237700}"#,
        ),
    ])
    .await;
    let backup = BackupDriver::new(clients, config(true));
    let spec = site(&["blog.mywp.test"]);
    let first = backup.ensure(&spec).await.unwrap();
    assert!(matches!(first, Ensured::Done { .. }), "{first:?}");
    let all = seen.lock().unwrap().clone();
    let plan_body = &all[1].2;
    assert!(
        plan_body.contains(r#""BackupPlanName":"mywp-site-5-blog""#),
        "{plan_body}"
    );
    assert!(plan_body.contains(r#""DeleteAfterDays":35"#), "{plan_body}");
    assert!(
        plan_body.contains(r#""mywp:site-id":"5""#),
        "tagged: {plan_body}"
    );
    let selection = &all[3].2;
    assert!(
        selection.contains(r#""ConditionKey":"mywp:site-id""#),
        "{selection}"
    );
    assert!(selection.contains(r#""ConditionValue":"5""#), "{selection}");
    assert!(selection.contains("STRINGEQUALS"), "{selection}");

    assert_eq!(backup.ensure(&spec).await.unwrap(), first);
    assert_eq!(backup.remove(&spec).await.unwrap(), Removed::Gone);
    assert!(
        left.lock().unwrap().is_empty(),
        "every recorded answer was used"
    );
}

const R53: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

#[tokio::test]
async fn dns_writes_are_upserts_even_when_retried() {
    let change_ok = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsResponse xmlns="{R53}"><ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status><SubmittedAt>2026-11-27T10:00:00.000Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>"#
    );
    let busy = format!(
        r#"<?xml version="1.0"?><ErrorResponse xmlns="{R53}"><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Please try again</Message></Error><RequestId>r</RequestId></ErrorResponse>"#
    );
    let (clients, seen, left) = recorded(vec![
        // The first answer is lost in a 503; the SDK retries the same change.
        status("POST /2013-04-01/hostedzone/ZPLATFORM/rrset", 503, busy),
        ok("POST /2013-04-01/hostedzone/ZPLATFORM/rrset", change_ok),
    ])
    .await;
    let dns = DnsDriver::new(
        clients,
        config(false),
        Arc::new(AliasTarget::cloudfront("d2mywp.cloudfront.net")),
    );
    let done = dns.ensure(&site(&["blog.mywp.test"])).await.unwrap();
    assert!(matches!(done, Ensured::Done { .. }), "{done:?}");
    let all = seen.lock().unwrap().clone();
    assert_eq!(all.len(), 2);
    for (_, _, body) in &all {
        assert_eq!(body.matches("<Action>UPSERT</Action>").count(), 2, "{body}");
        assert!(!body.contains("CREATE"), "never a CREATE: {body}");
    }
    assert!(left.lock().unwrap().is_empty());
}

fn acm_pending(status: &str, extra: &str) -> String {
    format!(
        r#"{{"Certificate":{{"CertificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/c-1","DomainName":"shop.example.org","SubjectAlternativeNames":["shop.example.org"],"Status":"{status}"{extra},"Type":"AMAZON_ISSUED","DomainValidationOptions":[{{"DomainName":"shop.example.org","ValidationDomain":"shop.example.org","ValidationStatus":"PENDING_VALIDATION","ValidationMethod":"DNS","ResourceRecord":{{"Name":"_3f8a.shop.example.org.","Type":"CNAME","Value":"_9c1d.jkddzztszm.acm-validations.aws."}}}}]}}}}"#
    )
}

#[tokio::test]
async fn a_custom_domain_waits_for_dns_validation_and_a_failure_says_why() {
    let no_zones = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ListHostedZonesResponse xmlns="{R53}"><HostedZones><HostedZone><Id>/hostedzone/ZPLATFORM</Id><Name>mywp.test.</Name><CallerReference>r</CallerReference><Config><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>2</ResourceRecordSetCount></HostedZone></HostedZones><IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListHostedZonesResponse>"#
    );
    let (clients, seen, left) = recorded(vec![
        ok("CertificateManager.ListCertificates", r#"{"CertificateSummaryList":[]}"#),
        ok(
            "CertificateManager.RequestCertificate",
            r#"{"CertificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/c-1"}"#,
        ),
        ok("CertificateManager.DescribeCertificate", acm_pending("PENDING_VALIDATION", "")),
        ok("GET /2013-04-01/hostedzone", no_zones.clone()),
        ok("CertificateManager.DescribeCertificate", acm_pending("PENDING_VALIDATION", "")),
        // Later: ACM looked at DNS and gave up.
        ok(
            "CertificateManager.ListCertificates",
            r#"{"CertificateSummaryList":[{"CertificateArn":"arn:aws:acm:us-east-1:123456789012:certificate/c-1","DomainName":"shop.example.org"}]}"#,
        ),
        ok(
            "CertificateManager.ListTagsForCertificate",
            r#"{"Tags":[{"Key":"mywp:site-id","Value":"5"}]}"#,
        ),
        // Does it cover exactly the site's domains? (Yes: it is kept.)
        ok("CertificateManager.DescribeCertificate", acm_pending("FAILED", r#","FailureReason":"CAA_ERROR""#)),
        ok("CertificateManager.DescribeCertificate", acm_pending("FAILED", r#","FailureReason":"CAA_ERROR""#)),
        ok("GET /2013-04-01/hostedzone", no_zones),
        ok("CertificateManager.DescribeCertificate", acm_pending("FAILED", r#","FailureReason":"CAA_ERROR""#)),
    ])
    .await;
    let cfg = config(false);
    let cdn = Arc::new(CdnDriver::new(clients.clone(), cfg.clone()));
    let certs = CertificateDriver::new(clients, cfg, cdn);
    let spec = site(&["blog.mywp.test", "shop.example.org"]);

    match certs.ensure(&spec).await.unwrap() {
        Ensured::Waiting { reason, .. } => assert!(
            reason
                .contains("CNAME _3f8a.shop.example.org. → _9c1d.jkddzztszm.acm-validations.aws."),
            "the customer is told the record: {reason}"
        ),
        other => panic!("expected to wait for validation, got {other:?}"),
    }
    let request = seen.lock().unwrap()[1].2.clone();
    assert!(request.contains(r#""ValidationMethod":"DNS""#), "{request}");
    assert!(
        request.contains(r#""DomainName":"shop.example.org""#),
        "{request}"
    );
    assert!(
        !request.contains("blog.mywp.test"),
        "the platform name needs no certificate"
    );
    assert!(
        request.contains(r#""IdempotencyToken":"mywp5x"#),
        "the token names the site: {request}"
    );

    let err = certs.ensure(&spec).await.expect_err("a failed certificate");
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("FAILED (CAA_ERROR)"), "{err}");
    assert!(left.lock().unwrap().is_empty());
}
