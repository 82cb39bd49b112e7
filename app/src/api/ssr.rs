//! Server-side helpers of the server functions: the shared state, the caller, and errors.

use std::sync::Arc;

use http::{header, request::Parts, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use mywp_jobs::{
    domain::{SiteAddressing, SiteSpec},
    queue::JobQueue,
    store::{Account, SessionToken, Store, StoreError},
};

use crate::error::AppError;

/// Makes a one-time link that logs the owner into their site's wp-admin.
pub type LoginLinks = Arc<dyn Fn(&SiteSpec) -> Option<String> + Send + Sync>;

/// A read of the web fleet; an error says why it failed.
pub type FleetFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<crate::api::types::FleetNode>, String>> + Send>,
>;

/// Reads the web fleet (the AWS shape's Auto Scaling group).
pub type FleetSource = Arc<dyn Fn() -> FleetFuture + Send + Sync>;

/// What every server function may use. Provided as context by the server.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub queue: JobQueue,
    /// How sites are addressed (their platform hostnames, their URLs).
    pub addressing: SiteAddressing,
    /// Whether the panel is reached over https (cookies then get `Secure`).
    pub secure_cookies: bool,
    pub login_links: Option<LoginLinks>,
    /// The web fleet, in the AWS shape.
    pub fleet: Option<FleetSource>,
    /// How sites' snapshots are scheduled and kept, in words; `None`: no snapshots here.
    pub snapshot_policy: Option<String>,
    /// Where the snapshots are, for downloads; `None`: no snapshots here.
    pub snapshot_vault: Option<Arc<dyn mywp_jobs::snapshots::Vault>>,
}

impl AppState {
    /// The site's platform hostname, `<slug>.<platform domain>`.
    pub fn platform_host(&self, slug: &str) -> String {
        self.addressing.platform_host_of(slug)
    }

    /// The site's address: its primary domain, else its platform hostname.
    pub fn home_url(&self, slug: &str, primary: Option<&str>) -> String {
        let host = primary.map_or_else(|| self.platform_host(slug), str::to_string);
        format!("{}/", self.addressing.url_of(&host))
    }
}

/// The signed-in account, put into the request's extensions by the server's session layer.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Option<Account>);

/// The client's address, put into the request's extensions by the server.
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

pub const SESSION_COOKIE: &str = "mywp_session";

pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server function's context");
        AppError::Internal
    })
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// The signed-in staff account: `Unauthorized` when signed out, `Forbidden` for customers.
pub fn require_staff() -> Result<Account, AppError> {
    let user = require_user()?;
    if user.role == mywp_jobs::domain::Role::Staff {
        Ok(user)
    } else {
        Err(fail(AppError::Forbidden))
    }
}

/// The signed-in account, or `Unauthorized`.
pub fn require_user() -> Result<Account, AppError> {
    current_user().ok_or_else(|| fail(AppError::Unauthorized))
}

pub fn current_user() -> Option<Account> {
    parts()?.extensions.get::<CurrentUser>()?.0.clone()
}

pub fn client_ip() -> String {
    parts()
        .and_then(|p| p.extensions.get::<ClientIp>().map(|ip| ip.0.clone()))
        .unwrap_or_else(|| "unknown".into())
}

/// The session token in the request's cookie, if any.
pub fn session_token() -> Option<SessionToken> {
    session_cookie_value(&parts()?.headers)
}

/// The session token in `headers`' cookies, if any.
pub fn session_cookie_value(headers: &http::HeaderMap) -> Option<SessionToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| SessionToken(c.value().to_owned()))
}

/// Sets (or, with `None`, clears) the session cookie on the response.
pub fn set_session_cookie(token: Option<&SessionToken>, secure: bool) {
    let mut c = cookie::Cookie::build((
        SESSION_COOKIE,
        token.map(|t| t.0.clone()).unwrap_or_default(),
    ))
    .path("/")
    .http_only(true)
    .same_site(cookie::SameSite::Lax)
    .secure(secure);
    c = match token {
        Some(_) => c.max_age(cookie::time::Duration::days(30)),
        None => c.max_age(cookie::time::Duration::ZERO),
    };
    if let (Some(res), Ok(value)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&c.build().to_string()),
    ) {
        res.append_header(header::SET_COOKIE, value);
    }
}

/// Sets the response's status for `err` and returns it, for `Err(fail(...))`.
pub fn fail(err: AppError) -> AppError {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.set_status(err.status());
    }
    err
}

/// Logs a store error and tells the user only that something went wrong.
pub fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "server function failed");
    fail(AppError::Internal)
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => {
                fail(AppError::Conflict(format!("That {what} already exists.")))
            }
            other => internal(other),
        }
    }
}
