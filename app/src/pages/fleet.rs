//! Staff: the web fleet, zone by zone.

use std::collections::BTreeMap;

use leptos::prelude::*;

use super::RequireLogin;
use crate::api::{fleet::web_fleet, types::FleetNode};

#[component]
pub fn FleetPage() -> impl IntoView {
    let fleet = Resource::new(|| (), |_| web_fleet());
    view! {
        <RequireLogin>
            <section class="card">
                <h1>"Web fleet"</h1>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match fleet.await {
                            Err(e) => view! { <p class="error">{e.to_string()}</p> }.into_any(),
                            Ok(f) if f.shape != "aws" => view! {
                                <p class="muted">
                                    "Single-host shape: this host's nginx and php-fpm serve every site."
                                </p>
                            }.into_any(),
                            Ok(f) if f.nodes.is_empty() => view! {
                                <p class="error">"The Auto Scaling group has no instances: nothing serves the sites."</p>
                            }.into_any(),
                            Ok(f) => zones(f.nodes).into_any(),
                        }
                    })}
                </Transition>
            </section>
        </RequireLogin>
    }
}

/// One table per availability zone, with a count of healthy nodes in its heading.
fn zones(nodes: Vec<FleetNode>) -> impl IntoView {
    let mut by_zone: BTreeMap<String, Vec<FleetNode>> = BTreeMap::new();
    for node in nodes {
        by_zone
            .entry(node.availability_zone.clone())
            .or_default()
            .push(node);
    }
    by_zone
        .into_iter()
        .map(|(zone, nodes)| {
            let healthy = nodes.iter().filter(|n| n.healthy()).count();
            view! {
                <h2 class="zone">{format!("{zone} · {healthy} of {} healthy", nodes.len())}</h2>
                <table class="fleet">
                    <thead><tr>
                        <th>"Instance"</th><th>"State"</th><th>"Lifecycle"</th><th>"Health"</th>
                        <th>"Status checks"</th><th>"Type"</th><th>"Private address"</th>
                    </tr></thead>
                    <tbody>
                        {nodes.into_iter().map(|n| {
                            let class = if n.healthy() { "badge live" } else { "badge failed" };
                            view! {
                                <tr>
                                    <td><code>{n.instance_id.clone()}</code></td>
                                    <td>{n.state.clone()}</td>
                                    <td>{n.lifecycle_state.clone()}</td>
                                    <td><span class=class>{n.health_status.clone()}</span></td>
                                    <td>{n.status_checks.clone()}</td>
                                    <td>{n.instance_type.clone()}</td>
                                    <td>{n.private_ip.clone().unwrap_or_default()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }
        })
        .collect_view()
}
