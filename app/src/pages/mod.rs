//! One module per page.

pub mod auth;
pub mod backups;
pub mod domains;
pub mod fleet;
pub mod home;
pub mod new_site;
pub mod site;
pub mod sites;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="card">
            <h1>"Page not found"</h1>
            <p><a href="/sites">"Back to your sites"</a></p>
        </section>
    }
}

/// Sends a visitor who is not signed in to the login page.
#[component]
pub fn RequireLogin(children: ChildrenFn) -> impl IntoView {
    let who = Resource::new(|| (), |_| crate::api::auth::me());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match who.await {
                        Ok(Some(_)) => children().into_any(),
                        _ => view! { <leptos_router::components::Redirect path="/login"/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
