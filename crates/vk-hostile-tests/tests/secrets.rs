//! Secrets never leak at the library level: after `pod_to_group`, secret
//! bytes appear in the serialized group only under `secureValue`, secret
//! volume contents and registry passwords — never in `Debug`, tags, plain
//! `value`s, commands, warnings or error messages.

use base64::Engine as _;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use vk_aci::models::ContainerGroup;
use vk_provider_aci::{ResolvedRefs, TranslateConfig, pod_to_group};

const ENV_SECRET: &str = "env-S3CRET-7f3a";
const FILE_SECRET: &str = "file-S3CRET-91bc";
const PULL_PASSWORD: &str = "pull-S3CRET-44de";
const SA_TOKEN: &str = "token-S3CRET-0a1b";

fn all_secrets() -> [&'static str; 4] {
    [ENV_SECRET, FILE_SECRET, PULL_PASSWORD, SA_TOKEN]
}

/// Every form the bytes may take in a body: raw, base64 and in a
/// base64-encoded `user:password`.
fn forms(secret: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        secret.to_owned(),
        b64.encode(secret),
        b64.encode(format!("u:{secret}")),
    ]
}

fn refs() -> ResolvedRefs {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("u:{PULL_PASSWORD}"));
    let dockercfg = json!({"auths": {
        "myregistry.azurecr.io": {"username": "u", "password": PULL_PASSWORD},
        "other.example.com": {"auth": auth},
    }})
    .to_string();
    ResolvedRefs::default()
        .with_secret(
            "app-secret",
            None,
            [("token", ENV_SECRET), ("file.txt", FILE_SECRET)],
        )
        .with_secret(
            "pull",
            Some("kubernetes.io/dockerconfigjson"),
            [(".dockerconfigjson", dockercfg)],
        )
        .with_config_map("settings", [("mode", "plain-config-value")])
        .with_token(None, 3600, SA_TOKEN)
}

fn pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "secretive", "namespace": "default", "uid": "u-1",
                     "labels": {"app": "x"}, "annotations": {"note": "nothing secret"}},
        "spec": {
            "imagePullSecrets": [{"name": "pull"}],
            "containers": [{
                "name": "app",
                "image": "myregistry.azurecr.io/app:1",
                "command": ["sh", "-c", "run --mode=$(MODE)"],
                "env": [
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "token"}}},
                    {"name": "DERIVED", "value": "Bearer $(TOKEN)"},
                    {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
                    {"name": "PLAIN", "value": "hello"}
                ],
                "envFrom": [{"secretRef": {"name": "app-secret"}, "prefix": "S_"}],
                "volumeMounts": [
                    {"name": "secret-vol", "mountPath": "/etc/secret"},
                    {"name": "projected", "mountPath": "/var/run/projected"}
                ]
            }, {
                "name": "side",
                "image": "other.example.com/side:2",
                "env": [{"name": "ALSO", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "file.txt"}}}]
            }],
            "volumes": [
                {"name": "secret-vol", "secret": {"secretName": "app-secret"}},
                {"name": "projected", "projected": {"sources": [
                    {"secret": {"name": "app-secret", "items": [{"key": "file.txt", "path": "f"}]}},
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}
                ]}}
            ]
        }
    }))
    .expect("pod parses")
}

fn config() -> TranslateConfig {
    TranslateConfig::new("vk-node", "cluster-1", "westeurope")
}

fn translate() -> (ContainerGroup, Vec<String>) {
    let (group, adjustments) = pod_to_group(&pod(), &refs(), &config()).expect("translates");
    let shown = adjustments
        .into_iter()
        .map(|a| format!("{}: {}", a.reason, a.message))
        .collect();
    (group, shown)
}

/// Removes the allowed places and returns what is left.
fn without_secret_fields(mut json: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("secureValue");
                map.remove("password");
                if matches!(map.get("secret"), Some(Value::Object(_))) {
                    map.remove("secret");
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut json);
    json
}

