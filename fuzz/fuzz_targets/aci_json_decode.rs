//! ACI response bodies from arbitrary bytes: `ContainerGroup`, `CloudError`,
//! list results and operation status decode or fail cleanly (serde_json's
//! default recursion limit guards against deep nesting), and whatever decodes
//! survives a serialize/deserialize round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use vk_aci::models::{
    CachedImagesListResult, CapabilitiesListResult, CloudError, ContainerGroup,
    ContainerGroupListResult, OperationStatus, UsageListResult,
};

fn check<T>(data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let _ = format!("{value:?}");
    let json = serde_json::to_vec(&value).expect("a decoded model serializes");
    let back: T = serde_json::from_slice(&json)
        .unwrap_or_else(|e| panic!("re-decoding {} failed: {e}", String::from_utf8_lossy(&json)));
    assert_eq!(
        back,
        value,
        "round trip changed {}",
        String::from_utf8_lossy(&json)
    );
}

fuzz_target!(|data: &[u8]| {
    check::<ContainerGroup>(data);
    check::<CloudError>(data);
    check::<ContainerGroupListResult>(data);
    check::<OperationStatus>(data);
    check::<CapabilitiesListResult>(data);
    check::<UsageListResult>(data);
    check::<CachedImagesListResult>(data);
});
