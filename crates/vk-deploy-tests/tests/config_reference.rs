//! docs/configuration.md is the configuration reference; this test keeps it current. It reads
//! the configuration model (`bin/vk/src/config.rs`) and the command line (`bin/vk/src/cli.rs`)
//! as text and fails when:
//!
//! - a configuration key (a field of a `Deserialize` struct reachable from `Config`, or of a
//!   credentials variant) is not in the reference as `` `path.to.key` ``, or its `VK_` variable
//!   is missing (`` `VK_PATH__TO__KEY` ``; `VK_NODES` for the keys under `nodes[]`);
//! - a credentials `kind` is missing;
//! - a flag (`#[arg(long…)]`) or a flag's `env = "…"` variable is not in the reference, or a
//!   subcommand of `vk config` is missing;
//! - the reference documents a key that no longer exists (a row of a `| key |` table) or
//!   mentions a `--flag` that does not exist.
//!
//! Types, defaults and descriptions are written by hand next to each key; a reviewer checks
//! them against the source when the test points at a changed key.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::workspace_root;

fn read(path: &str) -> String {
    let path = workspace_root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Fields of a struct or of a struct variant: `(name, type)`.
type Fields = Vec<(String, String)>;

/// A struct or enum of config.rs: its fields `(name, type)`, or for an enum its variants with
/// their fields.
#[derive(Debug, Default)]
struct Model {
    /// `Deserialize` structs: name → fields.
    structs: BTreeMap<String, Fields>,
    /// `Deserialize` enums with struct variants: name → variant → fields.
    enums: BTreeMap<String, Vec<(String, Fields)>>,
}

/// Strips `//` comments and returns the lines.
fn code_lines(source: &str) -> Vec<String> {
    source
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => l[..i].to_string(),
            None => l.to_string(),
        })
        .collect()
}

/// `name: Type,` at the start of a (trimmed) line, with an optional `pub(crate) `.
fn field(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
    let line = line.strip_prefix("pub ").unwrap_or(line);
    let (name, ty) = line.split_once(':')?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
    {
        return None;
    }
    let ty = ty.trim().trim_end_matches(',').trim().to_string();
    if ty.is_empty() {
        return None;
    }
    Some((name.to_string(), ty))
}

/// Library sources with configuration types `bin/vk/src/config.rs` embeds.
const LIBRARY_CONFIGS: &[&str] = &[
    "crates/vk-aci/src/config.rs",
    "crates/vk-kube/src/config.rs",
    "crates/vk-kubelet-api/src/config.rs",
    "crates/vk-node/src/config.rs",
    "crates/vk-node/src/spec.rs",
    "crates/vk-pods/src/config.rs",
    "crates/vk-provider-aci/src/config.rs",
    "crates/vk-provider-aci/src/quota.rs",
    "crates/vk-taints/src/taint.rs",
];

/// The configuration model: the binary's `config.rs` and the configuration
/// types the libraries own and the binary embeds.
fn config_model() -> Model {
    let mut source = read("bin/vk/src/config.rs");
    for library in LIBRARY_CONFIGS {
        source.push('\n');
        source.push_str(&read(library));
    }
    parse_model(&source)
}

fn parse_model(source: &str) -> Model {
    let lines = code_lines(source);
    let mut model = Model::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        // A derive list (possibly over several lines) that includes Deserialize.
        if line.starts_with("#[derive(") {
            let mut derive = line.to_string();
            while !derive.contains(")]") && i + 1 < lines.len() {
                i += 1;
                derive.push_str(lines[i].trim());
            }
            if !derive.contains("Deserialize") {
                i += 1;
                continue;
            }
            // Skip further attributes and docs to the item.
            let mut j = i + 1;
            while j < lines.len() && !lines[j].contains(" struct ") && !lines[j].contains(" enum ")
            {
                j += 1;
            }
            let Some(item) = lines.get(j) else { break };
            let is_struct = item.contains(" struct ");
            let name = item
                .split(if is_struct { " struct " } else { " enum " })
                .nth(1)
                .and_then(|rest| {
                    rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .next()
                })
                .unwrap_or("")
                .to_string();
            if item.trim_end().ends_with(';') || !item.contains('{') {
                // Tuple or unit struct (Secret): a leaf.
                i = j + 1;
                continue;
            }
            let mut k = j + 1;
            if is_struct {
                let mut fields = Vec::new();
                // `#[serde(skip)]` and `#[serde(rename = "…")]` on the field that follows.
                let (mut skip, mut rename) = (false, None);
                while k < lines.len() && lines[k].trim() != "}" {
                    let l = lines[k].trim();
                    if l.starts_with("#[serde(") {
                        skip |= l == "#[serde(skip)]";
                        if let Some(rest) = l.split("rename = \"").nth(1) {
                            rename = rest.split('"').next().map(str::to_string);
                        }
                    } else if let Some((name, ty)) = field(&lines[k]) {
                        if !skip {
                            fields.push((rename.take().unwrap_or(name), ty));
                        }
                        (skip, rename) = (false, None);
                    }
                    k += 1;
                }
                model.structs.insert(name, fields);
            } else {
                let mut variants = Vec::new();
                while k < lines.len() && lines[k].trim() != "}" {
                    let l = lines[k].trim();
                    if let Some(variant) = l.strip_suffix(" {") {
                        let mut fields = Vec::new();
                        k += 1;
                        while k < lines.len() && lines[k].trim() != "}," {
                            if let Some(f) = field(&lines[k]) {
                                fields.push(f);
                            }
                            k += 1;
                        }
                        variants.push((variant.trim().to_string(), fields));
                    }
                    k += 1;
                }
                if !variants.is_empty() {
                    model.enums.insert(name, variants);
                }
            }
            i = k + 1;
            continue;
        }
        i += 1;
    }
    model
}

