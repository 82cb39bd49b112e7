//! Sign up, log in, log out, and who is signed in.

use leptos::prelude::*;

use super::types::Viewer;
use crate::error::AppError;

/// The signed-in account, if any.
#[server(prefix = "/api", endpoint = "me")]
pub async fn me() -> Result<Option<Viewer>, AppError> {
    use super::ssr::{respond::respond, session::current_user, views};
    respond(async move { Ok(current_user().map(views::viewer)) }).await
}

/// Creates a customer account and signs it in.
#[server(prefix = "/api", endpoint = "signup")]
pub async fn signup(email: String, password: String) -> Result<(), AppError> {
    use mywp_jobs::{
        domain::{Email, Password, Role},
        store::StoreError,
    };

    use super::ssr::{respond::respond, session::set_session_cookie, state::state};
    respond(async move {
        let state = state()?;
        let email = Email::parse(&email)?;
        let password = Password::parse_new(&password, &email)?;
        let hash = tokio::task::spawn_blocking(move || password.hash())
            .await
            .map_err(AppError::internal)?;
        let account = match state
            .store
            .create_account(&email, &hash, Role::Customer)
            .await
        {
            Err(StoreError::Conflict(_)) => {
                return Err(AppError::invalid(
                    "email",
                    "An account with this email already exists: log in instead.",
                ))
            }
            other => other?,
        };
        let token = state.store.create_session(account.id).await?;
        set_session_cookie(Some(&token), state.secure_cookies);
        tracing::info!(account_id = account.id, "account created");
        leptos_axum::redirect("/sites");
        Ok(())
    })
    .await
}

/// Failed logins allowed per email (and, ten times over, per address) in the window.
#[cfg(feature = "ssr")]
const MAX_FAILURES: i64 = 5;
#[cfg(feature = "ssr")]
const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Signs in with email and password; rate-limited per email and per client address.
#[server(prefix = "/api", endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    use mywp_jobs::{
        domain::{Email, Password, PasswordHash},
        store::now_ms,
    };

    use super::ssr::{
        respond::respond,
        session::{client_ip, set_session_cookie},
        state::state,
    };
    respond(async move {
        let state = state()?;
        let email = Email::parse(&email)?;
        let password = Password::for_login(&password)?;
        let ip = client_ip();
        let (by_email, by_ip) = state
            .store
            .login_failures_since(email.as_str(), &ip, now_ms() - FAILURE_WINDOW_MS)
            .await?;
        if by_email >= MAX_FAILURES || by_ip >= MAX_FAILURES * 10 {
            return Err(AppError::TooManyRequests(
                "Too many failed logins. Wait 15 minutes, then try again.".into(),
            ));
        }
        let found = state.store.account_for_login(&email).await?;
        let (account, hash) = match found {
            Some((account, Some(hash))) => (Some(account), hash),
            _ => (None, PasswordHash::decoy().clone()),
        };
        // Verify even for an unknown email, so timing does not tell which emails have accounts.
        let ok = tokio::task::spawn_blocking(move || password.verify(&hash))
            .await
            .map_err(AppError::internal)?;
        let Some(account) = account.filter(|_| ok) else {
            state
                .store
                .record_login_failure(email.as_str(), &ip)
                .await?;
            return Err(AppError::invalid("password", "Wrong email or password."));
        };
        state.store.clear_login_failures(email.as_str()).await?;
        let token = state.store.create_session(account.id).await?;
        set_session_cookie(Some(&token), state.secure_cookies);
        leptos_axum::redirect("/sites");
        Ok(())
    })
    .await
}

/// Ends the current session.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::ssr::{
        respond::respond,
        session::{session_token, set_session_cookie},
        state::state,
    };
    respond(async move {
        let state = state()?;
        if let Some(token) = session_token() {
            state.store.delete_session(&token).await?;
        }
        set_session_cookie(None, state.secure_cookies);
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}
