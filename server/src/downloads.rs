//! A customer downloads a snapshot file of their site: the database dump or the files
//! archive. On a single host the panel sends the file; in the AWS shape it redirects to a
//! presigned S3 link that works for five minutes. Only the site's owner may, and each
//! download goes to the audit log.

use axum::{
    extract::{Path, Request, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use mywp_app::api::ssr::{access, AppState, ClientIp, CurrentUser};
use mywp_jobs::{
    domain::{OpState, SiteSlug},
    snapshots::{Download, SnapshotKey, DATABASE_FILE, FILES_FILE},
};
use tower_http::services::ServeFile;

/// `GET /sites/{slug}/snapshots/{id}/{file}`, `file` being `database.sql.gz` or
/// `files.tar.gz`.
pub async fn snapshot_file(
    State(app): State<AppState>,
    Path((slug, id, file)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    let Some(user) = req
        .extensions()
        .get::<CurrentUser>()
        .and_then(|c| c.0.clone())
    else {
        return (StatusCode::UNAUTHORIZED, "Please log in first.").into_response();
    };
    let not_found = || (StatusCode::NOT_FOUND, "There is no such snapshot.").into_response();
    if file != DATABASE_FILE && file != FILES_FILE {
        return not_found();
    }
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let (site, snapshot) = match (
        app.store.site_by_slug(&slug).await,
        app.store.snapshot(id).await,
    ) {
        (Ok(Some(site)), Ok(Some(snapshot)))
            if access::owns(&user, &site)
                && access::is_snapshot_of(&snapshot, &site)
                && snapshot.state == OpState::Done =>
        {
            (site, snapshot)
        }
        (Err(e), _) | (_, Err(e)) => return internal(e),
        _ => return not_found(),
    };
    let Some(vault) = &app.snapshot_vault else {
        return not_found();
    };
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let detail = format!("snapshot {} {file}", snapshot.id);
    if let Err(e) = app
        .store
        .audit(
            Some(user.id),
            "site.snapshot_download",
            &format!("site:{}", site.slug),
            Some(&detail),
            Some(&ip),
        )
        .await
    {
        return internal(e);
    }
    let slug = match SiteSlug::from_stored(&site.slug) {
        Ok(slug) => slug,
        Err(e) => return internal(e),
    };
    let key = SnapshotKey {
        slug,
        id: snapshot.id,
    };
    let save_as = format!("{}-snapshot-{}-{file}", site.slug, snapshot.id);
    match vault.download(&key, &file, &save_as).await {
        Ok(Download::Url(url)) => Redirect::to(&url).into_response(),
        Ok(Download::File(path)) => send_file(&path, &save_as, req).await,
        Err(e) => internal(e),
    }
}

/// The file, streamed (with ranges and a length), as an attachment named `save_as`.
async fn send_file(path: &std::path::Path, save_as: &str, req: Request) -> Response {
    let mut res = match ServeFile::new(path).try_call(req).await {
        Ok(res) => res.into_response(),
        Err(e) => return internal(e),
    };
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{save_as}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    }
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    res
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "snapshot download failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side; it has been logged. Please try again.",
    )
        .into_response()
}
