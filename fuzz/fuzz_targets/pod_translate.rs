//! Arbitrary Pod JSON → `pod_to_group`: never panics; the group it returns
//! serializes, carries a valid name, and never shows secret bytes in `Debug`
//! or in tags.
#![no_main]

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::Pod;
use libfuzzer_sys::fuzz_target;
use vk_provider_aci::naming::{group_name, is_valid_name};
use vk_provider_aci::{ResolvedRefs, TranslateConfig, pod_to_group};

const SECRET: &str = "fuzz-s3cr3t-Z9q7";

static CONFIG: LazyLock<TranslateConfig> =
    LazyLock::new(|| TranslateConfig::new("vk-node", "cluster-1", "westeurope"));

static REFS: LazyLock<ResolvedRefs> = LazyLock::new(|| {
    let docker = format!(
        r#"{{"auths":{{"registry.example.com":{{"username":"u","password":"{SECRET}"}}}}}}"#
    );
    ResolvedRefs::default()
        .with_secret("creds", None, [("token", SECRET), ("a", SECRET)])
        .with_secret(
            "pull",
            Some("kubernetes.io/dockerconfigjson"),
            [(".dockerconfigjson", docker)],
        )
        .with_config_map("cm", [("k", "v")])
        .with_token(None, 3600, SECRET)
});

fuzz_target!(|data: &[u8]| {
    let Ok(pod) = serde_json::from_slice::<Pod>(data) else {
        return;
    };
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let gname = group_name(ns, name);
    assert!(is_valid_name(&gname), "{ns:?}/{name:?} -> {gname:?}");

    // The brief's case: nothing resolved.
    if let Ok((group, _warnings)) = pod_to_group(&pod, &ResolvedRefs::default(), &CONFIG) {
        serde_json::to_vec(&group).expect("group serializes");
        let _ = format!("{group:?}");
    }
    // With secrets available: they must stay out of Debug and tags, unless the
    // fuzzer typed the secret itself into the pod.
    let typed = String::from_utf8_lossy(data).contains(SECRET);
    match pod_to_group(&pod, &REFS, &CONFIG) {
        Ok((group, warnings)) => {
            let mut json = serde_json::to_value(&group).expect("group serializes");
            if !typed {
                strip_secret_fields(&mut json);
                let rest = json.to_string();
                assert!(
                    !rest.contains(SECRET),
                    "secret outside secret fields: {rest}"
                );
                let debug = format!("{group:?}");
                assert!(!debug.contains(SECRET), "secret in Debug: {debug}");
                let tags = format!("{:?}", group.tags);
                assert!(!tags.contains(SECRET), "secret in tags: {tags}");
                for w in &warnings {
                    assert!(!w.contains(SECRET), "secret in warning: {w}");
                }
            }
        }
        Err(e) => {
            let text = format!("{e} {e:?}");
            if !typed {
                assert!(!text.contains(SECRET), "secret in error: {text}");
            }
        }
    }
});

/// Removes the places secret material may legitimately go: `secureValue`,
/// secret volume contents, registry passwords.
fn strip_secret_fields(json: &mut serde_json::Value) {
    use serde_json::Value;
    match json {
        Value::Object(map) => {
            map.remove("secureValue");
            map.remove("password");
            if let Some(Value::Object(_)) = map.get("secret") {
                map.remove("secret");
            }
            for v in map.values_mut() {
                strip_secret_fields(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_secret_fields),
        _ => {}
    }
}
