//! Who is calling: the signed-in account and the client's address (both put into the
//! request by the server's session layer), and the session cookie.

use http::{header, request::Parts, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use mywp_jobs::store::{Account, SessionToken};

/// The signed-in account, put into the request's extensions by the server's session layer.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Option<Account>);

/// The client's address, put into the request's extensions by the server.
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

pub const SESSION_COOKIE: &str = "mywp_session";

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// The signed-in account, if any. Whether it may do something is `access`'s to say.
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
