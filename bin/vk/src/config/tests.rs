// Over 800 lines: one test per configuration layer, alias and validation rule, kept beside the model they pin down.
use clap::Parser as _;
use figment::Jail;

use std::time::Duration;

use super::*;
use crate::cli::Cli;
use vk_aci::{CredentialConfig, Secret};
use vk_node::DEFAULT_NODE_NAME;
use vk_taints::{ProviderTaint, TaintEffect};

const SUB: &str = "11111111-2222-3333-4444-555555555555";

fn args(argv: &[&str]) -> ConfigArgs {
    let mut full = vec!["vk"];
    full.extend_from_slice(argv);
    Cli::try_parse_from(full)
        .expect("command line parses")
        .config
}

fn host() -> HostContext {
    HostContext {
        pod_ip: Some("10.1.2.3".into()),
        pod_name: Some("vk-0".into()),
        hostname: Some("machine".into()),
    }
}

/// Loads inside a jail, turning a config error into a jail error.
fn load_in_jail(argv: &[&str]) -> Result<Config, figment::Error> {
    load(&args(argv), &host()).map_err(|e| figment::Error::from(e.to_string()))
}

fn errors(argv: &[&str]) -> Vec<String> {
    match load(&args(argv), &host()) {
        Ok(config) => panic!("expected a config error, got {config:#?}"),
        Err(err) => err.messages(),
    }
}

fn assert_has(messages: &[String], needle: &str) {
    assert!(
        messages.iter().any(|m| m.contains(needle)),
        "no message contains {needle:?}: {messages:#?}"
    );
}

const MINIMAL: &str = r#"
[aci]
subscription_id = "11111111-2222-3333-4444-555555555555"
resource_group = "vk-rg"
"#;

#[test]
fn defaults() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let config =
            load_unvalidated(&args(&[]), &HostContext::default()).map_err(|e| e.to_string())?;
        let mut expected = Config::default();
        expected.nodes[0].internal_ip = Some("127.0.0.1".into());
        expected.ha.identity = Some("vk".into());
        assert_eq!(config, expected);
        assert_eq!(config.nodes.len(), 1);
        assert_eq!(config.nodes[0].name, "virtual-kubelet-aci-linux");
        assert_eq!(config.nodes[0].kubelet_port, 10250);
        assert_eq!(config.nodes[0].taint.key, "virtual-kubelet.io/provider");
        assert_eq!(config.nodes[0].capacity.memory, "400Gi");
        assert_eq!(config.cluster_id, "default");
        assert_eq!(config.aci.region, "westeurope");
        assert_eq!(config.aci.credentials.kind(), "managed-identity");
        assert_eq!(config.lease.duration, Duration::from_secs(40));
        assert_eq!(config.lease.renew_interval, Duration::from_secs(10));
        assert_eq!(config.admin.listen.to_string(), "0.0.0.0:10255");
        assert_eq!(config.kube.qps, 500.0);
        assert_eq!(config.kube.burst, 1000);
        assert_eq!(config.reconciler.concurrency, 128);
        assert!(!config.ha.enabled);
        assert!(!config.drain_on_shutdown);
        Ok(())
    });
}

#[test]
fn defaults_only_lack_the_subscription_and_resource_group() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let messages = errors(&[]);
        assert_eq!(
            messages,
            vec![
                "aci.subscription_id: required (or use credentials kind \"azure-json\", whose file gives it)",
                "aci.resource_group: required (or use credentials kind \"azure-json\", whose file gives it)",
            ]
        );
        Ok(())
    });
}

