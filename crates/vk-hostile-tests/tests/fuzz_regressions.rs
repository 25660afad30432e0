//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the
//! same checks as the fuzz targets, on the stable toolchain, and holds one
//! test per crash the fuzzers found (see `docs/fuzzing.md`).

use std::path::PathBuf;

use k8s_openapi::api::core::v1::Pod;
use vk_aci::models::{CloudError, ContainerGroup, ContainerGroupListResult, OperationStatus};
use vk_provider_aci::naming::{group_name, is_valid_name};
use vk_provider_aci::{ResolvedRefs, TranslateConfig, pod_to_group};
use vk_resources::{Error, ExactQuantity, QuantityFormat};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).expect("readable corpus file");
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

fn check_quantity(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match ExactQuantity::parse(&text) {
        Ok(q) => {
            let canonical = q.canonical();
            let again = ExactQuantity::parse(&canonical).expect("canonical parses");
            assert_eq!(again.nanos(), q.nanos(), "{text:?} -> {canonical:?}");
            // Like apimachinery, a binary value that is not a whole multiple of
            // its suffix is written in decimal: the value is kept, not the class.
            if !(q.format() == QuantityFormat::BinarySi
                && again.format() == QuantityFormat::DecimalSi)
            {
                assert_eq!(again.canonical(), canonical);
            }
        }
        // The error names the input, truncated past 64 characters.
        Err(Error::InvalidQuantity { input, .. }) => {
            let shown = input.split('…').next().unwrap_or_default();
            assert!(text.starts_with(shown) && input.len() <= 96, "{input:?}");
        }
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn quantity_corpus_replays() {
    for (path, data) in corpus("quantity_parse") {
        let r = std::panic::catch_unwind(|| check_quantity(&data));
        assert!(r.is_ok(), "{}", path.display());
    }
}

fn round_trip<T>(data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_vec(&v).expect("serializes");
        let back: T = serde_json::from_slice(&json).expect("re-decodes");
        assert_eq!(back, v);
    }
}

#[test]
fn aci_json_corpus_replays() {
    for (path, data) in corpus("aci_json_decode") {
        let r = std::panic::catch_unwind(|| {
            round_trip::<ContainerGroup>(&data);
            round_trip::<CloudError>(&data);
            round_trip::<ContainerGroupListResult>(&data);
            round_trip::<OperationStatus>(&data);
        });
        assert!(r.is_ok(), "{}", path.display());
    }
}

#[test]
fn pod_corpus_replays() {
    let config = TranslateConfig::new("vk-node", "cluster-1", "westeurope");
    for (path, data) in corpus("pod_translate") {
        let Ok(pod) = serde_json::from_slice::<Pod>(&data) else {
            continue;
        };
        let r = std::panic::catch_unwind(|| {
            let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
            let name = pod.metadata.name.as_deref().unwrap_or("");
            assert!(is_valid_name(&group_name(ns, name)));
            if let Ok((group, _)) = pod_to_group(&pod, &ResolvedRefs::default(), &config) {
                serde_json::to_vec(&group).expect("serializes");
            }
        });
        assert!(r.is_ok(), "{}", path.display());
    }
}

/// The SPDY, WebSocket and ARM failure targets keep their checks in the
/// crates' hidden `fuzzing` modules, so the replays run exactly those.
#[test]
fn spdy_corpus_replays() {
    for (path, data) in corpus("spdy_frames") {
        let r = std::panic::catch_unwind(|| vk_kubelet_api::fuzzing::spdy_frames(&data));
        assert!(r.is_ok(), "{}", path.display());
    }
}

#[test]
fn websocket_corpus_replays() {
    for (path, data) in corpus("websocket_channel") {
        let r = std::panic::catch_unwind(|| vk_kubelet_api::fuzzing::websocket_channel(&data));
        assert!(r.is_ok(), "{}", path.display());
    }
}

#[test]
fn arm_failure_corpus_replays() {
    for (path, data) in corpus("arm_failure") {
        let r = std::panic::catch_unwind(|| vk_aci::fuzzing::arm_failure_input(&data));
        assert!(r.is_ok(), "{}", path.display());
    }
}

/// Fuzz crash `quantity_parse/crash-1a2c8254c95b799e3a266b5a86eb85d030a7cfa4`,
/// input `62.5Ki`: the canonical form `64000` re-parses as decimal SI and
/// canonicalizes to `64k`, so `canonical()` is not a fixed point, against the
/// module docs of `vk_resources::quantity` ("Every canonical string parses
/// back to the same value and format class") and its own proptest property.
/// The value is kept (checked here); the format class is not. apimachinery
/// behaves the same way, so the fix may be to the docs and the property
/// rather than the code: decided so (docs/resource-mapping.md, quantity module docs).
#[test]
fn quantity_binary_si_canonical_keeps_the_value() {
    for input in ["62.5Ki", "1.5Ki", "0.5Mi", "1025", "3000Ki"] {
        let q = ExactQuantity::parse(input).expect("valid");
        let again = ExactQuantity::parse(&q.canonical()).expect("canonical parses");
        assert_eq!(again.nanos(), q.nanos(), "{input}");
    }
}
