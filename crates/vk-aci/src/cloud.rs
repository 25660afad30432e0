//! Azure clouds: the Entra ID authority host and the Resource Manager endpoint.

/// Endpoints of an Azure cloud (or of an emulator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureCloud {
    /// Entra ID authority host, e.g. `https://login.microsoftonline.com/`.
    pub authority_host: String,
    /// Resource Manager endpoint, e.g. `https://management.azure.com/`.
    pub resource_manager: String,
}

impl Default for AzureCloud {
    fn default() -> Self {
        Self::public()
    }
}

impl AzureCloud {
    /// Azure public cloud (`AzurePublicCloud`).
    pub fn public() -> Self {
        Self::custom(
            "https://login.microsoftonline.com/",
            "https://management.azure.com/",
        )
    }

    /// Azure China (`AzureChinaCloud`).
    pub fn china() -> Self {
        Self::custom(
            "https://login.chinacloudapi.cn/",
            "https://management.chinacloudapi.cn/",
        )
    }

    /// Azure US Government (`AzureUSGovernmentCloud`).
    pub fn us_government() -> Self {
        Self::custom(
            "https://login.microsoftonline.us/",
            "https://management.usgovcloudapi.net/",
        )
    }

    /// Custom endpoints, e.g. an emulator on `http://127.0.0.1:PORT/`.
    pub fn custom(authority_host: impl Into<String>, resource_manager: impl Into<String>) -> Self {
        Self {
            authority_host: authority_host.into(),
            resource_manager: resource_manager.into(),
        }
    }

    /// The cloud of an `azure.json` `cloud` value (`AzurePublicCloud`, `AzureChinaCloud`,
    /// `AzureUSGovernmentCloud`, case-insensitive; empty means public).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        if name.is_empty()
            || name.eq_ignore_ascii_case("AzurePublicCloud")
            || name.eq_ignore_ascii_case("AzureCloud")
        {
            Some(Self::public())
        } else if name.eq_ignore_ascii_case("AzureChinaCloud") {
            Some(Self::china())
        } else if name.eq_ignore_ascii_case("AzureUSGovernmentCloud")
            || name.eq_ignore_ascii_case("AzureUSGovernment")
        {
            Some(Self::us_government())
        } else {
            None
        }
    }

    /// The OAuth 2 scope of Resource Manager: `{resource_manager}/.default`.
    pub fn arm_scope(&self) -> String {
        format!("{}/.default", self.resource_manager.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_names() {
        assert_eq!(
            AzureCloud::public().arm_scope(),
            "https://management.azure.com/.default"
        );
        assert_eq!(
            AzureCloud::from_name("azurechinacloud"),
            Some(AzureCloud::china())
        );
        assert_eq!(AzureCloud::from_name(""), Some(AzureCloud::public()));
        assert_eq!(AzureCloud::from_name("Mars"), None);
    }
}