#[test]
fn precedence_file_then_env_then_flags() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "vk.toml",
            &format!(
                "{MINIMAL}\nregion = \"northeurope\"\narm_endpoint = \"http://127.0.0.1:9000\"\n\
                 [kube]\nqps = 10.0\nburst = 20\n[lease]\nduration_secs = 30\n"
            ),
        )?;
        // File only.
        let config = load_in_jail(&["--config", "vk.toml"])?;
        assert_eq!(config.aci.region, "northeurope");
        assert_eq!(config.aci.resource_group.as_deref(), Some("vk-rg"));
        assert_eq!(config.aci.arm_endpoint, "http://127.0.0.1:9000");
        assert_eq!(config.kube.qps, 10.0);
        assert_eq!(config.lease.duration, Duration::from_secs(30));
        // Defaults the file does not touch survive.
        assert_eq!(config.lease.renew_interval, Duration::from_secs(10));
        assert_eq!(config.kube.burst, 20);

        // Env overrides the file.
        jail.set_env("VK_ACI__REGION", "eastus");
        jail.set_env("VK_KUBE__QPS", "50");
        jail.set_env("VK_KUBE__BURST", "70");
        let config = load_in_jail(&["--config", "vk.toml"])?;
        assert_eq!(config.aci.region, "eastus");
        assert_eq!(config.kube.qps, 50.0);
        assert_eq!(config.kube.burst, 70);
        assert_eq!(config.lease.duration, Duration::from_secs(30));

        // Flags override env; flags not given change nothing.
        let config = load_in_jail(&["--config", "vk.toml", "--kube-qps", "99.5"])?;
        assert_eq!(config.kube.qps, 99.5);
        assert_eq!(config.kube.burst, 70);
        assert_eq!(config.aci.region, "eastus");

        // VK_CONFIG names the file too.
        jail.set_env("VK_CONFIG", "vk.toml");
        let config = load_in_jail(&[])?;
        assert_eq!(config.lease.duration, Duration::from_secs(30));
        Ok(())
    });
}

#[test]
fn every_common_flag_lands_in_its_field() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("kubeconfig", "")?;
        let config = load_in_jail(&[
            "--kubeconfig",
            "kubeconfig",
            "--cluster-id",
            "mycon",
            "--drain-on-shutdown",
            "--node-name",
            "vk-win",
            "--os",
            "windows",
            "--internal-ip",
            "10.0.0.7",
            "--kubelet-port",
            "10260",
            "--log-format",
            "json",
            "--log-filter",
            "debug,hyper=info",
            "--admin-listen",
            "127.0.0.1:9102",
            "--aci-subscription-id",
            SUB,
            "--aci-resource-group",
            "rg2",
            "--aci-region",
            "westus",
            "--aci-arm-endpoint",
            "http://localhost:8080",
            "--aci-authority-host",
            "http://localhost:8081",
            "--aci-subnet-id",
            "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/v/subnets/s",
            "--kube-qps",
            "5",
            "--kube-burst",
            "10",
            "--reconcile-concurrency",
            "4",
            "--ha",
            "--ha-namespace",
            "ha-ns",
            "--ha-lease-name",
            "ha-lease",
            "--ha-identity",
            "me",
            "--kubelet-anonymous-auth=true",
        ])?;
        assert_eq!(config.kubeconfig.as_deref(), Some(Path::new("kubeconfig")));
        assert_eq!(config.cluster_id, "mycon");
        assert!(config.drain_on_shutdown);
        assert_eq!(config.nodes[0].name, "vk-win");
        assert_eq!(config.nodes[0].os, Os::Windows);
        assert_eq!(config.nodes[0].internal_ip(), "10.0.0.7");
        assert_eq!(config.nodes[0].kubelet_port, 10260);
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.filter, "debug,hyper=info");
        assert_eq!(config.admin.listen.to_string(), "127.0.0.1:9102");
        assert_eq!(config.aci.subscription_id.as_deref(), Some(SUB));
        assert_eq!(config.aci.resource_group.as_deref(), Some("rg2"));
        assert_eq!(config.aci.region, "westus");
        assert_eq!(config.aci.arm_endpoint, "http://localhost:8080");
        assert_eq!(config.aci.authority_host, "http://localhost:8081");
        assert!(config.aci.subnet_id.is_some());
        assert_eq!(config.kube.qps, 5.0);
        assert_eq!(config.kube.burst, 10);
        assert_eq!(config.reconciler.concurrency, 4);
        assert!(config.ha.enabled);
        assert_eq!(config.ha.namespace, "ha-ns");
        assert_eq!(config.ha.lease_name, "ha-lease");
        assert_eq!(config.ha.identity.as_deref(), Some("me"));
        assert!(config.kubelet.anonymous_auth);
        Ok(())
    });
}

