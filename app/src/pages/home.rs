use leptos::prelude::*;

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"WordPress hosting that shows its work"</h1>
            <p>
                "Launch a WordPress site in seconds, watch every step of its set-up as it happens, "
                "and delete it without leaving anything behind."
            </p>
            <p class="actions">
                <a class="button" href="/signup">"Create an account"</a>
                <a class="button secondary" href="/login">"Log in"</a>
            </p>
        </section>
    }
}
