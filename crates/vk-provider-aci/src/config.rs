//! The `[aci]` table of vk's configuration: where the container groups go, how vk reaches ARM,
//! and the provider's translation settings, with the `vk-aci` client's own tables
//! ([`CredentialConfig`], [`RateLimitConfig`], [`UsageConfig`]) and the operation quotas
//! ([`QuotaConfig`]) embedded.
//!
//! ```
//! let aci: vk_provider_aci::AciConfig = serde_json::from_value(serde_json::json!({
//!     "subscription_id": "11111111-2222-3333-4444-555555555555",
//!     "resource_group": "vk-rg",
//!     "region": "northeurope",
//!     "rate_limit": {"writes_per_sec": 5.0},
//! }))?;
//! aci.validate().map_err(|errors| errors[0].to_string())?;
//! let translate = aci.translate_config("vk-node", "cluster-1");
//! assert_eq!(translate.location, "northeurope");
//! assert!(!translate.vnet());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};
use vk_aci::{AzureCloud, ContainerInstances, CredentialConfig, RateLimitConfig, UsageConfig};

use crate::translate::DNS_NAME_LABEL_ANNOTATION;
use crate::{ClusterDns, Error, QuotaConfig, TranslateConfig};

/// Azure Container Instances (the flat `[aci]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AciConfig {
    /// Subscription (a GUID). Required unless the credentials are `azure-json`, whose file
    /// gives it.
    pub subscription_id: Option<String>,
    /// Resource group of the container groups. Required unless the credentials are
    /// `azure-json`.
    pub resource_group: Option<String>,
    /// Azure region of the container groups (`westeurope`).
    pub region: String,
    /// ARM endpoint (the emulator's URL in tests).
    pub arm_endpoint: String,
    /// Microsoft Entra ID authority host.
    pub authority_host: String,
    /// How vk authenticates to ARM.
    pub credentials: CredentialConfig,
    /// Subnet resource ID for VNet-injected groups (no public IP then).
    pub subnet_id: Option<String>,
    /// The cluster DNS service IP given to `dnsPolicy: ClusterFirst` pods of
    /// VNet-injected groups (unset: ACI's default DNS).
    pub cluster_dns_ip: Option<String>,
    /// The cluster domain of the DNS search list (`cluster.local`).
    pub cluster_domain: String,
    /// Pod annotation whose value becomes the group's DNS name label.
    pub dns_name_label_annotation: String,
    /// Largest CPU request of one container group.
    pub max_cpu_per_group: f64,
    /// Largest memory request of one container group, in GB.
    pub max_memory_gb_per_group: f64,
    /// Client-side ARM rate limits.
    pub rate_limit: RateLimitConfig,
    /// ACI's container group create and delete quotas, which vk paces itself to.
    pub quotas: QuotaConfig,
    /// CPU and memory usage of the pods from Azure Monitor (`kubectl top`,
    /// `/stats/summary`, `/metrics/resource`).
    pub usage: UsageConfig,
}

impl Default for AciConfig {
    fn default() -> Self {
        Self {
            subscription_id: None,
            resource_group: None,
            region: "westeurope".into(),
            arm_endpoint: "https://management.azure.com".into(),
            authority_host: "https://login.microsoftonline.com".into(),
            credentials: CredentialConfig::default(),
            subnet_id: None,
            cluster_dns_ip: None,
            cluster_domain: "cluster.local".into(),
            dns_name_label_annotation: DNS_NAME_LABEL_ANNOTATION.into(),
            max_cpu_per_group: 4.0,
            max_memory_gb_per_group: 16.0,
            rate_limit: RateLimitConfig::default(),
            quotas: QuotaConfig::default(),
            usage: UsageConfig::default(),
        }
    }
}

/// Collects the problems of one validation, each an [`Error::InvalidConfig`].
#[derive(Default)]
struct Problems(Vec<Error>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(Error::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        });
    }

    fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(reason) = result {
            self.add(field, reason);
        }
    }

    /// A `vk-aci` table's problem, its field put under `table`.
    fn client(&mut self, table: &str, result: Result<(), vk_aci::Error>) {
        match result {
            Ok(()) => {}
            Err(vk_aci::Error::InvalidConfig { field, reason }) => {
                self.add(format!("{table}.{field}"), reason);
            }
            Err(other) => self.add(table, other.to_string()),
        }
    }

    fn positive(&mut self, field: &str, value: f64) {
        if !(value.is_finite() && value > 0.0) {
            self.add(field, "must be a positive number");
        }
    }
}