#[test]
fn a_false_flag_overrides_a_true_file_value() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("vk.toml", &format!("drain_on_shutdown = true\n{MINIMAL}"))?;
        assert!(load_in_jail(&["--config", "vk.toml"])?.drain_on_shutdown);
        let config = load_in_jail(&["--config", "vk.toml", "--drain-on-shutdown=false"])?;
        assert!(!config.drain_on_shutdown);
        Ok(())
    });
}

#[test]
fn node_flags_override_the_first_node_only() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "vk.toml",
            &format!(
                "{MINIMAL}\n[[nodes]]\nname = \"vk-linux\"\n\n[[nodes]]\nname = \"vk-windows\"\n\
                 os = \"windows\"\nkubelet_port = 10251\ninternal_ip = \"10.9.9.9\"\n\
                 labels = {{ \"example.com/pool\" = \"aci\" }}\n"
            ),
        )?;
        let config = load_in_jail(&[
            "--config",
            "vk.toml",
            "--node-name",
            "renamed",
            "--kubelet-port",
            "10300",
        ])?;
        assert_eq!(config.nodes.len(), 2);
        assert_eq!(config.nodes[0].name, "renamed");
        assert_eq!(config.nodes[0].kubelet_port, 10300);
        assert_eq!(config.nodes[0].os, Os::Linux);
        // Resolved from POD_IP.
        assert_eq!(config.nodes[0].internal_ip(), "10.1.2.3");
        assert_eq!(config.nodes[1].name, "vk-windows");
        assert_eq!(config.nodes[1].os, Os::Windows);
        assert_eq!(config.nodes[1].kubelet_port, 10251);
        assert_eq!(config.nodes[1].internal_ip(), "10.9.9.9");
        assert_eq!(config.nodes[1].labels["example.com/pool"], "aci");
        assert_eq!(config.nodes[1].taint, ProviderTaint::default());
        Ok(())
    });
}

#[test]
fn env_scalars_keep_their_text_and_lists_parse() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("VK_ACI__SUBSCRIPTION_ID", SUB);
        jail.set_env("VK_ACI__RESOURCE_GROUP", "007");
        jail.set_env("VK_CLUSTER_ID", "0042");
        jail.set_env("VK_DRAIN_ON_SHUTDOWN", "true");
        jail.set_env("VK_HA__IDENTITY", "123");
        jail.set_env(
            "VK_NODES",
            r#"[{name = "a"}, {name = "b", os = "windows", kubelet_port = 10251}]"#,
        );
        let config = load_in_jail(&[])?;
        assert_eq!(config.cluster_id, "0042");
        assert_eq!(config.aci.resource_group.as_deref(), Some("007"));
        assert!(config.drain_on_shutdown);
        assert_eq!(config.ha.identity.as_deref(), Some("123"));
        let names: Vec<_> = config.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(config.nodes[1].kubelet_port, 10251);
        Ok(())
    });
}

#[test]
fn an_explicit_missing_file_is_an_error() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        let messages = errors(&["--config", "missing.toml"]);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].starts_with("TOML file missing.toml: "),
            "{messages:?}"
        );
        jail.create_file("broken.toml", "[aci\nregion = 1\n")?;
        let messages = errors(&["--config", "broken.toml"]);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].starts_with("TOML file broken.toml: TOML parse error at line 1"),
            "{messages:?}"
        );
        Ok(())
    });
}

#[test]
fn unknown_fields_are_rejected_with_their_name() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("vk.toml", "[aci]\nresource_grop = \"rg\"\n")?;
        let messages = errors(&["--config", "vk.toml"]);
        assert_has(&messages, "aci.resource_grop: unknown field");
        assert_has(&messages, "vk.toml");

        jail.create_file("top.toml", "nodez = []\n")?;
        assert_has(&errors(&["--config", "top.toml"]), "nodez: unknown field");

        jail.create_file(
            "node.toml",
            "[[nodes]]\nname = \"a\"\n[[nodes]]\nname = \"b\"\nkubelet_prot = 1\n",
        )?;
        assert_has(
            &errors(&["--config", "node.toml"]),
            "nodes[1].kubelet_prot: unknown field",
        );

        // From the environment too, naming the variable's key.
        jail.set_env("VK_KUBE__QSP", "1");
        let messages = errors(&[]);
        assert_has(
            &messages,
            "kube.qsp: unknown field (expected one of \"qps\", \"burst\") (from environment variable VK_KUBE__QSP)",
        );
        Ok(())
    });
}

