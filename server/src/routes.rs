//! The HTTP surface: the Leptos pages, the server functions under `/api`, the browser bundle
//! under `/pkg`, snapshot downloads, and the layers every request passes: client address, session, same-origin
//! check for mutations, and errors of JavaScript-less form posts.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use mywp_app::{
    api::ssr::{session_cookie_value, AppState, ClientIp, CurrentUser},
    shell, App,
};
use tower_http::services::ServeDir;

use mywp_jobs::settings::Settings;

pub fn router(app: AppState, settings: &Settings, addr: SocketAddr) -> anyhow::Result<Router> {
    let site_root = settings.site_root.display().to_string();
    if !Path::new(&site_root).join("pkg").exists() {
        tracing::warn!(
            site_root,
            "no browser bundle found: pages render but do not hydrate (run `make run`)"
        );
    }
    let leptos = LeptosOptions::builder()
        .output_name("mywp")
        .site_root(site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let routes = generate_route_list(App);
    let ctx = app.clone();
    let router = Router::new()
        .leptos_routes_with_context(&leptos, routes, move || provide_context(ctx.clone()), {
            let leptos = leptos.clone();
            move || shell(leptos.clone())
        })
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/sites/{slug}/snapshots/{id}/{file}",
            get(crate::downloads::snapshot_file).with_state(app.clone()),
        )
        .nest_service("/pkg", bundle(Path::new(&site_root).join("pkg")))
        .layer(middleware::from_fn_with_state(app, session))
        .layer(middleware::from_fn(no_js_errors))
        .layer(middleware::from_fn(same_origin))
        .with_state(leptos);
    Ok(router)
}

/// The browser bundle: each file as the brotli (`.br`) or gzip (`.gz`) copy
/// `scripts/build-bundle.sh` wrote beside it, whichever the client accepts and prefers (brotli
/// on a tie), else the file itself. The answer depends on `Accept-Encoding`, which ServeDir
/// does not say: `Vary` tells caches (and CloudFront) not to hand one client's encoding to another.
fn bundle(dir: PathBuf) -> Router {
    Router::new()
        .fallback_service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
        .layer(middleware::map_response(|mut res: Response| async move {
            res.headers_mut()
                .append(header::VARY, HeaderValue::from_static("accept-encoding"));
            res
        }))
}

/// Puts the client's address and the signed-in account into the request's extensions.
async fn session(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    req.extensions_mut().insert(ClientIp(ip));
    let account = match session_cookie_value(req.headers()) {
        Some(token) => app.store.session_account(&token).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "session lookup failed");
            None
        }),
        None => None,
    };
    req.extensions_mut().insert(CurrentUser(account));
    next.run(req).await
}

/// Refuses a cross-site mutation: a POST whose Origin is not this panel's.
async fn same_origin(req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|h| h.to_str().ok());
        if let (Some(origin), Some(host)) = (origin, host) {
            let origin_host = origin
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(origin);
            if origin != "null" && origin_host != host {
                return (StatusCode::FORBIDDEN, "Cross-site requests are refused.").into_response();
            }
        }
    }
    next.run(req).await
}

/// A form posted without JavaScript gets a redirect back to its page from the server
/// function (with a failure's error in the URL, which the page's server action shows); the
/// function's own error status would keep the browser from following it, so make it 303.
async fn no_js_errors(req: Request, next: Next) -> Response {
    let plain_form = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let mut res = next.run(req).await;
    if plain_form && res.headers().contains_key(header::LOCATION) && !res.status().is_redirection()
    {
        *res.status_mut() = StatusCode::SEE_OTHER;
    }
    res
}