impl AciConfig {
    /// Checks every setting, including that a credentials file exists. Returns all problems,
    /// each an [`Error::InvalidConfig`] whose field is relative to the table
    /// (`credentials.tenant_id`, `region`).
    ///
    /// ```
    /// let aci = vk_provider_aci::AciConfig::default();
    /// let fields: Vec<String> = aci
    ///     .validate()
    ///     .unwrap_err()
    ///     .into_iter()
    ///     .map(|e| match e {
    ///         vk_provider_aci::Error::InvalidConfig { field, .. } => field,
    ///         other => panic!("{other}"),
    ///     })
    ///     .collect();
    /// assert_eq!(fields, ["subscription_id", "resource_group"]);
    /// ```
    pub fn validate(&self) -> Result<(), Vec<Error>> {
        let mut p = Problems::default();
        let from_file = matches!(self.credentials, CredentialConfig::AzureJson { .. });
        let required = "required (or use credentials kind \"azure-json\", whose file gives it)";
        match &self.subscription_id {
            Some(id) => p.check("subscription_id", vk_aci::names::subscription_id(id)),
            None if !from_file => p.add("subscription_id", required),
            None => {}
        }
        match &self.resource_group {
            Some(rg) => p.check("resource_group", vk_aci::names::resource_group(rg)),
            None if !from_file => p.add("resource_group", required),
            None => {}
        }
        p.check("region", vk_aci::names::region(&self.region));
        p.check("arm_endpoint", vk_aci::check_http_url(&self.arm_endpoint));
        p.client("usage", self.usage.validate());
        p.check(
            "authority_host",
            vk_aci::check_http_url(&self.authority_host),
        );
        p.client("credentials", self.credentials.validate());
        p.client("rate_limit", self.rate_limit.validate());
        if let Some(subnet) = &self.subnet_id {
            p.check("subnet_id", vk_aci::names::subnet_id(subnet));
        }
        if let Some(ip) = &self.cluster_dns_ip
            && ip.parse::<std::net::IpAddr>().is_err()
        {
            p.add("cluster_dns_ip", "must be an IP address (e.g. 10.0.0.10)");
        }
        let domain = self.cluster_domain.trim_end_matches('.');
        let valid_domain = !domain.is_empty()
            && domain.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid_domain {
            p.add(
                "cluster_domain",
                "must be a DNS domain (letters, digits, '-', '.'), e.g. cluster.local",
            );
        }
        p.check(
            "dns_name_label_annotation",
            vk_taints::names::qualified_name(&self.dns_name_label_annotation),
        );
        p.positive("max_cpu_per_group", self.max_cpu_per_group);
        p.positive("max_memory_gb_per_group", self.max_memory_gb_per_group);
        if p.0.is_empty() { Ok(()) } else { Err(p.0) }
    }

    /// The one ACI client of this table, which all nodes of a process share: an HTTP client
    /// for ARM, the credentials (an `azure-json` file is read now and fills in
    /// `subscription_id` and `resource_group` where they are unset), the `arm_endpoint` and
    /// `authority_host`, and the `rate_limit`. Failures are [`Error::Client`]s naming the
    /// setting by its path in vk's configuration (`aci.subscription_id is required`,
    /// `aci.credentials (client-secret)`), with the cause as their source.
    ///
    /// Call [`validate`](Self::validate) first: this checks only what it needs.
    ///
    /// ```
    /// let mut aci = vk_provider_aci::AciConfig::default(); // managed identity
    /// aci.subscription_id = Some("11111111-2222-3333-4444-555555555555".into());
    /// aci.resource_group = Some("vk-rg".into());
    /// let client = aci.client()?;
    /// assert_eq!(client.resource_group(), "vk-rg");
    /// # Ok::<(), vk_provider_aci::Error>(())
    /// ```
    pub fn client(&self) -> Result<ContainerInstances, Error> {
        let fail = |context: &str| {
            let context = context.to_owned();
            move |source: vk_aci::Error| Error::Client {
                context,
                source: Some(Box::new(source)),
            }
        };
        let http = vk_aci::http_client().map_err(fail("building the HTTP client for ARM"))?;
        let resolved = (self.credentials)
            .build(&http, &self.authority_host)
            .map_err(|err| match err {
                // The library names the setting as embedded under `credentials`.
                vk_aci::Error::Credential { context, source } => Error::Client {
                    context: format!("aci.{context}"),
                    source: Some(source),
                },
                other => fail("aci.credentials")(other),
            })?;
        let required = |field: &str| Error::Client {
            context: format!("aci.{field} is required"),
            source: None,
        };
        // An azure.json fills in what the table leaves unset.
        let subscription = (self.subscription_id.clone())
            .or(resolved.subscription_id)
            .ok_or_else(|| required("subscription_id"))?;
        let resource_group = (self.resource_group.clone())
            .or(resolved.resource_group)
            .ok_or_else(|| required("resource_group"))?;
        ContainerInstances::builder(subscription, resource_group, resolved.credential)
            .cloud(AzureCloud::custom(&self.authority_host, &self.arm_endpoint))
            .http_client(http)
            .rate_limits(self.rate_limit.limits())
            .build()
            .map_err(fail("building the ACI client"))
    }

