//! The customer's sites, a page of 50 at a time.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::RequireLogin;
use crate::api::sites::list_sites;

#[component]
pub fn SiteList() -> impl IntoView {
    let query = use_query_map();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1)
    };
    let sites = Resource::new(page, list_sites);
    view! {
        <RequireLogin>
            <section class="card">
                <div class="row">
                    <h1>"Your sites"</h1>
                    <a class="button" href="/sites/new">"New site"</a>
                </div>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match sites.await {
                            Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                            Ok(p) if p.sites.is_empty() => view! {
                                <p class="muted">"No sites yet. " <a href="/sites/new">"Create your first one."</a></p>
                            }.into_any(),
                            Ok(p) => {
                                let pages = (p.total + p.per_page - 1) / p.per_page;
                                view! {
                                    <table class="sites">
                                        <thead><tr><th>"Site"</th><th>"Address"</th><th>"Status"</th></tr></thead>
                                        <tbody>
                                            {p.sites.into_iter().map(|s| view! {
                                                <tr>
                                                    <td><a href=format!("/sites/{}", s.slug)>{s.title}</a></td>
                                                    <td><a href=s.url.clone() rel="noopener" target="_blank">{s.url.clone()}</a></td>
                                                    <td><span class=format!("badge {}", s.status)>{s.status.replace('_', " ")}</span></td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                    <p class="muted pager">
                                        {format!("{} site{} · page {} of {}", p.total, if p.total == 1 { "" } else { "s" }, p.page, pages.max(1))}
                                        {(p.page > 1).then(|| view! { " " <a href=format!("/sites?page={}", p.page - 1)>"← Newer"</a> })}
                                        {(p.page < pages).then(|| view! { " " <a href=format!("/sites?page={}", p.page + 1)>"Older →"</a> })}
                                    </p>
                                }.into_any()
                            }
                        }
                    })}
                </Transition>
            </section>
        </RequireLogin>
    }
}
