//! The HTTP surface: the Leptos pages, the server functions under `/api`, the browser bundle
//! under `/pkg`, snapshot downloads, and the layers every request passes: client address,
//! session, same-origin check for mutations, errors of JavaScript-less form posts (sent
//! back to the panel's own pages only), and the security headers of every response.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use ipnet::IpNet;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use mywp_app::{
    api::ssr::{session_cookie_value, AppState, ClientIp, CurrentUser},
    shell, App,
};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

use crate::guards::{client_addr, cross_site, own_location};
use mywp_jobs::settings::Settings;

/// Pages set their own policy, with the nonce of their inline scripts (`mywp_app::shell`);
/// every other answer gets this one: nothing may load from it, frame it or run in it.
const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

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
        .layer(middleware::from_fn_with_state(
            (app, Arc::new(settings.panel.trusted_proxies.clone())),
            session,
        ))
        .layer(middleware::from_fn(no_js_errors))
        .layer(middleware::from_fn(same_origin))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
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
async fn session(
    State((app, trusted)): State<(AppState, Arc<Vec<IpNet>>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
    let ip = client_addr(peer, req.headers(), &trusted);
    req.extensions_mut().insert(ClientIp(ip));
    let account = match session_cookie_value(req.headers(), app.secure_cookies) {
        Some(token) => app
            .store
            .session_account(&token, app.limits.session_idle_ms)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "session lookup failed");
                None
            }),
        None => None,
    };
    req.extensions_mut().insert(CurrentUser(account));
    next.run(req).await
}

/// Refuses a mutation that does not come from this panel's own pages (see `cross_site`).
async fn same_origin(req: Request, next: Next) -> Response {
    if let Some(why) = cross_site(req.method(), req.uri(), req.headers()) {
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    next.run(req).await
}

/// A form posted without JavaScript gets a redirect back to its page from the server
/// function (with a failure's error in the URL, which the page's server action shows); the
/// function's own error status would keep the browser from following it, so make it 303.
/// That page is the request's `Referer`: a server function's redirect is followed only to
/// this panel's own paths.
async fn no_js_errors(req: Request, next: Next) -> Response {
    let plain_form = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let server_fn = req.uri().path().starts_with("/api/");
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let mut res = next.run(req).await;
    let own = res
        .headers()
        .get(header::LOCATION)
        .filter(|_| server_fn)
        .map(|l| own_location(l.to_str().unwrap_or_default(), host.as_deref()));
    if let Some(Ok(own)) = own.map(|o| HeaderValue::from_str(&o)) {
        res.headers_mut().insert(header::LOCATION, own);
    }
    if plain_form && res.headers().contains_key(header::LOCATION) && !res.status().is_redirection()
    {
        *res.status_mut() = StatusCode::SEE_OTHER;
    }
    res
}
