//! Deeply nested JSON from a misbehaving ACI (or API server) is a decode
//! error, not a stack overflow: the models are decoded with `serde_json`'s
//! default recursion limit (128), which no crate in the build disables (the
//! `unbounded_depth` feature would make these tests overflow the stack).

use k8s_openapi::api::core::v1::Pod;
use vk_aci::models::{
    CapabilitiesListResult, CloudError, ContainerGroup, ContainerGroupListResult, OperationStatus,
};

const DEPTH: usize = 100_000;
/// Tokio's default worker stack (and std's default for spawned threads):
/// where the client really decodes bodies.
const STACK: usize = 2 * 1024 * 1024;

fn nested_arrays() -> String {
    format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH))
}

fn nested_objects(key: &str) -> String {
    let mut s = String::with_capacity(DEPTH * (key.len() + 6));
    for _ in 0..DEPTH {
        s.push_str(&format!("{{\"{key}\":"));
    }
    s.push_str("null");
    s.push_str(&"}".repeat(DEPTH));
    s
}

/// Bodies a hostile ACI could send, each nesting 100k levels somewhere the
/// models accept arbitrary or recursive JSON.
fn hostile_bodies() -> Vec<(&'static str, String)> {
    let arrays = nested_arrays();
    vec![
        ("bare arrays", arrays.clone()),
        ("bare objects", nested_objects("a")),
        (
            "extension settings (serde_json::Value)",
            format!(
                r#"{{"properties":{{"containers":[],"extensions":[{{"name":"e","properties":{{"extensionType":"t","version":"1","settings":{arrays}}}}}]}}}}"#
            ),
        ),
        (
            "unknown field",
            format!(r#"{{"name":"g","unknown":{arrays}}}"#),
        ),
        ("error details (recursive CloudErrorBody)", {
            let mut s = String::from(r#"{"error":"#);
            for _ in 0..DEPTH {
                s.push_str(r#"{"code":"X","details":["#);
            }
            s.push_str("{}");
            for _ in 0..DEPTH {
                s.push_str("]}");
            }
            s.push('}');
            s
        }),
        (
            "operation properties",
            format!(r#"{{"status":"Running","properties":{arrays}}}"#),
        ),
        (
            "list value",
            format!(r#"{{"value":[{{"properties":{{"containers":{arrays}}}}}]}}"#),
        ),
    ]
}

/// Decodes `body` as `T`: an error (or, where the nesting sits in an ignored
/// field that serde_json skips iteratively, a value): never a crash.
fn decode_or_error<T: serde::de::DeserializeOwned + std::fmt::Debug>(what: &str, body: &str) {
    if let Err(e) = serde_json::from_str::<T>(body) {
        let text = e.to_string();
        assert!(!text.is_empty(), "{what}");
    }
}

#[test]
fn aci_models_survive_deep_nesting() {
    // Run on a thread with tokio's default 2 MiB stack: a decoder without a
    // depth limit overflows it at these depths (and aborts the test binary).
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(|| {
            for (what, body) in hostile_bodies() {
                decode_or_error::<ContainerGroup>(what, &body);
                decode_or_error::<ContainerGroupListResult>(what, &body);
                decode_or_error::<CloudError>(what, &body);
                decode_or_error::<OperationStatus>(what, &body);
                decode_or_error::<CapabilitiesListResult>(what, &body);
                let err = serde_json::from_str::<serde_json::Value>(&body)
                    .expect_err("a Value cannot hold 100k levels");
                assert!(err.to_string().contains("recursion limit"), "{what}: {err}");
            }
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow, no panic");
}

#[test]
fn recursion_limit_is_the_default_128() {
    let ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
    serde_json::from_str::<serde_json::Value>(&ok).expect("127 levels are fine");
    let too_deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
    let err = serde_json::from_str::<serde_json::Value>(&too_deep).expect_err("129 levels");
    assert!(err.to_string().contains("recursion limit"), "{err}");
}

#[test]
fn deep_pods_are_refused() {
    let arrays = nested_arrays();
    let body = format!(
        r#"{{"metadata":{{"name":"p","managedFields":[{{"manager":"m","fieldsV1":{arrays}}}]}},"spec":{{"containers":[{{"name":"c"}}]}}}}"#
    );
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let err = serde_json::from_slice::<Pod>(body.as_bytes()).expect_err("too deep");
            assert!(err.to_string().contains("recursion limit"), "{err}");
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
}

#[test]
fn deep_bodies_in_modelled_fields_are_errors() {
    // Where the nesting sits in a field the models decode (not skip), it must
    // stop at the recursion limit with an error.
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(|| {
            let bodies: std::collections::BTreeMap<_, _> = hostile_bodies().into_iter().collect();
            let limit = |r: Result<(), serde_json::Error>, what: &str| {
                let e = r.expect_err(what);
                assert!(e.to_string().contains("recursion limit"), "{what}: {e}");
            };
            limit(
                serde_json::from_str::<ContainerGroup>(
                    &bodies["extension settings (serde_json::Value)"],
                )
                .map(drop),
                "extension settings",
            );
            limit(
                serde_json::from_str::<CloudError>(
                    &bodies["error details (recursive CloudErrorBody)"],
                )
                .map(drop),
                "error details",
            );
            limit(
                serde_json::from_str::<OperationStatus>(&bodies["operation properties"]).map(drop),
                "operation properties",
            );
            serde_json::from_str::<ContainerGroupListResult>(&bodies["list value"])
                .expect_err("containers of arrays");
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
}