#[test]
fn values_of_the_wrong_type_are_named() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "vk.toml",
            &format!(
                "{MINIMAL}\n[[nodes]]\nname = \"a\"\nkubelet_port = \"http\"\nos = \"beos\"\n"
            ),
        )?;
        let messages = errors(&["--config", "vk.toml"]);
        assert_has(&messages, "nodes[0].kubelet_port");
        jail.create_file(
            "os.toml",
            &format!("{MINIMAL}\n[[nodes]]\nname = \"a\"\nos = \"beos\"\n"),
        )?;
        assert_has(
            &errors(&["--config", "os.toml"]),
            "nodes[0].os: unknown variant",
        );
        jail.set_env("VK_LEASE__DURATION_SECS", "soon");
        assert_has(&errors(&["--config", "os.toml"]), "lease.duration_secs");
        Ok(())
    });
}

#[test]
fn invalid_values_are_named() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "vk.toml",
            r#"
cluster_id = "bad id!"
[aci]
subscription_id = "not-a-guid"
resource_group = "rg."
region = "West Europe"
arm_endpoint = "management.azure.com"
subnet_id = "subnet-1"
cluster_dns_ip = "dns"
cluster_domain = "cluster..local"
max_cpu_per_group = 0
[aci.rate_limit]
writes_per_sec = -1
[[nodes]]
name = "vk-linux"
internal_ip = "ten"
labels = { "kubernetes.io/os" = "linux", "bad key!" = "x", "ok" = "bad value!" }
extra_taints = [{ key = "a", effect = "NoExecute" }, { key = "a", effect = "NoExecute" }]
[nodes.capacity]
cpu = "lots"
memory = "-1Gi"
pods = 0
[[nodes]]
name = "Bad_Name"
[[nodes]]
name = "vk-linux"
kubelet_port = 10255
[lease]
duration_secs = 10
renew_interval_secs = 10
[reconciler]
concurrency = 0
[kube]
qps = 0
[ha]
enabled = true
namespace = "Ns"
lease_duration_secs = 40
[kubelet]
tls_cert = "cert.pem"
[log]
filter = "[["
"#,
        )?;
        let messages = errors(&["--config", "vk.toml"]);
        for needle in [
            "cluster_id: must be at most 63",
            "aci.subscription_id: \"not-a-guid\" is not a GUID",
            "aci.resource_group: \"rg.\" is not a resource group name",
            "aci.region: \"West Europe\" is not an Azure region name",
            "aci.arm_endpoint: \"management.azure.com\" is not an http(s) URL",
            "aci.subnet_id: must be a subnet resource ID",
            "aci.cluster_dns_ip: must be an IP address",
            "aci.cluster_domain: must be a DNS domain",
            "aci.max_cpu_per_group: must be a positive number",
            "aci.rate_limit.writes_per_sec: must be a positive number",
            "nodes[0].internal_ip: \"ten\" is not an IP address",
            "nodes[0].labels.\"kubernetes.io/os\": set by vk",
            "nodes[0].labels.\"bad key!\": invalid label key",
            "nodes[0].labels.\"ok\": must be empty or at most 63",
            "nodes[0].extra_taints[1]: duplicate taint a:NoExecute",
            "nodes[0].capacity.cpu: \"lots\" is not a positive Kubernetes quantity",
            "nodes[0].capacity.memory: \"-1Gi\" is not a positive Kubernetes quantity",
            "nodes[0].capacity.pods: must be at least 1",
            "nodes[1].name: must be a DNS-1123 subdomain",
            "nodes[1].kubelet_port: port 10250 is already used by nodes[0]",
            "nodes[2].name: duplicate node name \"vk-linux\" (also nodes[0])",
            "nodes[2].kubelet_port: port 10255 is the admin port",
            "lease.renew_interval_secs: must be shorter than lease.duration_secs (10)",
            "reconciler.concurrency: must be at least 1",
            "kube.qps: must be a positive number",
            "ha.namespace: must be a DNS-1123 label",
            "ha.lease_duration_secs: must be shorter than",
            "kubelet.tls_key: required with kubelet.tls_cert",
            "log.filter: invalid filter",
        ] {
            assert_has(&messages, needle);
        }
        assert_eq!(messages.len(), 29, "{messages:#?}");
        Ok(())
    });
}

