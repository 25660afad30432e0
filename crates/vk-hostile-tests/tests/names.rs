//! Odd names always give valid, deterministic ACI container-group names.

use std::collections::BTreeSet;

use vk_provider_aci::naming::{
    MAX_GROUP_NAME, group_name, hashed_group_name, is_valid_name, volume_name,
};

fn odd_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "",
        "-",
        "--",
        ".",
        "..",
        "a",
        "A",
        "UPPER",
        "MiXeD-Case",
        "dots.in.name",
        "trailing-",
        "-leading",
        "double--dash",
        "under_score",
        "späce ünïcode",
        "日本語",
        "emoji-🚀-pod",
        "🚀",
        "👨‍👩‍👧‍👦",
        "\u{0}",
        "tab\tnew\nline",
        "zero\u{200b}width",
        "rtl-\u{202e}-override",
        "ﬁ-ligature",
        "İstanbul",
        "x/y",
        "../etc/passwd",
        "$(VAR)",
        "name with spaces",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    names.push("a".repeat(300));
    names.push("A".repeat(300));
    names.push("-".repeat(300));
    names.push(".".repeat(300));
    names.push("é".repeat(300));
    names.push("🚀".repeat(300));
    names.push("a-".repeat(150));
    names.push(format!("{}{}", "a".repeat(62), "🚀"));
    names.push("x".repeat(64 * 1024));
    names
}

#[test]
fn group_names_are_always_valid() {
    let names = odd_names();
    for ns in &names {
        for name in &names {
            let g = group_name(ns, name);
            assert!(
                is_valid_name(&g) && g.len() <= MAX_GROUP_NAME,
                "{ns:?}/{name:?} -> {g:?}"
            );
            assert_eq!(g, group_name(ns, name), "deterministic");
            let h = hashed_group_name(ns, name);
            assert!(is_valid_name(&h), "{ns:?}/{name:?} -> hashed {h:?}");
        }
    }
}

#[test]
fn volume_names_are_always_valid() {
    for name in odd_names() {
        let v = volume_name(&name);
        assert!(is_valid_name(&v), "{name:?} -> {v:?}");
    }
}

#[test]
fn distinct_odd_pods_get_distinct_hashed_names() {
    let names = odd_names();
    let mut seen = BTreeSet::new();
    for ns in ["default", "Default", "kube-system"] {
        for name in &names {
            let h = hashed_group_name(ns, name);
            assert!(seen.insert(h.clone()), "collision for {ns:?}/{name:?}: {h}");
        }
    }
}
