//! MyWP's web UI, rendered on the server and hydrated in the browser: the shell, the routes,
//! the pages, their components and the server functions they call.

pub mod api;
mod components;
pub mod error;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The page's Content-Security-Policy: scripts only from the panel, and its inline ones
/// (hydration's start, streamed resources) only with this response's nonce, which leptos
/// puts on each; WebAssembly may be compiled; no framing by anyone.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use leptos::nonce::{provide_nonce, use_nonce};
    provide_nonce();
    let (Some(nonce), Some(response)) =
        (use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    #[cfg(feature = "ssr")]
    provide_form_error_from_url();
    view! {
        <Stylesheet id="mywp" href="/pkg/mywp.css"/>
        <Title text="MyWP"/>
        <Router>
            <components::layout::Header/>
            <main>
                <Routes fallback=|| view! { <pages::NotFound/> }>
                    <Route path=path!("/") view=pages::home::Home/>
                    <Route path=path!("/signup") view=pages::auth::Signup/>
                    <Route path=path!("/login") view=pages::auth::Login/>
                    <Route path=path!("/sites") view=pages::sites::SiteList/>
                    <Route path=path!("/sites/new") view=pages::new_site::NewSite/>
                    <Route path=path!("/sites/:slug") view=pages::site::SiteDetailPage/>
                    <Route path=path!("/staff/fleet") view=pages::fleet::FleetPage/>
                </Routes>
            </main>
        </Router>
    }
}

/// A form posted without JavaScript that failed comes back with its error in the URL
/// (see the server's `no_js_errors` layer); this hands it to the page's server action.
#[cfg(feature = "ssr")]
fn provide_form_error_from_url() {
    use leptos::server::ServerActionError;
    let Some(parts) = use_context::<http::request::Parts>() else {
        return;
    };
    let query = parts.uri.query().unwrap_or_default();
    let mut path = None;
    let mut err = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "__path" => path = Some(value.into_owned()),
            "__err" => err = Some(value.into_owned()),
            _ => {}
        }
    }
    if let (Some(path), Some(err)) = (path, err) {
        provide_context(ServerActionError::new(&path, &err));
    }
}

#[cfg(feature = "hydrate")]
pub fn hydrate() {
    leptos::mount::hydrate_body(App);
}