#[test]
fn the_brief_example_message() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "vk.toml",
            &format!("{MINIMAL}\n[[nodes]]\nname = \"ok\"\n[[nodes]]\nname = \"Not_OK\"\nkubelet_port = 10251\n"),
        )?;
        let messages = errors(&["--config", "vk.toml"]);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].starts_with("nodes[1].name: must be a DNS-1123 subdomain"),
            "{messages:?}"
        );
        Ok(())
    });
}

#[test]
fn files_named_must_exist() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "vk.toml",
            &format!(
                "kubeconfig = \"nope.yaml\"\n[kubelet]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nclient_ca = \"ca.pem\"\n{MINIMAL}"
            ),
        )?;
        jail.create_file("c.pem", "")?;
        let messages = errors(&["--config", "vk.toml"]);
        assert_has(&messages, "kubeconfig: cannot read nope.yaml");
        assert_has(&messages, "kubelet.tls_key: cannot read k.pem");
        assert_has(&messages, "kubelet.client_ca: cannot read ca.pem");
        assert_eq!(messages.len(), 3, "{messages:#?}");
        Ok(())
    });
}

#[test]
fn credential_kinds() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "sp.toml",
            &format!(
                "{MINIMAL}\n[aci.credentials]\nkind = \"client-secret\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s3cr3t\"\n"
            ),
        )?;
        let config = load_in_jail(&["--config", "sp.toml"])?;
        match &config.aci.credentials {
            CredentialConfig::ClientSecret {
                tenant_id,
                client_id,
                client_secret,
            } => {
                assert_eq!((tenant_id.as_str(), client_id.as_str()), ("t", "c"));
                assert_eq!(client_secret.expose(), "s3cr3t");
            }
            other => panic!("unexpected {other:?}"),
        }

        // Kind and fields from the environment, over the default managed identity.
        jail.set_env("VK_ACI__CREDENTIALS__KIND", "static-token");
        jail.set_env("VK_ACI__CREDENTIALS__TOKEN", "12345");
        let config = load_in_jail(&["--config", MINIMAL_FILE]).or_else(|_| {
            jail.create_file(MINIMAL_FILE, MINIMAL)?;
            load_in_jail(&["--config", MINIMAL_FILE])
        })?;
        assert_eq!(
            config.aci.credentials,
            CredentialConfig::StaticToken {
                token: Secret::from("12345")
            }
        );

        // azure-json: the file gives subscription and resource group, so they may be unset.
        jail.clear_env();
        jail.create_file("azure.json", "{}")?;
        jail.set_env("VK_ACI__CREDENTIALS__KIND", "azure-json");
        jail.set_env("VK_ACI__CREDENTIALS__PATH", "azure.json");
        let config = load_in_jail(&[])?;
        assert_eq!(
            config.aci.credentials,
            CredentialConfig::AzureJson {
                path: PathBuf::from("azure.json")
            }
        );
        jail.set_env("VK_ACI__CREDENTIALS__PATH", "/nonexistent/azure.json");
        assert_has(
            &errors(&[]),
            "aci.credentials.path: cannot read /nonexistent/azure.json",
        );

        jail.set_env("VK_ACI__CREDENTIALS__KIND", "password");
        let messages = errors(&[]);
        assert_has(
            &messages,
            "aci.credentials.kind: unknown variant \"password\" (expected one of \"client-secret\"",
        );
        assert_has(
            &messages,
            "(from environment variable VK_ACI__CREDENTIALS__KIND)",
        );

        jail.clear_env();
        jail.create_file(
            "mi.toml",
            &format!(
                "{MINIMAL}\n[aci.credentials]\nkind = \"managed-identity\"\nclientid = \"x\"\n"
            ),
        )?;
        assert_has(&errors(&["--config", "mi.toml"]), "clientid");
        Ok(())
    });
}

const MINIMAL_FILE: &str = "minimal.toml";

