//! One site: its address, its status, every provisioning step, live, and its backups.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{
    backups::BackupsCard,
    domains::{DomainActions, DomainsCard},
    RequireLogin,
};
use crate::{
    api::{
        sites::{get_site, DeleteSite, OpenWpAdmin, RetrySite},
        snapshots::{RestoreSnapshot, TakeSnapshot},
        types::{human_duration, SiteDetail},
    },
    components::form::{action_error, FormError},
};

#[component]
pub fn SiteDetailPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let retry = ServerAction::<RetrySite>::new();
    let actions = SiteActions {
        retry,
        take: ServerAction::<TakeSnapshot>::new(),
        restore: ServerAction::<RestoreSnapshot>::new(),
        domains: DomainActions::new(),
    };
    let tick = RwSignal::new(0u64);
    let site = Resource::new(
        move || {
            (
                slug(),
                tick.get(),
                retry.version().get(),
                actions.take.version().get(),
                actions.restore.version().get(),
                actions.domains.version(),
            )
        },
        |(slug, ..)| get_site(slug),
    );
    // While something is under way (set-up, removal, a snapshot, a restore), ask again
    // every second (in the browser).
    let settled = RwSignal::new(true);
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if !settled.get_untracked() {
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_millis(1000),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <RequireLogin>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match site.await {
                        Err(e) => view! { <section class="card"><p class="error">{e.to_string()}</p></section> }.into_any(),
                        Ok(detail) => {
                            settled.set(detail.settled);
                            view! { <SiteView detail actions/> }.into_any()
                        }
                    }
                })}
            </Transition>
        </RequireLogin>
    }
}

/// The page's actions: the site reloads when one finishes.
#[derive(Clone, Copy)]
struct SiteActions {
    retry: ServerAction<RetrySite>,
    take: ServerAction<TakeSnapshot>,
    restore: ServerAction<RestoreSnapshot>,
    domains: DomainActions,
}

#[component]
fn SiteView(detail: SiteDetail, actions: SiteActions) -> impl IntoView {
    let retry = actions.retry;
    let s = detail.site.clone();
    let slug = s.slug.clone();
    let live = s.status == "live";
    let failed = s.status == "failed" || s.status == "delete_failed";
    view! {
        // Without JavaScript the page refreshes itself while the site is changing. Set as
        // inner HTML: a <meta> built by client-side rendering would be live and reload.
        {(!detail.settled).then(|| view! { <noscript inner_html=r#"<meta http-equiv="refresh" content="2">"#></noscript> })}
        <section class="card">
            <div class="row">
                <h1>{s.title.clone()}</h1>
                <span class=format!("badge {}", s.status) id="site-status">{s.status.replace('_', " ")}</span>
            </div>
            <p>
                <a href=s.url.clone() target="_blank" rel="noopener" id="site-url">{s.url.clone()}</a>
            </p>
            {detail.error.clone().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <div class="actions">
                {live.then(|| view! { <WpAdminButton slug=s.slug.clone()/> })}
                {failed.then(|| view! {
                    <ActionForm action=retry attr:class="inline">
                        <input type="hidden" name="slug" value=slug.clone()/>
                        <button type="submit">"Try again"</button>
                    </ActionForm>
                })}
            </div>
        </section>
        <section class="card">
            <h2>"Provisioning steps"</h2>
            <table class="steps" id="steps">
                <thead><tr><th>"Step"</th><th>"State"</th><th>"Time"</th><th>"Tries"</th><th>"Detail"</th></tr></thead>
                <tbody>
                    {detail.steps.into_iter().map(|step| {
                        let label = match step.state.as_str() {
                            "unavailable" => "not available here".to_string(),
                            other => other.to_string(),
                        };
                        view! {
                            <tr data-step=step.name.clone()>
                                <td>{step.description}</td>
                                <td><span class=format!("badge {}", step.state)>{label}</span></td>
                                <td>{step.duration_ms.map(human_duration)}</td>
                                <td>{(step.attempts > 0).then_some(step.attempts)}</td>
                                <td class="detail">{step.error}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        {(s.status != "deleting").then(|| view! {
            <DomainsCard slug=s.slug.clone() live domains=detail.domains.clone() actions=actions.domains/>
        })}
        {(s.status != "deleting").then(|| view! {
            <BackupsCard slug=s.slug.clone() live backups=detail.backups.clone() take=actions.take restore=actions.restore/>
        })}
        {(s.status != "deleting").then(|| view! { <DeleteForm slug=s.slug.clone()/> })}
    }
}

#[component]
fn WpAdminButton(slug: String) -> impl IntoView {
    let action = ServerAction::<OpenWpAdmin>::new();
    let error = action_error(move || action.value().get());
    view! {
        <ActionForm action=action attr:class="inline">
            <input type="hidden" name="slug" value=slug/>
            <button type="submit">"Open WordPress admin"</button>
            <FormError error/>
        </ActionForm>
    }
}

#[component]
fn DeleteForm(slug: String) -> impl IntoView {
    let action = ServerAction::<DeleteSite>::new();
    let error = action_error(move || action.value().get());
    let confirm_error = move || error.get().and_then(|e| e.for_field("confirm"));
    view! {
        <section class="card danger">
            <h2>"Delete this site"</h2>
            <p>"This removes its database, its files and its web server configuration. It cannot be undone."</p>
            <ActionForm action=action attr:id="delete-form">
                <input type="hidden" name="slug" value=slug.clone()/>
                <label for="field-confirm">"Type " <code>{slug.clone()}</code> " to confirm"</label>
                <input id="field-confirm" name="confirm" autocomplete="off" required=true/>
                {move || confirm_error().map(|m| view! { <p class="error" data-field="confirm">{m}</p> })}
                <FormError error/>
                <button type="submit" class="danger">"Delete site"</button>
            </ActionForm>
        </section>
    }
}
