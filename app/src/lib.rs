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
