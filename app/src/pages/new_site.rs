//! The form that creates a site.

use leptos::prelude::*;

use super::RequireLogin;
use crate::{
    api::sites::CreateSite,
    components::form::{action_error, Field, FormError},
};

#[component]
pub fn NewSite() -> impl IntoView {
    let action = ServerAction::<CreateSite>::new();
    let error = action_error(move || action.value().get());
    view! {
        <RequireLogin>
            <section class="card narrow">
                <h1>"New WordPress site"</h1>
                <ActionForm action=action attr:id="new-site-form">
                    <Field label="Title" name="title" placeholder="My Blog" error/>
                    <Field
                        label="Subdomain"
                        name="slug"
                        placeholder="my-blog"
                        hint="3–40 letters, digits and hyphens: your site's address."
                        error
                    />
                    <FormError error/>
                    <button type="submit" disabled=move || action.pending().get()>"Create site"</button>
                </ActionForm>
            </section>
        </RequireLogin>
    }
}
