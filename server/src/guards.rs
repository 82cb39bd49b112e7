//! What every request and response passes through, besides the session: the client's
//! address (believing `X-Forwarded-For` only from a trusted proxy), the same-origin check
//! of mutations, and where a server function may send the browser.

use std::net::IpAddr;

use axum::http::{header, HeaderMap, Method, Uri};
use ipnet::IpNet;

/// The client's address: the peer's, unless the peer is one of `trusted` proxies; then the
/// nearest address in `X-Forwarded-For` (read from the right) that is not a trusted proxy.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A hop that is no address (or a port-suffixed one) ends what can be believed.
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Why a request that changes something is refused, if it is: it must say it comes from
/// one of this panel's pages, by its `Origin` (never `null`) or, without one, its
/// `Referer`. Browsers send `Origin` with every POST; its absence is not taken as consent.
pub fn cross_site(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
    else {
        return Some("Requests without a Host are refused.");
    };
    let from = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let source = match (from(header::ORIGIN), from(header::REFERER)) {
        (Some("null"), _) => return Some("Requests from an opaque origin are refused."),
        (Some(origin), _) => origin,
        (None, Some(referer)) => referer,
        (None, None) => {
            return Some(
                "Requests that change something must come from the panel's own pages \
                 (they had no Origin or Referer).",
            )
        }
    };
    let same = source
        .parse::<Uri>()
        .ok()
        .filter(|u| matches!(u.scheme_str(), Some("http" | "https")))
        .and_then(|u| u.authority().cloned())
        .is_some_and(|a| a.as_str().eq_ignore_ascii_case(host));
    (!same).then_some("Cross-site requests are refused.")
}

/// Where a server function's answer may send the browser: `location` if it is one of this
/// panel's paths (`/…`, never `//…` or `/\…`, which browsers read as another host), or the
/// path of a URL on this panel's `host`; anything else becomes `/`.
pub fn own_location(location: &str, host: Option<&str>) -> String {
    let is_path = |p: &str| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\");
    if is_path(location) {
        return location.to_owned();
    }
    let Ok(uri) = location.parse::<Uri>() else {
        return "/".into();
    };
    let same_host = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri
            .authority()
            .zip(host)
            .is_some_and(|(a, h)| a.as_str().eq_ignore_ascii_case(h));
    match uri.path_and_query().map(|p| p.as_str()) {
        Some(path) if same_host && is_path(path) => path.to_owned(),
        _ => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted = ["10.0.0.0/24".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.7")]);
        assert_eq!(
            client_addr(proxy, &h, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_addr(stranger, &h, &trusted), stranger);
        assert_eq!(client_addr(proxy, &HeaderMap::new(), &trusted), proxy);
        let bad = headers(&[("x-forwarded-for", "203.0.113.9, junk")]);
        assert_eq!(client_addr(proxy, &bad, &trusted), proxy);
    }

    #[test]
    fn mutations_need_this_origin() {
        let post = |pairs: &[(&'static str, &str)]| {
            cross_site(&Method::POST, &Uri::from_static("/api/x"), &headers(pairs))
        };
        let host = ("host", "panel.test:3000");
        assert_eq!(post(&[host, ("origin", "http://panel.test:3000")]), None);
        assert_eq!(
            post(&[host, ("referer", "https://panel.test:3000/sites?a=1")]),
            None
        );
        for refused in [
            vec![host],
            vec![host, ("origin", "null")],
            vec![
                host,
                ("origin", "null"),
                ("referer", "http://panel.test:3000/"),
            ],
            vec![host, ("origin", "http://evil.test")],
            vec![host, ("origin", "http://panel.test:3000.evil.test")],
            vec![host, ("referer", "http://evil.test/panel.test:3000")],
            vec![host, ("origin", "panel.test:3000")],
        ] {
            assert!(post(&refused).is_some(), "{refused:?}");
        }
        let get = cross_site(&Method::GET, &Uri::from_static("/"), &headers(&[host]));
        assert_eq!(get, None);
    }

    #[test]
    fn redirects_stay_on_the_panel() {
        let host = Some("panel.test");
        assert_eq!(own_location("/sites/a?x=1", host), "/sites/a?x=1");
        assert_eq!(
            own_location("http://panel.test/login?__err=x", host),
            "/login?__err=x"
        );
        for off in [
            "//evil.test/x",
            "/\\evil.test",
            "http://evil.test/sites",
            "https://panel.test.evil.test/",
            "javascript:alert(1)",
            "evil.test",
        ] {
            assert_eq!(own_location(off, host), "/", "{off}");
        }
    }
}
