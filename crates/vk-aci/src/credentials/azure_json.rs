//! The AKS cloud-provider configuration file (`/etc/kubernetes/azure.json`).

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::{
    CachingCredential, ClientSecretCredential, ManagedIdentityCredential, TokenCredential,
};
use crate::{AzureCloud, Error, Secret};

/// The fields of `azure.json` this crate uses; others are ignored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AzureJson {
    /// `AzurePublicCloud` (default), `AzureChinaCloud`, `AzureUSGovernmentCloud`.
    #[serde(default)]
    pub cloud: String,
    /// Tenant.
    #[serde(default)]
    pub tenant_id: String,
    /// Service principal client id, or `msi` for managed identity.
    #[serde(default)]
    pub aad_client_id: String,
    /// Service principal secret.
    #[serde(default)]
    pub aad_client_secret: Option<Secret>,
    /// Use managed identity.
    #[serde(default)]
    pub use_managed_identity_extension: bool,
    /// Client id of the user-assigned identity to use.
    #[serde(default, rename = "userAssignedIdentityID")]
    pub user_assigned_identity_id: String,
    /// Subscription.
    #[serde(default)]
    pub subscription_id: String,
    /// Node resource group.
    #[serde(default)]
    pub resource_group: String,
    /// Region.
    #[serde(default)]
    pub location: String,
    /// Virtual network name.
    #[serde(default)]
    pub vnet_name: String,
    /// Resource group of the virtual network.
    #[serde(default)]
    pub vnet_resource_group: String,
    /// Subnet name.
    #[serde(default)]
    pub subnet_name: String,
}

impl AzureJson {
    /// Parses the file's bytes (UTF-8, with or without BOM, or UTF-16 with BOM).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        let text = decode_text(bytes).ok_or_else(|| Error::Config {
            message: "azure.json is not valid UTF-8 or UTF-16".into(),
        })?;
        serde_json::from_str(&text).map_err(|e| Error::Config {
            message: format!("invalid azure.json: {e}"),
        })
    }

    /// Reads and parses a file.
    pub async fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = tokio::fs::read(path).await.map_err(|e| Error::Config {
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        Self::from_slice(&bytes)
    }

    /// The cloud named by `cloud`.
    pub fn azure_cloud(&self) -> Result<AzureCloud, Error> {
        AzureCloud::from_name(&self.cloud).ok_or_else(|| Error::Config {
            message: format!("unknown cloud {:?} in azure.json", self.cloud),
        })
    }

    /// Managed identity is chosen (`useManagedIdentityExtension`, or `aadClientId` = `msi`).
    /// It wins over a service principal, as in the cloud provider.
    pub fn uses_managed_identity(&self) -> bool {
        self.use_managed_identity_extension || self.aad_client_id.eq_ignore_ascii_case("msi")
    }

    /// A cached credential for this file: managed identity (with `userAssignedIdentityID`) or a
    /// client secret. `cloud` overrides the file's cloud (e.g. for an emulator) and
    /// `imds_endpoint` the IMDS endpoint.
    pub fn credential(
        &self,
        http: reqwest::Client,
        cloud: Option<&AzureCloud>,
        imds_endpoint: Option<&str>,
    ) -> Result<Arc<dyn TokenCredential>, Error> {
        if self.uses_managed_identity() {
            let mut mi = ManagedIdentityCredential::new(http)
                .with_client_id(self.user_assigned_identity_id.clone());
            if let Some(endpoint) = imds_endpoint {
                mi = mi.with_endpoint(endpoint)?;
            }
            return Ok(Arc::new(CachingCredential::new(mi)));
        }
        let secret = self
            .aad_client_secret
            .clone()
            .filter(|s| !s.expose().is_empty())
            .ok_or_else(|| Error::Config {
                message: "azure.json has neither managed identity nor aadClientSecret".into(),
            })?;
        let cloud = match cloud {
            Some(cloud) => cloud.clone(),
            None => self.azure_cloud()?,
        };
        let sp = ClientSecretCredential::new(
            http,
            &cloud.authority_host,
            &self.tenant_id,
            &self.aad_client_id,
            secret,
        )?;
        Ok(Arc::new(CachingCredential::new(sp)))
    }
}

/// Decodes UTF-8 (optional BOM) or UTF-16 LE/BE with BOM.
fn decode_text(bytes: &[u8]) -> Option<String> {
    let utf16 = |rest: &[u8], le: bool| {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).ok()
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8(rest.to_vec()).ok(),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        _ => String::from_utf8(bytes.to_vec()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"cloud":"AzurePublicCloud","tenantId":"t","aadClientId":"msi","aadClientSecret":"s3cr3t",
        "subscriptionId":"sub","resourceGroup":"rg","location":"eastus","useManagedIdentityExtension":false,
        "userAssignedIdentityID":"uami","useInstanceMetadata":true,"vnetName":"v"}"#;

    #[test]
    fn parses_and_chooses_managed_identity() {
        let cfg = AzureJson::from_slice(SAMPLE.as_bytes()).unwrap();
        assert!(cfg.uses_managed_identity());
        assert_eq!(cfg.user_assigned_identity_id, "uami");
        assert_eq!(cfg.subscription_id, "sub");
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
        let mut utf16 = vec![0xFF, 0xFE];
        for u in SAMPLE.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(AzureJson::from_slice(&utf16).unwrap().tenant_id, "t");
        let http = crate::http_client().unwrap();
        assert!(
            cfg.credential(http, None, Some("http://127.0.0.1:1/token"))
                .is_ok()
        );
    }
}