#[test]
fn secrets_never_show() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("VK_ACI__SUBSCRIPTION_ID", SUB);
        jail.set_env("VK_ACI__RESOURCE_GROUP", "rg");
        jail.set_env("VK_ACI__CREDENTIALS__KIND", "client-secret");
        jail.set_env("VK_ACI__CREDENTIALS__TENANT_ID", "tenant");
        jail.set_env("VK_ACI__CREDENTIALS__CLIENT_ID", "client");
        jail.set_env("VK_ACI__CREDENTIALS__CLIENT_SECRET", "hunter2-very-secret");
        let config = load_in_jail(&[])?;
        let CredentialConfig::ClientSecret { client_secret, .. } = &config.aci.credentials else {
            panic!("client secret expected");
        };
        assert_eq!(client_secret.expose(), "hunter2-very-secret");
        assert_eq!(format!("{client_secret}"), "<redacted>");
        assert_eq!(format!("{client_secret:?}"), "<redacted>");

        let debug = format!("{config:?} {config:#?}");
        let toml = config
            .render(PrintFormat::Toml)
            .map_err(|e| e.to_string())?;
        let json = config
            .render(PrintFormat::Json)
            .map_err(|e| e.to_string())?;
        for shown in [&debug, &toml, &json] {
            assert!(!shown.contains("hunter2"), "secret leaked: {shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        assert!(toml.contains("kind = \"client-secret\""), "{toml}");
        Ok(())
    });
}

#[test]
fn printed_toml_is_a_loadable_config() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "in.toml",
            &format!("{MINIMAL}\n[[nodes]]\nname = \"a\"\nextra_taints = [{{ key = \"k\" }}]\n[nodes.capacity]\ngpu = 2\n"),
        )?;
        let config = load_in_jail(&["--config", "in.toml"])?;
        jail.create_file(
            "out.toml",
            &config
                .render(PrintFormat::Toml)
                .map_err(|e| e.to_string())?,
        )?;
        let again = load_in_jail(&["--config", "out.toml"])?;
        assert_eq!(again, config);
        let json = config
            .render(PrintFormat::Json)
            .map_err(|e| e.to_string())?;
        let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
        assert_eq!(value["nodes"][0]["capacity"]["gpu"], 2);
        Ok(())
    });
}

#[test]
fn ha_identity_comes_from_pod_name_then_hostname() {
    let mut config = Config::default();
    config.resolve(&HostContext {
        pod_ip: None,
        pod_name: None,
        hostname: Some("machine".into()),
    });
    assert_eq!(config.ha.identity.as_deref(), Some("machine"));
    assert_eq!(config.nodes[0].internal_ip(), "127.0.0.1");

    let mut config = Config::default();
    config.resolve(&host());
    assert_eq!(config.ha.identity.as_deref(), Some("vk-0"));
    assert_eq!(config.nodes[0].internal_ip(), "10.1.2.3");
}

#[test]
fn validators() {
    assert_eq!(render_path(&["nodes", "1", "name"]), "nodes[1].name");
    assert_eq!(render_path(&["aci", "rate_limit"]), "aci.rate_limit");
}

#[test]
fn service_link_variables_are_ignored() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("VK_ACI__SUBSCRIPTION_ID", SUB);
        jail.set_env("VK_ACI__RESOURCE_GROUP", "rg");
        // What the kubelet injects for Services named `vk` and `vk-metrics`.
        for (key, value) in [
            ("VK_SERVICE_HOST", "10.0.0.10"),
            ("VK_SERVICE_PORT", "10255"),
            ("VK_SERVICE_PORT_METRICS", "10255"),
            ("VK_PORT", "tcp://10.0.0.10:10255"),
            ("VK_PORT_10255_TCP", "tcp://10.0.0.10:10255"),
            ("VK_PORT_10255_TCP_PROTO", "tcp"),
            ("VK_PORT_10255_TCP_PORT", "10255"),
            ("VK_PORT_10255_TCP_ADDR", "10.0.0.10"),
            ("VK_METRICS_SERVICE_HOST", "10.0.0.11"),
            ("VK_METRICS_PORT_80_UDP_ADDR", "10.0.0.11"),
        ] {
            jail.set_env(key, value);
        }
        let config = load_in_jail(&[])?;
        assert_eq!(config.aci.resource_group.as_deref(), Some("rg"));
        // Real keys still count.
        jail.set_env("VK_CLUSTER_ID", "c1");
        assert_eq!(load_in_jail(&[])?.cluster_id, "c1");
        Ok(())
    });
    for key in [
        "cluster_id",
        "drain_on_shutdown",
        "aci.region",
        "kubeconfig",
        "nodes",
    ] {
        assert!(!is_service_link(key), "{key}");
    }
}

