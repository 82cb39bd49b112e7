//! Form helpers: a labelled field with its error, and a form-wide error line.

use leptos::prelude::*;

use crate::error::AppError;

/// The last result of a server action, as an error if it failed.
pub fn action_error<T>(
    value: impl Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static,
) -> Signal<Option<AppError>> {
    Signal::derive(move || value().and_then(|r| r.err()))
}

#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] hint: &'static str,
    #[prop(optional)] placeholder: &'static str,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let message = move || error.get().and_then(|e| e.for_field(name));
    let id = format!("field-{name}");
    view! {
        <label for=id.clone()>{label}</label>
        <input
            id=id
            name=name
            type=kind
            autocomplete=autocomplete
            placeholder=placeholder
            required=true
            aria-invalid=move || if message().is_some() { "true" } else { "false" }
        />
        {(!hint.is_empty()).then(|| view! { <p class="hint">{hint}</p> })}
        {move || message().map(|m| view! { <p class="error" data-field=name>{m}</p> })}
    }
}

#[component]
pub fn FormError(error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error
            .get()
            .and_then(|e| e.general())
            .map(|m| view! { <p class="error" role="alert">{m}</p> })
    }
}
