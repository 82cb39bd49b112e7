//! The header on every page: who is signed in, and where to go.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::auth::{me, Logout};

#[component]
pub fn Header() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    // Asked again on every navigation: signing up or in changes who is signed in.
    let location = leptos_router::hooks::use_location();
    let who = Resource::new(
        move || (location.pathname.get(), logout.version().get()),
        |_| me(),
    );
    view! {
        <header class="topbar">
            <a class="brand" href="/">"MyWP"</a>
            <nav>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match who.await {
                            Ok(Some(me)) => view! {
                                <A href="/sites">"Sites"</A>
                                {me.staff.then(|| view! { <A href="/staff/fleet">"Fleet"</A> })}
                                <span class="who">{me.email}</span>
                                <ActionForm action=logout attr:class="inline">
                                    <button type="submit" class="link">"Log out"</button>
                                </ActionForm>
                            }.into_any(),
                            _ => view! {
                                <A href="/login">"Log in"</A>
                                <A href="/signup">"Sign up"</A>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}