#[test]
fn the_nodes_flag_replaces_the_node_list() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "vk.toml",
            &format!("{MINIMAL}\n[[nodes]]\nname = \"from-file\"\n"),
        )?;
        let config = load_in_jail(&["--config", "vk.toml", "--nodes", "linux,windows"])?;
        let nodes: Vec<_> = config
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.os, n.kubelet_port))
            .collect();
        assert_eq!(
            nodes,
            [
                ("virtual-kubelet-aci-linux", Os::Linux, 10250),
                ("virtual-kubelet-aci-windows", Os::Windows, 10251),
            ]
        );
        // --node-name still renames the first.
        let config = load_in_jail(&[
            "--config",
            "vk.toml",
            "--nodes",
            "windows",
            "--node-name",
            "w",
        ])?;
        assert_eq!(config.nodes.len(), 1);
        assert_eq!(
            (config.nodes[0].name.as_str(), config.nodes[0].os),
            ("w", Os::Windows)
        );
        assert_has(
            &errors(&["--config", "vk.toml", "--nodes", "linux,linux"]),
            "nodes[1].name: duplicate node name",
        );
        Ok(())
    });
}

#[test]
fn go_provider_variables_are_aliases_of_vk_keys() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file(
            "vk.toml",
            r#"
[aci]
subscription_id = "11111111-2222-3333-4444-555555555555"
resource_group = "from-file"

[[nodes]]
name = "a"
[[nodes]]
name = "b"
os = "windows"
kubelet_port = 10251
"#,
        )?;
        jail.set_env("ACI_RESOURCE_GROUP", "go-rg");
        jail.set_env("ACI_REGION", "northeurope");
        jail.set_env("VKUBELET_TAINT_KEY", "azure.com/aci");
        jail.set_env("VKUBELET_TAINT_VALUE", "yes");
        jail.set_env("VKUBELET_TAINT_EFFECT", "NoExecute");
        jail.set_env("ACI_QUOTA_CPU", "20");
        jail.set_env("ACI_QUOTA_MEMORY", "100Gi");
        jail.set_env("ACI_QUOTA_POD", "20");
        jail.set_env("KUBELET_PORT", "10300");
        jail.set_env("ACI_VNET_NAME", "vnet");
        jail.set_env("ACI_SUBNET_NAME", "aci");
        let config = load_in_jail(&["--config", "vk.toml"])?;
        // The alias beats the file…
        assert_eq!(config.aci.resource_group.as_deref(), Some("go-rg"));
        assert_eq!(config.aci.region, "northeurope");
        // …on every node, the file's other node fields kept.
        assert_eq!(config.nodes.len(), 2);
        for node in &config.nodes {
            assert_eq!(node.taint.key, "azure.com/aci");
            assert_eq!(node.taint.value, "yes");
            assert_eq!(node.taint.effect, TaintEffect::NoExecute);
            assert_eq!(node.capacity.cpu, "20");
            assert_eq!(node.capacity.memory, "100Gi");
            assert_eq!(node.capacity.pods, 20);
        }
        assert_eq!(config.nodes[1].os, Os::Windows);
        // KUBELET_PORT is the first node's only.
        assert_eq!(config.nodes[0].kubelet_port, 10300);
        assert_eq!(config.nodes[1].kubelet_port, 10251);
        // The subnet ID is composed from the ACI subscription and resource group.
        assert_eq!(
            config.aci.subnet_id.as_deref(),
            Some(
                "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/go-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/aci"
            )
        );
        let warnings = legacy::warnings();
        assert!(
            warnings.iter().any(|w| w.contains("ACI_REGION")
                && w.contains("deprecated alias of aci.region")
                && w.contains("VK_ACI__REGION")),
            "{warnings:#?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("VKUBELET_TAINT_KEY") && w.contains("nodes[*].taint.key")),
            "{warnings:#?}"
        );
        Ok(())
    });
}

