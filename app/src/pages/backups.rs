//! A site's backups, on its page: the snapshots, taking one now, restoring one.

use leptos::prelude::*;

use crate::{
    api::{
        snapshots::{RestoreSnapshot, TakeSnapshot},
        types::{human_bytes, human_duration, utc_time, Backups, RestoreView, SnapshotView},
    },
    components::form::{action_error, FormError},
};

/// The backups card. `take` and `restore` are the page's actions, so the page reloads the
/// site when they finish.
#[component]
pub fn BackupsCard(
    slug: String,
    live: bool,
    backups: Backups,
    take: ServerAction<TakeSnapshot>,
    restore: ServerAction<RestoreSnapshot>,
) -> impl IntoView {
    let Some(policy) = backups.policy.clone() else {
        return view! {
            <section class="card" id="backups">
                <h2>"Backups"</h2>
                <p class="muted">"Snapshots are not available in this deployment."</p>
            </section>
        }
        .into_any();
    };
    let take_error = action_error(move || take.value().get());
    let restore_error = action_error(move || restore.value().get());
    let busy = backups.busy();
    let latest_restore = backups.restores.first().cloned();
    let snapshots = backups.snapshots.clone();
    let empty = snapshots.is_empty();
    let take_slug = slug.clone();
    view! {
        <section class="card" id="backups">
            <h2>"Backups"</h2>
            <p class="muted">{policy} " Each snapshot holds the site's database and its files (wp-content)."</p>
            {latest_restore.map(|r| view! { <RestoreNotice restore=r snapshots=backups.snapshots.clone()/> })}
            {live.then(|| view! {
                <ActionForm action=take attr:class="inline" attr:id="take-snapshot">
                    <input type="hidden" name="slug" value=take_slug/>
                    <button type="submit" disabled=busy>"Take a snapshot now"</button>
                    <FormError error=take_error/>
                </ActionForm>
            })}
            {move || restore_error.get().map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            {if empty {
                view! { <p class="muted">"No snapshots yet."</p> }.into_any()
            } else {
                view! {
                    <table class="snapshots" id="snapshots">
                        <thead><tr><th>"Taken"</th><th>"Kind"</th><th>"Size"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>
                            {snapshots.into_iter().map(|s| view! {
                                <SnapshotRow snapshot=s slug=slug.clone() can_restore=live && !busy restore/>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}

#[component]
fn SnapshotRow(
    snapshot: SnapshotView,
    slug: String,
    can_restore: bool,
    restore: ServerAction<RestoreSnapshot>,
) -> impl IntoView {
    let size = match (snapshot.database_bytes, snapshot.files_bytes) {
        (Some(db), Some(files)) => format!(
            "{} (database {}, files {})",
            human_bytes(db + files),
            human_bytes(db),
            human_bytes(files)
        ),
        _ => String::new(),
    };
    let took = snapshot
        .finished_at
        .filter(|_| snapshot.state == "done")
        .map(|end| format!(" in {}", human_duration(end - snapshot.created_at)));
    let done = snapshot.state == "done";
    let label = snapshot.kind_label();
    let link = |file: &str| format!("/sites/{slug}/snapshots/{}/{file}", snapshot.id);
    let downloads = done.then(|| {
        view! {
            <div class="downloads">
                "Download: "
                <a href=link("database.sql.gz") download="">"database"</a>
                " · "
                <a href=link("files.tar.gz") download="">"files"</a>
            </div>
        }
    });
    view! {
        <tr data-snapshot=snapshot.id data-state=snapshot.state.clone()>
            <td>{utc_time(snapshot.created_at)}</td>
            <td>{label}</td>
            <td>{size}</td>
            <td>
                <span class=format!("badge {}", snapshot.state)>{snapshot.state.clone()}</span>
                {took}
                {downloads}
                {snapshot.error.map(|e| view! { <div class="detail">{e}</div> })}
            </td>
            <td>
                {(done && can_restore).then(|| view! {
                    <details class="restore">
                        <summary>"Restore…"</summary>
                        <ActionForm action=restore>
                            <input type="hidden" name="slug" value=slug/>
                            <input type="hidden" name="snapshot_id" value=snapshot.id.to_string()/>
                            <p>"This replaces the site's database and files with this snapshot's. A snapshot of the current content is taken first, so nothing is lost."</p>
                            <button type="submit" class="danger">"Restore this snapshot"</button>
                        </ActionForm>
                    </details>
                })}
            </td>
        </tr>
    }
}

/// Where the latest restore stands.
#[component]
fn RestoreNotice(restore: RestoreView, snapshots: Vec<SnapshotView>) -> impl IntoView {
    let when = |id: i64| {
        snapshots
            .iter()
            .find(|s| s.id == id)
            .map(|s| format!("the snapshot of {}", utc_time(s.created_at)))
            .unwrap_or_else(|| format!("snapshot {id}"))
    };
    let source = when(restore.snapshot_id);
    let (class, text) = match restore.state.as_str() {
        "pending" | "running" => ("notice", format!("Restoring {source}…")),
        "done" => (
            "notice ok",
            format!(
                "Restored {source} on {}.",
                utc_time(restore.finished_at.unwrap_or(restore.created_at))
            ),
        ),
        _ => (
            "error",
            format!(
                "Restoring {source} failed: {}",
                restore.error.clone().unwrap_or_default()
            ),
        ),
    };
    view! { <p class=class id="restore-status" data-state=restore.state.clone() role="status">{text}</p> }
}
