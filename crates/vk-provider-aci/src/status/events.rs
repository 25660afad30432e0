//! ACI events → [`ProviderEvent`]s with stable ids.

use vk_aci::models::{ContainerGroup, Event};
use vk_pods::ProviderEvent;

/// Event names that are warnings even when ACI says `Normal`.
const WARNING_NAMES: &[&str] = &[
    "Failed",
    "BackOff",
    "FailedMount",
    "Unhealthy",
    "FailedSync",
];

/// Every event of the group, its containers and init containers, oldest first.
/// The id is `<container or "group">/<name>/<first timestamp>`, so each event
/// is published once and again only when its count grows.
pub(crate) fn events(group: &ContainerGroup) -> Vec<ProviderEvent> {
    let mut out: Vec<(Option<jiff::Timestamp>, ProviderEvent)> = Vec::new();
    let p = &group.properties;
    for e in p
        .instance_view
        .as_ref()
        .and_then(|v| v.events.as_deref())
        .unwrap_or_default()
    {
        out.push(event("group", e));
    }
    for c in &p.containers {
        for e in c
            .properties
            .instance_view
            .as_ref()
            .and_then(|v| v.events.as_deref())
            .unwrap_or_default()
        {
            out.push(event(&c.name, e));
        }
    }
    for c in p.init_containers.iter().flatten() {
        for e in c
            .properties
            .instance_view
            .as_ref()
            .and_then(|v| v.events.as_deref())
            .unwrap_or_default()
        {
            out.push(event(&c.name, e));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    out.dedup_by(|a, b| a.1.id == b.1.id);
    out.into_iter().map(|(_, e)| e).collect()
}

fn event(source: &str, e: &Event) -> (Option<jiff::Timestamp>, ProviderEvent) {
    let name = e
        .name
        .as_deref()
        .unwrap_or("Unknown")
        .trim()
        .trim_end_matches('.')
        .to_owned();
    let first = e.first_timestamp.or(e.last_timestamp);
    let warning = e
        .event_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("warning"))
        || WARNING_NAMES.contains(&name.as_str());
    let stamp = first.map(|t| t.to_string()).unwrap_or_default();
    let message = e.message.clone().unwrap_or_default();
    let message = if source == "group" {
        message
    } else {
        format!("container {source}: {message}")
    };
    (
        first,
        ProviderEvent {
            id: format!("{source}/{name}/{stamp}"),
            type_: if warning { "Warning" } else { "Normal" }.to_owned(),
            reason: name,
            message,
            count: e.count.unwrap_or(1).max(1),
        },
    )
}
