//! Deterministic ACI names for container groups and volumes.
//!
//! ACI container-group names are 1–63 characters of lowercase letters, digits
//! and `-`, with no leading, trailing or consecutive `-`. A pod's group is
//! named `<namespace>-<pod>` when that is a valid name; otherwise the name is
//! sanitized (lowercased, every other character mapped to `-`, runs of `-`
//! collapsed), truncated, and suffixed with `-` and a 10-hex-digit hash of
//! `namespace/pod`, so distinct pods get distinct names even when their
//! sanitized forms agree.
//!
//! Caveat: `<namespace>-<pod>` is ambiguous when namespaces contain `-`
//! (`a-b/c` and `a/b-c` both give `a-b-c`). The tags ([`crate::tags`]) record
//! the pod; [`crate::GroupNames`] (kept by [`crate::AciProvider`]) gives a pod
//! whose plain name belongs to another pod the [`hashed_group_name`] instead,
//! which is always unambiguous.

/// Longest container-group name ACI accepts.
pub const MAX_GROUP_NAME: usize = 63;

/// Hex digits of the hash suffix.
const HASH_DIGITS: usize = 10;

/// True when `name` is a valid ACI container-group (and volume) name.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// The container-group name of pod `namespace/name`: `<namespace>-<name>` when
/// valid, else [`hashed_group_name`].
///
/// ```
/// use vk_provider_aci::naming::{group_name, is_valid_name};
/// assert_eq!(group_name("default", "web-1"), "default-web-1");
/// let long = group_name("default", &"x.y".repeat(40));
/// assert!(is_valid_name(&long) && long.len() <= 63);
/// ```
pub fn group_name(namespace: &str, name: &str) -> String {
    let plain = format!("{namespace}-{name}");
    if is_valid_name(&plain) {
        plain
    } else {
        hashed_group_name(namespace, name)
    }
}

/// The always-hashed form: sanitized `<namespace>-<name>`, truncated, then `-`
/// and a hash of `namespace/name`. Valid and deterministic for any input.
pub fn hashed_group_name(namespace: &str, name: &str) -> String {
    let hash = short_hash(&format!("{namespace}/{name}"));
    with_hash(&sanitize(&format!("{namespace}-{name}")), &hash)
}

/// The ACI volume name for a pod volume: the name itself when valid, else a
/// sanitized, hashed form (Kubernetes allows `--`, ACI does not).
pub fn volume_name(name: &str) -> String {
    if is_valid_name(name) {
        name.to_owned()
    } else {
        with_hash(&sanitize(name), &short_hash(name))
    }
}

/// `base` truncated so that `base-hash` fits, then joined.
fn with_hash(base: &str, hash: &str) -> String {
    let room = MAX_GROUP_NAME - HASH_DIGITS - 1;
    let mut base: String = base.chars().take(room).collect();
    while base.ends_with('-') {
        base.pop();
    }
    if base.is_empty() {
        format!("vk-{hash}")
    } else {
        format!("{base}-{hash}")
    }
}

/// Lowercase; characters other than `[a-z0-9]` become `-`; runs of `-`
/// collapse; leading and trailing `-` are removed.
fn sanitize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The first [`HASH_DIGITS`] hex digits of the 64-bit FNV-1a hash of `input`
/// (stable across processes, platforms and Rust versions).
fn short_hash(input: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut s = format!("{h:016x}");
    s.truncate(HASH_DIGITS);
    s
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn plain_names_are_kept() {
        assert_eq!(
            group_name("default", "iis-5d8f7c-x2x9p"),
            "default-iis-5d8f7c-x2x9p"
        );
        assert_eq!(volume_name("data"), "data");
    }

    #[test]
    fn dots_uppercase_and_length_are_hashed() {
        let n = group_name("default", "my.pod");
        assert!(n.starts_with("default-my-pod-"), "{n}");
        assert!(is_valid_name(&n));
        let long = group_name(&"n".repeat(63), &"p".repeat(253));
        assert_eq!(long.len(), 63);
        assert!(is_valid_name(&long));
        assert_ne!(group_name("a", "b.c"), group_name("a", "b-c"));
        assert_eq!(group_name("a", "b--c"), hashed_group_name("a", "b--c"));
        let v = volume_name("a--b");
        assert!(is_valid_name(&v) && v.starts_with("a-b-"), "{v}");
        assert!(is_valid_name(&volume_name("---")));
    }

    #[test]
    fn hashed_form_disambiguates_hyphenated_namespaces() {
        assert_eq!(group_name("a-b", "c"), group_name("a", "b-c"));
        assert_ne!(hashed_group_name("a-b", "c"), hashed_group_name("a", "b-c"));
    }

    fn k8s_name(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[a-z0-9]([-a-z0-9.]{{0,{max}}}[a-z0-9])?"))
            .expect("regex")
    }

    proptest! {
        #[test]
        fn always_valid_and_deterministic(ns in k8s_name(61), name in k8s_name(251)) {
            let n = group_name(&ns, &name);
            prop_assert!(is_valid_name(&n), "{}", n);
            prop_assert_eq!(&n, &group_name(&ns, &name));
            let h = hashed_group_name(&ns, &name);
            prop_assert!(is_valid_name(&h), "{}", h);
        }

        #[test]
        fn any_string_gives_a_valid_name(ns in ".{0,80}", name in ".{0,300}") {
            prop_assert!(is_valid_name(&group_name(&ns, &name)));
            prop_assert!(is_valid_name(&hashed_group_name(&ns, &name)));
            prop_assert!(is_valid_name(&volume_name(&name)));
        }

        #[test]
        fn injective_in_practice(pods in proptest::collection::hash_set((k8s_name(20), k8s_name(80)), 1..200)) {
            let mut seen: HashMap<String, (String, String)> = HashMap::new();
            for (ns, name) in pods {
                // Within one namespace names never collide; across namespaces
                // the hashed form never collides.
                let h = hashed_group_name(&ns, &name);
                if let Some(prev) = seen.insert(h.clone(), (ns.clone(), name.clone())) {
                    prop_assert!(false, "{:?} and {:?} both map to {}", prev, (ns, name), h);
                }
            }
        }

        #[test]
        fn same_namespace_never_collides(ns in k8s_name(20), names in proptest::collection::hash_set(k8s_name(100), 1..200)) {
            let mut seen = HashMap::new();
            for name in names {
                let n = group_name(&ns, &name);
                if let Some(prev) = seen.insert(n.clone(), name.clone()) {
                    prop_assert!(false, "{} and {} both map to {}", prev, name, n);
                }
            }
        }
    }
}
