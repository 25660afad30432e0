//! Rendering of stored groups as ARM JSON (secrets stripped, server fields filled).

use serde_json::{Value, json};

use crate::state::{ContainerRt, Group};

/// Fake tenant id reported for system-assigned identities.
pub(crate) const TENANT_ID: &str = "00000000-0000-0000-0000-00000000e7e7";

/// ARM id of a group.
pub(crate) fn group_id(g: &Group) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerInstance/containerGroups/{}",
        g.subscription, g.resource_group, g.name
    )
}

/// `v[a][b]...` without inserting nulls (unlike `IndexMut`).
fn at<'a>(v: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, k| v.get_mut(*k))
}

fn strip_container_secrets(c: &mut Value) {
    if let Some(envs) = at(c, &["properties", "environmentVariables"]).and_then(Value::as_array_mut)
    {
        for e in envs {
            if let Some(o) = e.as_object_mut() {
                o.remove("secureValue");
            }
        }
    }
}

/// Removes every secret (`x-ms-secret` fields, storage keys, secret volume contents).
pub(crate) fn strip_secrets(resource: &mut Value) {
    let Some(props) = resource.get_mut("properties") else {
        return;
    };
    for list in ["containers", "initContainers"] {
        if let Some(cs) = props.get_mut(list).and_then(Value::as_array_mut) {
            cs.iter_mut().for_each(strip_container_secrets);
        }
    }
    if let Some(creds) = props
        .get_mut("imageRegistryCredentials")
        .and_then(Value::as_array_mut)
    {
        for c in creds {
            if let Some(o) = c.as_object_mut() {
                o.remove("password");
            }
        }
    }
    if let Some(vols) = props.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in vols {
            if let Some(af) = v.get_mut("azureFile").and_then(Value::as_object_mut) {
                af.remove("storageAccountKey");
            }
            if v.get("secret").is_some_and(|s| !s.is_null()) {
                v["secret"] = json!({});
            }
        }
    }
    if let Some(la) = props
        .get_mut("diagnostics")
        .and_then(|d| d.get_mut("logAnalytics"))
        .and_then(Value::as_object_mut)
    {
        la.remove("workspaceKey");
        la.remove("workspaceResourceId");
    }
    if let Some(exts) = props.get_mut("extensions").and_then(Value::as_array_mut) {
        for e in exts {
            if let Some(p) = e.get_mut("properties").and_then(Value::as_object_mut) {
                p.remove("protectedSettings");
            }
        }
    }
}

fn set_container_views(list: Option<&mut Value>, rts: &[ContainerRt]) {
    if let Some(cs) = list.and_then(Value::as_array_mut) {
        for c in cs {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Some(rt) = rts.iter().find(|r| r.name == name)
                && let Some(p) = c.get_mut("properties").and_then(Value::as_object_mut)
            {
                p.insert("instanceView".to_owned(), rt.instance_view());
            }
        }
    }
}

/// Renders a group; `full` adds the instance views (GET), list results omit them.
pub(crate) fn group(g: &Group, full: bool) -> Value {
    let mut v = g.resource.clone();
    strip_secrets(&mut v);
    v["id"] = json!(group_id(g));
    v["name"] = json!(g.name);
    v["type"] = json!("Microsoft.ContainerInstance/containerGroups");
    if let Some(id) = v.get_mut("identity").and_then(Value::as_object_mut) {
        let t = id
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if t.contains("SystemAssigned") {
            id.insert("principalId".to_owned(), json!(g.principal_id));
            id.insert("tenantId".to_owned(), json!(TENANT_ID));
        }
        if let Some(uais) = id
            .get_mut("userAssignedIdentities")
            .and_then(Value::as_object_mut)
        {
            for (i, (_, u)) in uais.iter_mut().enumerate() {
                if u.is_object() || u.is_null() {
                    *u = json!({
                        "principalId": format!("{}-u{i}", g.principal_id),
                        "clientId": format!("{}-c{i}", g.principal_id),
                    });
                }
            }
        }
    }
    let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) else {
        return v;
    };
    props.insert("provisioningState".to_owned(), json!(g.provisioning_state));
    let vnet = props
        .get("subnetIds")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if vnet && g.ip.is_some() && props.get("ipAddress").is_none_or(Value::is_null) {
        // The private address a virtual-network group gets without asking.
        props.insert(
            "ipAddress".to_owned(),
            json!({"type": "Private", "ports": []}),
        );
    }
    if let Some(ip_addr) = props.get_mut("ipAddress").and_then(Value::as_object_mut) {
        match &g.ip {
            Some(ip) => {
                ip_addr.insert("ip".to_owned(), json!(ip));
            }
            None => {
                ip_addr.remove("ip");
            }
        }
        if let Some(label) = ip_addr.get("dnsNameLabel").and_then(Value::as_str) {
            let fqdn = format!(
                "{}.{}.azurecontainer.io",
                label.to_ascii_lowercase(),
                g.location
            );
            ip_addr.insert("fqdn".to_owned(), json!(fqdn));
        }
    }
    if full {
        set_container_views(props.get_mut("containers"), &g.containers);
        set_container_views(props.get_mut("initContainers"), &g.init);
        props.insert(
            "instanceView".to_owned(),
            json!({
                "events": g.events.iter().map(crate::state::Event::to_json).collect::<Vec<_>>(),
                "state": g.instance_state(),
            }),
        );
    }
    v
}