    /// The translation settings of the node `node_name` (Linux, no node IP: set
    /// [`TranslateConfig::os`] and [`TranslateConfig::node_ip`] for the node): the region, the
    /// subnet, the cluster DNS, the DNS name label annotation, and sizing whose per-group
    /// maxima are ACI's documented ones capped by `max_cpu_per_group` and
    /// `max_memory_gb_per_group`.
    pub fn translate_config(
        &self,
        node_name: impl Into<String>,
        cluster_id: impl Into<String>,
    ) -> TranslateConfig {
        let mut tc = TranslateConfig::new(node_name, cluster_id, self.region.clone());
        tc.subnet_ids = self.subnet_id.iter().cloned().collect();
        tc.cluster_dns = self.cluster_dns_ip.clone().map(|nameserver| ClusterDns {
            nameserver,
            cluster_domain: self.cluster_domain.clone(),
        });
        tc.dns_name_label_annotation = self.dns_name_label_annotation.clone();
        let limits = vk_resources::GroupLimits::default()
            .capped(self.max_cpu_per_group, self.max_memory_gb_per_group);
        tc.sizer = vk_resources::Sizer::new(vk_resources::SizingConfig::default(), limits);
        tc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "11111111-2222-3333-4444-555555555555";

    fn valid() -> AciConfig {
        AciConfig {
            subscription_id: Some(SUB.into()),
            resource_group: Some("vk-rg".into()),
            ..AciConfig::default()
        }
    }

    /// `(field, reason)` of every problem.
    fn problems(aci: &AciConfig) -> Vec<(String, String)> {
        aci.validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| match e {
                Error::InvalidConfig { field, reason } => (field, reason),
                other => panic!("unexpected {other}"),
            })
            .collect()
    }

    #[test]
    fn defaults_only_lack_the_subscription_and_resource_group() {
        let required = "required (or use credentials kind \"azure-json\", whose file gives it)";
        assert_eq!(
            problems(&AciConfig::default()),
            [
                ("subscription_id".to_owned(), required.to_owned()),
                ("resource_group".to_owned(), required.to_owned()),
            ]
        );
        assert!(valid().validate().is_ok());
    }

    #[test]
    fn azure_json_credentials_may_leave_subscription_and_group_unset() {
        let dir = std::env::temp_dir().join(format!("vk-aci-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("azure.json");
        std::fs::write(&path, "{}").unwrap();
        let aci = AciConfig {
            credentials: CredentialConfig::AzureJson { path },
            ..AciConfig::default()
        };
        assert_eq!(problems(&aci), []);
        let aci = AciConfig {
            credentials: CredentialConfig::AzureJson {
                path: "/nonexistent/azure.json".into(),
            },
            ..AciConfig::default()
        };
        let found = problems(&aci);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "credentials.path");
        assert!(
            found[0]
                .1
                .starts_with("cannot read /nonexistent/azure.json"),
            "{found:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn every_bad_field_is_named_relative_to_the_table() {
        let mut aci = AciConfig {
            subscription_id: Some("not-a-guid".into()),
            resource_group: Some("rg.".into()),
            region: "West Europe".into(),
            arm_endpoint: "management.azure.com".into(),
            authority_host: "login".into(),
            subnet_id: Some("subnet-1".into()),
            cluster_dns_ip: Some("dns".into()),
            cluster_domain: "cluster..local".into(),
            dns_name_label_annotation: "bad annotation!".into(),
            max_cpu_per_group: 0.0,
            max_memory_gb_per_group: f64::NAN,
            ..AciConfig::default()
        };
        aci.rate_limit = RateLimitConfig::default().with_writes(-1.0, 5);
        aci.usage.interval_secs = 0;
        let fields: Vec<String> = problems(&aci).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "subscription_id",
                "resource_group",
                "region",
                "arm_endpoint",
                "usage.interval_secs",
                "authority_host",
                "rate_limit.writes_per_sec",
                "subnet_id",
                "cluster_dns_ip",
                "cluster_domain",
                "dns_name_label_annotation",
                "max_cpu_per_group",
                "max_memory_gb_per_group",
            ]
        );
        let found = problems(&aci);
        let reason = |field: &str| {
            found
                .iter()
                .find(|(f, _)| f == field)
                .map(|(_, r)| r.as_str())
                .unwrap_or_default()
        };
        assert!(
            reason("subscription_id").starts_with("\"not-a-guid\" is not a GUID"),
            "{found:?}"
        );
        assert_eq!(
            reason("arm_endpoint"),
            "\"management.azure.com\" is not an http(s) URL"
        );
        assert_eq!(
            reason("cluster_dns_ip"),
            "must be an IP address (e.g. 10.0.0.10)"
        );
        assert_eq!(
            reason("cluster_domain"),
            "must be a DNS domain (letters, digits, '-', '.'), e.g. cluster.local"
        );
        assert_eq!(reason("max_cpu_per_group"), "must be a positive number");
        assert_eq!(
            reason("rate_limit.writes_per_sec"),
            "must be a positive number"
        );
        assert_eq!(reason("usage.interval_secs"), "must be at least 1");
    }