fn kebab(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A documented key: its path and whether it has a `VK_` variable of its own.
#[derive(Debug)]
struct Keys {
    paths: BTreeSet<String>,
    kinds: BTreeSet<String>,
}

/// All key paths reachable from `Config`.
fn keys(model: &Model) -> Keys {
    let mut keys = Keys {
        paths: BTreeSet::new(),
        kinds: BTreeSet::new(),
    };
    fn inner(ty: &str) -> (String, bool) {
        let mut ty = ty.trim().to_string();
        let mut list = false;
        loop {
            if let Some(rest) = ty.strip_prefix("Option<").and_then(|r| r.strip_suffix('>')) {
                ty = rest.to_string();
            } else if let Some(rest) = ty.strip_prefix("Vec<").and_then(|r| r.strip_suffix('>')) {
                ty = rest.to_string();
                list = true;
            } else {
                // A library's own config type (`vk_kubelet_aci::UsageConfig`).
                let ty = ty.rsplit("::").next().unwrap_or(&ty).to_string();
                return (ty, list);
            }
        }
    }
    fn walk(model: &Model, name: &str, prefix: &str, keys: &mut Keys) {
        let Some(fields) = model.structs.get(name) else {
            return;
        };
        for (field, ty) in fields {
            let (inner_ty, list) = inner(ty);
            let path = if prefix.is_empty() {
                field.clone()
            } else {
                format!("{prefix}.{field}")
            };
            if model.structs.contains_key(&inner_ty) {
                let path = if list { format!("{path}[]") } else { path };
                walk(model, &inner_ty, &path, keys);
            } else if let Some(variants) = model.enums.get(&inner_ty) {
                keys.paths.insert(format!("{path}.kind"));
                for (variant, fields) in variants {
                    keys.kinds.insert(kebab(variant));
                    for (f, _) in fields {
                        keys.paths.insert(format!("{path}.{f}"));
                    }
                }
            } else {
                keys.paths.insert(path);
            }
        }
    }
    walk(model, "Config", "", &mut keys);
    keys
}

fn env_name(path: &str) -> String {
    if path.starts_with("nodes") {
        return "VK_NODES".into();
    }
    format!("VK_{}", path.replace('.', "__").to_ascii_uppercase())
}

/// The long flags of cli.rs and the `env = "…"` variables of flags.
fn flags(source: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let lines = code_lines(source);
    let mut flags = BTreeSet::new();
    let mut envs = BTreeSet::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if line.starts_with("#[arg(") {
            let mut attr = line.to_string();
            while !attr.trim_end().ends_with(")]") && i + 1 < lines.len() {
                i += 1;
                attr.push(' ');
                attr.push_str(lines[i].trim());
            }
            // The field the attribute belongs to.
            let mut j = i + 1;
            while j < lines.len() && field(&lines[j]).is_none() {
                j += 1;
            }
            let name = lines.get(j).and_then(|l| field(l)).map(|(n, _)| n);
            let inside = attr
                .trim_start_matches("#[arg(")
                .trim_end()
                .trim_end_matches(")]")
                .to_string();
            let parts: Vec<&str> = inside.split(',').map(str::trim).collect();
            for part in &parts {
                if let Some(value) = part.strip_prefix("long = ") {
                    flags.insert(format!("--{}", value.trim_matches('"')));
                } else if *part == "long" {
                    if let Some(name) = &name {
                        flags.insert(format!("--{}", name.replace('_', "-")));
                    }
                } else if let Some(value) = part.strip_prefix("env = ") {
                    envs.insert(value.trim_matches('"').to_string());
                }
            }
        }
        i += 1;
    }
    (flags, envs)
}

/// The subcommands of `vk config`.
fn config_subcommands(source: &str) -> BTreeSet<String> {
    let lines = code_lines(source);
    let start = lines
        .iter()
        .position(|l| l.contains("enum ConfigCommand"))
        .expect("cli.rs has enum ConfigCommand");
    let mut out = BTreeSet::new();
    for line in &lines[start + 1..] {
        if line.starts_with('}') {
            break;
        }
        // Variants are indented by exactly four spaces.
        if let Some(rest) = line.strip_prefix("    ")
            && rest.starts_with(|c: char| c.is_ascii_uppercase())
        {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
            out.insert(format!("vk config {}", kebab(&name)));
        }
    }
    out
}

