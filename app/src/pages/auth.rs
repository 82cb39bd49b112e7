//! Sign-up and log-in forms. Both work without JavaScript.

use leptos::prelude::*;

use crate::{
    api::auth::{Login as LoginFn, Signup as SignupFn},
    components::form::{action_error, Field, FormError},
};

#[component]
pub fn Signup() -> impl IntoView {
    let action = ServerAction::<SignupFn>::new();
    let error = action_error(move || action.value().get());
    view! {
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <ActionForm action=action attr:id="signup-form">
                <Field label="Email" name="email" kind="email" autocomplete="email" error/>
                <Field
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 10 characters; not a common password."
                    error
                />
                <FormError error/>
                <button type="submit" disabled=move || action.pending().get()>"Sign up"</button>
            </ActionForm>
            <p class="muted">"Already have an account? " <a href="/login">"Log in"</a></p>
        </section>
    }
}

#[component]
pub fn Login() -> impl IntoView {
    let action = ServerAction::<LoginFn>::new();
    let error = action_error(move || action.value().get());
    view! {
        <section class="card narrow">
            <h1>"Log in"</h1>
            <ActionForm action=action attr:id="login-form">
                <Field label="Email" name="email" kind="email" autocomplete="email" error/>
                <Field label="Password" name="password" kind="password" autocomplete="current-password" error/>
                <FormError error/>
                <button type="submit" disabled=move || action.pending().get()>"Log in"</button>
            </ActionForm>
            <p class="muted">"New here? " <a href="/signup">"Create an account"</a></p>
        </section>
    }
}
