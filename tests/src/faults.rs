//! A proxy between MyWP's AWS clients and the emulator that injects the faults AWS shows
//! in real life, on a fixed schedule so a failure can be replayed: throttling (400
//! `Throttling` / 429), server errors (503), connections dropped before the request reaches
//! the service, and connections dropped after the service did the work but before the
//! answer arrived (the case that tests idempotency: the retry finds the work done).

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::Response,
    Router,
};

/// What happened to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Passed through untouched.
    None,
    /// Answered 400 `Throttling` without reaching the service.
    Throttled,
    /// Answered 429 without reaching the service.
    TooManyRequests,
    /// Answered 503 without reaching the service.
    Unavailable,
    /// The connection broke before the request reached the service.
    DroppedBefore,
    /// The service did the work; the connection broke before its answer arrived.
    DroppedAfter,
}

/// Every `period` requests, one of each fault in turn; the rest pass.
const SCHEDULE: [Fault; 10] = [
    Fault::None,
    Fault::Throttled,
    Fault::None,
    Fault::DroppedAfter,
    Fault::None,
    Fault::Unavailable,
    Fault::None,
    Fault::DroppedBefore,
    Fault::None,
    Fault::TooManyRequests,
];

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    injected: [AtomicU64; 6],
}

struct Proxy {
    upstream: String,
    client: reqwest::Client,
    counts: Counts,
}

/// A running proxy; it stops with the test's runtime.
pub struct FaultyProxy {
    pub url: String,
    state: Arc<Proxy>,
}

impl FaultyProxy {
    /// Listens on a free loopback port, forwarding to `upstream` (e.g. moto's URL).
    pub async fn start(upstream: &str) -> FaultyProxy {
        let state = Arc::new(Proxy {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
            counts: Counts::default(),
        });
        let app = Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultyProxy { url, state }
    }

    /// How many requests got `fault`.
    pub fn injected(&self, fault: Fault) -> u64 {
        self.state.counts.injected[index(fault)].load(Ordering::Relaxed)
    }

    /// How many requests came through.
    pub fn requests(&self) -> u64 {
        self.state.counts.requests.load(Ordering::Relaxed)
    }
}

fn index(fault: Fault) -> usize {
    match fault {
        Fault::None => 0,
        Fault::Throttled => 1,
        Fault::TooManyRequests => 2,
        Fault::Unavailable => 3,
        Fault::DroppedBefore => 4,
        Fault::DroppedAfter => 5,
    }
}

/// A response whose body breaks off: the client sees the connection drop mid-answer.
fn broken() -> Response {
    let body = Body::from_stream(futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::other(
            "connection dropped by the fault proxy",
        ))
    }));
    let mut res = Response::new(body);
    res.headers_mut()
        .insert("content-length", HeaderValue::from_static("100"));
    res
}

/// How a service words its errors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// ACM and Secrets Manager (`X-Amz-Target`), EFS and Backup (REST-JSON, these paths).
    Json,
    /// Route 53 and CloudFront: `<ErrorResponse><Error><Code>`.
    Xml,
    /// S3 (path-style bucket paths): `<Error><Code>`, and throttling is 503 SlowDown.
    S3,
}

fn dialect(uri: &Uri, headers: &HeaderMap) -> Dialect {
    let path = uri.path();
    if headers.contains_key("x-amz-target")
        || path.starts_with("/2015-02-01/")
        || path.starts_with("/backup")
        || path.starts_with("/tags/")
    {
        Dialect::Json
    } else if path.starts_with("/2013-04-01/") || path.starts_with("/2020-05-31/") {
        Dialect::Xml
    } else {
        Dialect::S3
    }
}

/// An AWS error answer as the service words it.
fn error(dialect: Dialect, status: StatusCode, code: &str) -> Response {
    let (status, code, body) = match dialect {
        Dialect::Json => (
            status,
            code,
            format!(r#"{{"__type":"{code}","message":"injected by the fault proxy"}}"#),
        ),
        Dialect::Xml => (
            status,
            code,
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected \
                 by the fault proxy</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
            ),
        ),
        // S3 throttles with 503 SlowDown whatever the cause.
        Dialect::S3 => (
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>\
             <RequestId>fault</RequestId></Error>"
                .to_string(),
        ),
    };
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_str(code).unwrap());
    res
}

async fn forward(
    State(proxy): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = proxy.counts.requests.fetch_add(1, Ordering::Relaxed);
    let fault = SCHEDULE[(n as usize) % SCHEDULE.len()];
    proxy.counts.injected[index(fault)].fetch_add(1, Ordering::Relaxed);
    let json = dialect(&uri, &headers);
    // A HEAD answer has no body to break off: a dropped HEAD shows as a 503 instead.
    let head = method == Method::HEAD;
    match fault {
        Fault::Throttled => return error(json, StatusCode::BAD_REQUEST, "Throttling"),
        Fault::TooManyRequests => {
            return error(
                json,
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
            )
        }
        Fault::Unavailable => {
            return error(json, StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
        }
        Fault::DroppedBefore if head => {
            return error(json, StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
        }
        Fault::DroppedBefore => return broken(),
        Fault::None | Fault::DroppedAfter => {}
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = proxy
        .client
        .request(method, format!("{}{path}", proxy.upstream))
        .body(body);
    for (name, value) in &headers {
        if name != "content-length" && name != "connection" {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(_) => return broken(),
    };
    let status = answer.status();
    let answer_headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    if fault == Fault::DroppedAfter {
        return if head {
            error(json, StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
        } else {
            broken()
        };
    }
    let mut res = Response::new(Body::from(bytes));
    *res.status_mut() = status;
    for (name, value) in &answer_headers {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            res.headers_mut().append(name, value.clone());
        }
    }
    res
}