#[test]
fn the_parsers_see_the_model() {
    // Guards the text parsing itself: if config.rs or cli.rs change shape so that these are no
    // longer found, the staleness check below would pass vacuously.
    let model = config_model();
    let keys = keys(&model);
    for key in [
        "cluster_id",
        "nodes[].name",
        "nodes[].taint.effect",
        "nodes[].capacity.gpu",
        "aci.rate_limit.write_burst",
        "aci.credentials.kind",
        "aci.credentials.client_secret",
        "aci.credentials.token_file",
        "ha.lease_duration_secs",
        "log.filter",
        // Embedded library configurations, renamed to their keys.
        "lease.renew_interval_secs",
        "status.health_interval_secs",
        "reconciler.first_look_delay_ms",
        "reconciler.orphan_gc_grace_secs",
    ] {
        assert!(
            keys.paths.contains(key),
            "{key} not found in {:?}",
            keys.paths
        );
    }
    assert!(keys.paths.len() > 50, "{} keys", keys.paths.len());
    // Fields the libraries skip are not configuration keys.
    for skipped in [
        "reconciler.node_name",
        "reconciler.event_qps",
        "lease.jitter",
    ] {
        assert!(!keys.paths.contains(skipped), "{skipped} is not a key");
    }
    assert_eq!(
        keys.kinds,
        [
            "client-secret",
            "managed-identity",
            "workload-identity",
            "azure-json",
            "static-token"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );
    let (flags, envs) = flags(&read("bin/vk/src/cli.rs"));
    for flag in [
        "--config",
        "--nodes",
        "--log-format",
        "--ha",
        "--kubelet-anonymous-auth",
        "--format",
    ] {
        assert!(flags.contains(flag), "{flag} not found in {flags:?}");
    }
    assert!(envs.contains("VK_CONFIG"), "{envs:?}");
    assert_eq!(
        config_subcommands(&read("bin/vk/src/cli.rs")),
        ["vk config print", "vk config validate"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

#[test]
fn the_configuration_reference_is_current() {
    let doc = read("docs/configuration.md");
    let model = config_model();
    let keys = keys(&model);
    let cli = read("bin/vk/src/cli.rs");
    let (flags, envs) = flags(&cli);
    let mut missing = Vec::new();
    for key in &keys.paths {
        if !doc.contains(&format!("`{key}`")) {
            missing.push(format!("key `{key}`"));
        }
        let env = env_name(key);
        if !doc.contains(&format!("`{env}`")) {
            missing.push(format!("variable `{env}` (of {key})"));
        }
    }
    for kind in &keys.kinds {
        if !doc.contains(&format!("`{kind}`")) {
            missing.push(format!("credentials kind `{kind}`"));
        }
    }
    for flag in &flags {
        if !doc.contains(&format!("`{flag}`")) {
            missing.push(format!("flag `{flag}`"));
        }
    }
    for env in &envs {
        if !doc.contains(&format!("`{env}`")) {
            missing.push(format!("variable `{env}`"));
        }
    }
    for sub in config_subcommands(&cli) {
        if !doc.contains(&format!("`{sub}`")) {
            missing.push(format!("subcommand `{sub}`"));
        }
    }

    // The other way round: what the tables document must still exist. A key row starts with
    // "| `key` |", a flag row with "| `--flag".
    let mut stale = Vec::new();
    let mut key_table = false;
    for line in doc.lines() {
        if !line.starts_with('|') {
            key_table = false;
            continue;
        }
        if line.starts_with("| key |") {
            key_table = true;
        }
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((first, _)) = rest.split_once('`') else {
            continue;
        };
        if key_table && !first.starts_with("--") && !keys.paths.contains(first) {
            stale.push(format!("key `{first}`"));
        }
    }
    // Every `--flag` the page mentions, anywhere, must exist.
    let bytes = doc.as_bytes();
    let mut seen = BTreeSet::new();
    for i in 0..bytes.len().saturating_sub(2) {
        let starts = bytes[i] == b'-'
            && bytes[i + 1] == b'-'
            && bytes[i + 2].is_ascii_lowercase()
            && (i == 0 || !(bytes[i - 1] == b'-' || bytes[i - 1].is_ascii_alphanumeric()));
        if !starts {
            continue;
        }
        let end = bytes[i + 2..]
            .iter()
            .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-'))
            .map_or(bytes.len(), |n| i + 2 + n);
        let flag = doc[i..end].trim_end_matches('-').to_string();
        if !flags.contains(&flag)
            && flag != "--help"
            && flag != "--version"
            && seen.insert(flag.clone())
        {
            stale.push(format!("flag `{flag}`"));
        }
    }

    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/configuration.md is stale.\nMissing (add a row, see bin/vk/src/config.rs and cli.rs):\n  {}\nDocumented but gone:\n  {}",
        missing.join("\n  "),
        stale.join("\n  ")
    );
}
