//! The one place a server function's error sets the HTTP status of the response it is part
//! of, from `AppError::status()`.
//!
//! Every server function's body runs inside `respond`. Why there, rather than in a hook of
//! server_fn or a layer of the server: a server function's error reaches two kinds of
//! response. Called over HTTP (`/api/<name>`), server_fn turns it into a 500 with the error
//! as JSON; but when a page calls it while being rendered on the server, the `#[server]`
//! macro runs the body directly, and no server_fn code or HTTP layer sees the error: only the
//! body's own result does. The page's status (401 signed out, 403 staff only, 404 another
//! customer's site) comes from here too. leptos_axum applies the status set here to either
//! response (`ResponseOptions`); the server's `no_js_errors` layer then turns a form post's
//! error status into a 303 back to the form.

use std::future::Future;

use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::error::AppError;

/// Runs a server function's `body`; an error sets the response's status before it is returned.
pub async fn respond<T>(body: impl Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
    let result = body.await;
    if let Err(e) = &result {
        if let Some(response) = use_context::<ResponseOptions>() {
            response.set_status(e.status());
        }
    }
    result
}

#[cfg(test)]
mod tests {
    /// Every `#[server]` function of `api/` runs its body through `respond`: a function
    /// without it would answer its errors with 500 (or a page with 200).
    #[test]
    fn every_server_function_responds_through_respond() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for server_fn in source.split("#[server(").skip(1) {
                let signature_and_body = server_fn.split("\n}\n").next().unwrap();
                let name = signature_and_body
                    .split("pub async fn ")
                    .nth(1)
                    .and_then(|s| s.split('(').next())
                    .unwrap_or("?");
                assert!(
                    signature_and_body.contains("respond(async move {"),
                    "{}: server function {name} does not run its body through `respond`",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(checked >= 16, "found only {checked} server functions");
    }
}
