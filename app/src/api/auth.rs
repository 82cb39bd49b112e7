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

/// Creates a customer account and signs it in; limited per client address.
#[server(prefix = "/api", endpoint = "signup")]
pub async fn signup(email: String, password: String) -> Result<(), AppError> {
    use mywp_jobs::{
        domain::{Email, Password, Role},
        store::StoreError,
    };

    use super::ssr::{respond::respond, session::client_ip, state::state};
    respond(async move {
        let state = state()?;
        let email = Email::parse(&email)?;
        let password = Password::parse_new(&password, &email)?;
        state.address_limits.signup(client_ip())?;
        let hash = state.hashing.run(move || password.hash()).await?;
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
        start_session(&state, account.id).await?;
        tracing::info!(account_id = account.id, "account created");
        leptos_axum::redirect("/sites");
        Ok(())
    })
    .await
}

/// Signs in with email and password. Limited per client address, and per account: each
/// attempt is recorded before its password is checked, and failures in a row make the next
/// attempt wait longer (see the store's `claim_login_attempt`). Failures from addresses
/// the account never signed in from do not delay its owner at an address it did.
#[server(prefix = "/api", endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    use mywp_jobs::{
        domain::{Email, Password, PasswordHash},
        store::LoginClaim,
    };

    use super::ssr::{respond::respond, session::client_ip, state::state};
    respond(async move {
        let state = state()?;
        let email = Email::parse(&email)?;
        let password = Password::for_login(&password)?;
        let ip = client_ip();
        state.address_limits.login(ip)?;
        // A place to hash first: a busy panel refuses before the attempt counts.
        let hashing = state.hashing.reserve()?;
        let key = if state
            .store
            .is_login_address(email.as_str(), &ip.to_string())
            .await?
        {
            format!("{} {ip}", email.as_str())
        } else {
            email.as_str().to_owned()
        };
        if let LoginClaim::Wait(wait) = state.store.claim_login_attempt(&key).await? {
            return Err(AppError::TooManyRequests(format!(
                "Too many failed logins for this account. Wait {} seconds, then try again.",
                wait.as_secs() + 1
            )));
        }
        let found = state.store.account_for_login(&email).await?;
        let (account, hash) = match found {
            Some((account, Some(hash))) => (Some(account), hash),
            _ => (None, PasswordHash::decoy().clone()),
        };
        // Verify even for an unknown email, so timing does not tell which emails have accounts.
        let ok = hashing.run(move || password.verify(&hash)).await?;
        let Some(account) = account.filter(|_| ok) else {
            return Err(AppError::invalid("password", "Wrong email or password."));
        };
        state.store.login_succeeded(&key).await?;
        state
            .store
            .remember_login_address(email.as_str(), &ip.to_string())
            .await?;
        start_session(&state, account.id).await?;
        leptos_axum::redirect("/sites");
        Ok(())
    })
    .await
}

/// Opens a new session for `account_id`: the one the request came with (if any) ends, so a
/// session id is never carried across a login.
#[cfg(feature = "ssr")]
async fn start_session(state: &super::ssr::AppState, account_id: i64) -> Result<(), AppError> {
    use super::ssr::session::{session_token, set_session_cookie};
    if let Some(old) = session_token(state.secure_cookies) {
        state.store.delete_session(&old).await?;
    }
    let token = state.store.create_session(account_id).await?;
    set_session_cookie(Some(&token), state.secure_cookies);
    Ok(())
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
        if let Some(token) = session_token(state.secure_cookies) {
            state.store.delete_session(&token).await?;
        }
        set_session_cookie(None, state.secure_cookies);
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}