#[test]
fn secrets_reach_only_secret_fields() {
    let (group, warnings) = translate();
    let json = serde_json::to_value(&group).expect("serializes");
    let text = json.to_string();
    // They are there (the API needs them)...
    assert!(text.contains(ENV_SECRET), "secureValue missing");
    assert!(text.contains(PULL_PASSWORD), "registry password missing");
    assert!(
        forms(FILE_SECRET).iter().any(|f| text.contains(f)),
        "secret volume content missing"
    );
    // ...and nowhere else.
    let rest = without_secret_fields(json).to_string();
    for secret in all_secrets() {
        for form in forms(secret) {
            assert!(
                !rest.contains(&form),
                "{secret} ({form}) outside secret fields: {rest}"
            );
        }
    }
    for w in &warnings {
        for secret in all_secrets() {
            assert!(!w.contains(secret), "warning leaks {secret}: {w}");
        }
    }
}

#[test]
fn debug_never_shows_secrets() {
    let (group, _) = translate();
    let debug = format!("{group:?} {group:#?}");
    for secret in all_secrets() {
        for form in forms(secret) {
            assert!(!debug.contains(&form), "Debug leaks {secret}");
        }
    }
    let refs_debug = format!("{:?}", refs());
    assert!(
        !refs_debug.contains(SA_TOKEN),
        "ResolvedRefs Debug leaks the token"
    );
}

#[test]
fn tags_never_carry_secrets() {
    let (group, _) = translate();
    let tags = serde_json::to_string(&group.tags).expect("tags");
    for secret in all_secrets() {
        for form in forms(secret) {
            assert!(!tags.contains(&form), "tags leak {secret}: {tags}");
        }
    }
}

#[test]
fn secret_env_and_derived_values_are_secure_only() {
    let (group, _) = translate();
    for c in &group.properties.containers {
        for e in c.properties.environment_variables.iter().flatten() {
            assert!(
                e.value.is_none() || e.secure_value.is_none(),
                "{}: both value and secureValue",
                e.name
            );
            if let Some(v) = &e.value {
                for secret in all_secrets() {
                    assert!(
                        !v.contains(secret),
                        "plain value of {} leaks {secret}",
                        e.name
                    );
                }
            }
            if ["TOKEN", "DERIVED", "ALSO", "S_token", "S_file.txt"].contains(&e.name.as_str()) {
                assert!(e.secure_value.is_some(), "{} should be secure", e.name);
            }
        }
        for part in c.properties.command.iter().flatten() {
            for secret in all_secrets() {
                assert!(!part.contains(secret), "command leaks {secret}");
            }
        }
    }
}

#[test]
fn secret_in_command_is_an_error_without_the_value() {
    let mut pod = pod();
    let spec = pod.spec.as_mut().expect("spec");
    spec.containers[0].command = Some(vec!["echo".into(), "$(TOKEN)".into()]);
    let err = pod_to_group(&pod, &refs(), &config()).expect_err("secret in command");
    let text = format!("{err} {err:?}");
    assert!(text.contains("TOKEN"), "{text}");
    for secret in all_secrets() {
        assert!(!text.contains(secret), "error leaks {secret}: {text}");
    }
}

#[test]
fn errors_about_secrets_do_not_quote_them() {
    // A pull secret that is not valid JSON, a missing key, a missing secret:
    // errors and warnings name objects, never contents.
    let bad_cfg = format!("{{not json {PULL_PASSWORD}");
    let refs = ResolvedRefs::default()
        .with_secret(
            "pull",
            Some("kubernetes.io/dockerconfigjson"),
            [(".dockerconfigjson", bad_cfg)],
        )
        .with_secret("app-secret", None, [("other", ENV_SECRET)]);
    let p = pod();
    match pod_to_group(&p, &refs, &config()) {
        Ok((group, warnings)) => {
            let text = format!("{group:?} {warnings:?}");
            for secret in all_secrets() {
                assert!(!text.contains(secret), "leak of {secret}: {text}");
            }
        }
        Err(e) => {
            let text = format!("{e} {e:?}");
            for secret in all_secrets() {
                assert!(!text.contains(secret), "error leaks {secret}: {text}");
            }
        }
    }
}