#[test]
fn vk_variables_beat_go_provider_aliases_and_defaults_nodes_get_them() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("VK_ACI__SUBSCRIPTION_ID", SUB);
        jail.set_env("ACI_RESOURCE_GROUP", "go-rg");
        jail.set_env("VK_ACI__RESOURCE_GROUP", "vk-rg");
        jail.set_env("VKUBELET_TAINT_EFFECT", "PreferNoSchedule");
        // A service link of a Service named `kubelet`, not a port.
        jail.set_env("KUBELET_PORT", "tcp://10.0.0.1:10250");
        let config = load_in_jail(&[])?;
        assert_eq!(config.aci.resource_group.as_deref(), Some("vk-rg"));
        assert_eq!(config.nodes.len(), 1);
        assert_eq!(config.nodes[0].name, DEFAULT_NODE_NAME);
        assert_eq!(config.nodes[0].taint.effect, TaintEffect::PreferNoSchedule);
        assert_eq!(config.nodes[0].taint.key, "virtual-kubelet.io/provider");
        assert_eq!(config.nodes[0].kubelet_port, DEFAULT_KUBELET_PORT);
        Ok(())
    });
}

#[test]
fn a_bad_alias_value_names_the_field_and_the_variable() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("vk.toml", MINIMAL)?;
        jail.set_env("VKUBELET_TAINT_EFFECT", "Sometimes");
        let messages = errors(&["--config", "vk.toml"]);
        assert_has(&messages, "nodes[0].taint.effect");
        assert_has(&messages, "VKUBELET_TAINT_EFFECT");

        jail.set_env("VKUBELET_TAINT_EFFECT", "NoSchedule");
        jail.set_env("ACI_SUBNET_NAME", "aci");
        let messages = errors(&["--config", "vk.toml"]);
        assert_has(
            &messages,
            "ACI_VNET_NAME and ACI_SUBNET_NAME must be set together",
        );
        Ok(())
    });
}

#[test]
fn ignored_go_provider_variables_only_warn() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("vk.toml", MINIMAL)?;
        jail.set_env("ACI_SUBNET_CIDR", "10.241.0.0/16");
        jail.set_env("MASTER_URI", "https://10.0.0.1");
        let config = load_in_jail(&["--config", "vk.toml"])?;
        assert_eq!(config.aci.subnet_id, None);
        let warnings = legacy::warnings();
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(warnings.iter().all(|w| w.contains("has no effect in vk")));
        Ok(())
    });
}

#[test]
fn every_alias_is_in_the_migration_guide() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/migration.md"),
    )
    .expect("docs/migration.md exists");
    for alias in legacy::ALIASES {
        let row = format!("| `{}` | `{}` |", alias.variable, alias.target.describe());
        assert!(doc.contains(&row), "docs/migration.md has no row {row:?}");
    }
    for name in legacy::SUBNET_VARIABLES
        .iter()
        .chain(legacy::IGNORED.iter().map(|(n, _)| n))
    {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/migration.md does not mention {name}"
        );
    }
}

/// `vk install <extra>`'s options, parsed by vk's own command line.
fn install_args(extra: &[&str]) -> vk_install::InstallArgs {
    let mut argv = vec![
        "vk",
        "install",
        "--subscription-id",
        "00000000-0000-0000-0000-000000000000",
        "--resource-group",
        "rg",
    ];
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).expect("parses").command {
        Some(crate::cli::Command::Install(args)) => args,
        other => panic!("vk install expected, got {other:?}"),
    }
}

/// `vk install`'s rendered config.toml is configuration this binary loads.
#[test]
fn the_config_loads_as_vk_configuration() {
    let a = install_args(&[
        "--connector-name",
        "mycon",
        "--os-type",
        "both",
        "--namespace",
        "other",
    ]);
    let config: Config =
        figment::Figment::from(figment::providers::Serialized::defaults(Config::default()))
            .merge(
                <figment::providers::Toml as figment::providers::Format>::string(&a.config_toml()),
            )
            .extract()
            .expect("the rendered config.toml is vk configuration");
    assert_eq!(config.nodes.len(), 2);
    assert_eq!(config.aci.resource_group.as_deref(), Some("rg"));
    assert_eq!(config.ha.namespace, "other");
}
