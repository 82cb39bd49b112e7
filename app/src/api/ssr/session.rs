//! Who is calling: the signed-in account and the client's address (both put into the
//! request by the server's session layer), and the session cookie: `__Host-mywp_session`
//! (Secure, so bound to this origin) when the panel is served over https, `mywp_session` on
//! plain http (localhost).

use std::net::{IpAddr, Ipv4Addr};

use http::{header, request::Parts, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use mywp_jobs::store::{Account, SessionToken};

/// The signed-in account, put into the request's extensions by the server's session layer.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub Option<Account>);

/// The client's address (the peer's, or the one a trusted proxy forwarded), put into the
/// request's extensions by the server.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

/// The session cookie's name: `__Host-` prefixed under https.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-mywp_session"
    } else {
        "mywp_session"
    }
}

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// The signed-in account, if any. Whether it may do something is `access`'s to say.
pub fn current_user() -> Option<Account> {
    parts()?.extensions.get::<CurrentUser>()?.0.clone()
}

pub fn client_ip() -> IpAddr {
    parts()
        .and_then(|p| p.extensions.get::<ClientIp>().map(|ip| ip.0))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// The session token in the request's cookie, if any.
pub fn session_token(secure: bool) -> Option<SessionToken> {
    session_cookie_value(&parts()?.headers, secure)
}

/// The session token in `headers`' cookies, if any.
pub fn session_cookie_value(headers: &http::HeaderMap, secure: bool) -> Option<SessionToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == session_cookie_name(secure))
        .map(|c| SessionToken(c.value().to_owned()))
}

/// Sets (or, with `None`, clears) the session cookie on the response.
pub fn set_session_cookie(token: Option<&SessionToken>, secure: bool) {
    let mut c = cookie::Cookie::build((
        session_cookie_name(secure),
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
