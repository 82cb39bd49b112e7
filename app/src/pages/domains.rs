//! A site's domains, on its page: the platform hostname, the customer's own domains, which
//! one is the site's address, and for each domain not proven yet the DNS record that proves
//! it (a CNAME, or a TXT record), where its proof stands, and a "Check now" button.

use leptos::prelude::*;

use crate::{
    api::{
        domains::{AddDomain, CheckDomain, RemoveDomain, SetPrimaryDomain},
        types::{DomainView, Domains},
    },
    components::form::{action_error, FormError},
};

/// The page's domain actions: the site reloads when one finishes.
#[derive(Clone, Copy)]
pub struct DomainActions {
    pub add: ServerAction<AddDomain>,
    pub remove: ServerAction<RemoveDomain>,
    pub primary: ServerAction<SetPrimaryDomain>,
    pub check: ServerAction<CheckDomain>,
}

impl DomainActions {
    pub fn new() -> Self {
        Self {
            add: ServerAction::new(),
            remove: ServerAction::new(),
            primary: ServerAction::new(),
            check: ServerAction::new(),
        }
    }

    /// Changes when any of them finishes: the site's resource depends on it.
    pub fn version(&self) -> usize {
        self.add.version().get()
            + self.remove.version().get()
            + self.primary.version().get()
            + self.check.version().get()
    }
}

impl Default for DomainActions {
    fn default() -> Self {
        Self::new()
    }
}

#[component]
pub fn DomainsCard(
    slug: String,
    live: bool,
    domains: Domains,
    actions: DomainActions,
) -> impl IntoView {
    let add_error = action_error(move || actions.add.value().get());
    let hostname_error = move || add_error.get().and_then(|e| e.for_field("hostname"));
    let other_error = action_error(move || {
        actions
            .remove
            .value()
            .get()
            .or_else(|| actions.primary.value().get())
            .or_else(|| actions.check.value().get())
    });
    let platform = domains.platform_host.clone();
    let platform_primary = domains.primary.is_none();
    let tls = if domains.https {
        " Each domain gets its own certificate once its DNS is in place; any validation record to create shows in the TLS certificate step above."
    } else {
        ""
    };
    let primary = domains.primary.clone();
    let platform_button = (!platform_primary && live).then(|| {
        view! { <PrimaryButton slug=slug.clone() hostname=String::new() action=actions.primary/> }
    });
    let rows = domains
        .items
        .into_iter()
        .map(|d| {
            let is_primary = primary.as_deref() == Some(d.hostname.as_str());
            view! {
                <DomainRow slug=slug.clone() platform=platform.clone() domain=d
                    primary=is_primary live actions/>
            }
        })
        .collect_view();
    view! {
        <section class="card" id="domains">
            <h2>"Domains"</h2>
            <p class="muted">
                "Point each of your domains at " <code>{platform.clone()}</code>
                ": a CNAME record at your DNS provider (for a bare domain such as example.com, an ALIAS or ANAME record). "
                "A domain is served once that record is in place, or once the TXT record shown for it proves it is yours; "
                "it is checked again regularly, and stops being served when neither is there any more."
                {tls}
            </p>
            <table class="domains">
                <tbody>
                    <tr data-domain=platform.clone()>
                        <td><code>{platform.clone()}</code></td>
                        <td>{platform_primary.then(|| view! { <span class="badge done">"address"</span> })}</td>
                        <td class="muted">"platform hostname"</td>
                        <td class="actions">{platform_button}</td>
                    </tr>
                    {rows}
                </tbody>
            </table>
            {move || other_error.get().map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            <ActionForm action=actions.add attr:id="add-domain" attr:class="inline">
                <input type="hidden" name="slug" value=slug/>
                <label for="field-hostname">"Add a domain"</label>
                <input id="field-hostname" name="hostname" placeholder="www.example.com" autocomplete="off" required=true/>
                <button type="submit">"Add domain"</button>
                {move || hostname_error().map(|m| view! { <p class="error" data-field="hostname">{m}</p> })}
                <FormError error=add_error/>
            </ActionForm>
        </section>
    }
}

#[component]
fn DomainRow(
    slug: String,
    platform: String,
    domain: DomainView,
    primary: bool,
    live: bool,
    actions: DomainActions,
) -> impl IntoView {
    let hostname = domain.hostname.clone();
    let verified = domain.verified();
    let make_primary = (!primary && live && verified).then(|| {
        view! { <PrimaryButton slug=slug.clone() hostname=hostname.clone() action=actions.primary/> }
    });
    let badge_class = match domain.proof.as_str() {
        "verified" => "badge done",
        "failed" | "lost" => "badge failed",
        _ => "badge pending",
    };
    let state = if domain.checking && !verified {
        "checking…"
    } else {
        domain.proof_label()
    };
    let proof = domain.proof.clone();
    let detail = domain.proof_detail.clone();
    // What to create at the DNS provider, while the domain is not served.
    let records = (!verified).then(|| {
        view! {
            <div class="proof-records" data-proof-records=domain.hostname.clone()>
                "Create one of these records at your DNS provider:"
                <ul>
                    <li>"CNAME " <code class="record-name">{domain.hostname.clone()}</code>
                        " → " <code class="record-value">{platform.clone()}</code></li>
                    <li>"TXT " <code class="record-name">{domain.txt_name.clone()}</code>
                        " = " <code class="record-value">{domain.txt_value.clone()}</code></li>
                </ul>
            </div>
        }
    });
    let (check_slug, check_hostname) = (slug.clone(), hostname.clone());
    let check = view! {
        <ActionForm action=actions.check attr:class="inline check-domain">
            <input type="hidden" name="slug" value=check_slug/>
            <input type="hidden" name="hostname" value=check_hostname/>
            <button type="submit" class="secondary">"Check now"</button>
        </ActionForm>
    };
    let row_id = hostname.clone();
    view! {
        <tr data-domain=row_id data-proof=proof>
            <td><code>{domain.display}</code></td>
            <td>
                {primary.then(|| view! { <span class="badge done">"address"</span> })}
                <span class=badge_class>{state}</span>
            </td>
            <td class="muted">
                "your domain"
                {detail.map(|d| view! { <p class="proof-detail">{d}</p> })}
                {records}
            </td>
            <td class="actions">
                {make_primary}
                {check}
                <ActionForm action=actions.remove attr:class="inline remove-domain">
                    <input type="hidden" name="slug" value=slug/>
                    <input type="hidden" name="hostname" value=hostname/>
                    <button type="submit" class="secondary">"Remove"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

#[component]
fn PrimaryButton(
    slug: String,
    hostname: String,
    action: ServerAction<SetPrimaryDomain>,
) -> impl IntoView {
    view! {
        <ActionForm action=action attr:class="inline make-primary">
            <input type="hidden" name="slug" value=slug/>
            <input type="hidden" name="hostname" value=hostname/>
            <button type="submit" class="secondary">"Make this the address"</button>
        </ActionForm>
    }
}