    /// The message of an error and of each of its sources, as `anyhow`'s `{:#}` shows them.
    fn chain(err: &Error) -> String {
        let mut out = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            out.push_str(&format!(": {s}"));
            source = s.source();
        }
        out
    }

    #[test]
    fn client_uses_the_table_and_names_what_is_missing() {
        let aci = valid().client().expect("a client");
        assert_eq!(
            (aci.subscription_id(), aci.resource_group()),
            (SUB, "vk-rg")
        );
        let err = AciConfig::default().client().expect_err("no subscription");
        assert!(matches!(err, Error::Client { source: None, .. }), "{err:?}");
        assert_eq!(chain(&err), "aci.subscription_id is required");
        let no_group = AciConfig {
            resource_group: None,
            ..valid()
        };
        let err = no_group.client().expect_err("no resource group");
        assert_eq!(chain(&err), "aci.resource_group is required");
    }

    #[test]
    fn client_takes_what_the_table_leaves_unset_from_azure_json() {
        let dir = std::env::temp_dir().join(format!("vk-aci-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("azure.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"subscriptionId": "{SUB}", "resourceGroup": "file-rg", "useManagedIdentityExtension": true}}"#
            ),
        )
        .unwrap();
        let aci = AciConfig {
            resource_group: Some("table-rg".into()),
            credentials: CredentialConfig::AzureJson { path: path.clone() },
            ..AciConfig::default()
        };
        let client = aci.client().expect("a client");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(client.subscription_id(), SUB);
        assert_eq!(client.resource_group(), "table-rg");

        let missing = AciConfig {
            credentials: CredentialConfig::AzureJson { path: path.clone() },
            ..AciConfig::default()
        };
        let err = missing.client().expect_err("no file");
        let message = chain(&err);
        let prefix = format!("aci.credentials.path: cannot read {}: ", path.display());
        assert!(message.starts_with(&prefix), "{message}");
    }

    #[test]
    fn cluster_domains_and_dns_ips() {
        for domain in ["cluster.local", "cluster.local.", "a-b.example"] {
            let aci = AciConfig {
                cluster_domain: domain.into(),
                cluster_dns_ip: Some("10.0.0.10".into()),
                ..valid()
            };
            assert_eq!(problems(&aci), [], "{domain}");
        }
        for domain in ["", ".", "a..b", "under_score.local"] {
            let aci = AciConfig {
                cluster_domain: domain.into(),
                ..valid()
            };
            assert_eq!(problems(&aci).len(), 1, "{domain}");
        }
        let aci = AciConfig {
            cluster_dns_ip: Some("fd00::10".into()),
            ..valid()
        };
        assert_eq!(problems(&aci), []);
    }

    #[test]
    fn translate_config_carries_the_table() {
        let aci = AciConfig {
            subnet_id: Some("/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/x".into()),
            cluster_dns_ip: Some("10.0.0.10".into()),
            cluster_domain: "corp.local".into(),
            dns_name_label_annotation: "example.com/dns".into(),
            region: "eastus".into(),
            max_cpu_per_group: 2.0,
            ..valid()
        };
        let tc = aci.translate_config("node-a", "c1");
        assert_eq!(
            (
                tc.node_name.as_str(),
                tc.cluster_id.as_str(),
                tc.location.as_str()
            ),
            ("node-a", "c1", "eastus")
        );
        assert!(tc.vnet());
        let dns = tc.cluster_dns.expect("cluster DNS");
        assert_eq!(
            (dns.nameserver.as_str(), dns.cluster_domain.as_str()),
            ("10.0.0.10", "corp.local")
        );
        assert_eq!(tc.dns_name_label_annotation, "example.com/dns");
        let default = valid().translate_config("n", "c");
        assert!(!default.vnet() && default.cluster_dns.is_none());
        assert_eq!(default.dns_name_label_annotation, DNS_NAME_LABEL_ANNOTATION);
    }
}
