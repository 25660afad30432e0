//! Where Microsoft's published ACI OpenAPI description (api-version
//! 2023-05-01, with its examples) is found, for the conformance tests of the
//! emulator and of clients: `VK_ACI_SPEC_DIR`, else
//! `../shared/reference/aci-spec-2023-05-01` beside the workspace root. The
//! files are Microsoft's (MIT): `specification/containerinstance/resource-manager/
//! Microsoft.ContainerInstance/stable/2023-05-01` in Azure/azure-rest-api-specs.

use std::path::PathBuf;

/// The environment variable naming the spec folder.
pub const SPEC_DIR_VAR: &str = "VK_ACI_SPEC_DIR";

/// The spec folder (holding `containerInstance.json` and `examples/`), or a
/// message naming [`SPEC_DIR_VAR`] and where the spec is published.
pub fn published_spec_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var_os(SPEC_DIR_VAR) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/aci-spec-2023-05-01"),
    };
    if dir.join("containerInstance.json").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "the ACI OpenAPI spec (containerInstance.json and examples/) is not at {}: set {SPEC_DIR_VAR} \
             to a copy of specification/containerinstance/resource-manager/Microsoft.ContainerInstance/\
             stable/2023-05-01 from github.com/Azure/azure-rest-api-specs",
            dir.display()
        ))
    }
}
