//! Kubernetes name, label and taint syntax, as the API server checks it
//! (`k8s.io/apimachinery/pkg/util/validation`). vk-node, vk-taints and vk's
//! configuration all validate with these, so a value vk accepts is one the API
//! server accepts.
//!
//! Each check returns `Err(reason)`, a sentence to put after the field's name
//! (`nodes[1].name: must be a DNS-1123 subdomain …`).
//!
//! * [`dns1123_label`]: at most 63 of `[a-z0-9-]`, alphanumeric at both ends
//!   (namespaces).
//! * [`dns1123_subdomain`]: at most 253 of `[a-z0-9-.]`, each dot-separated
//!   part alphanumeric at both ends (Node and Lease names, key prefixes).
//! * [`qualified_name`]: `[prefix/]name`, the optional prefix a DNS-1123
//!   subdomain, the name at most 63 of `[A-Za-z0-9-_.]` alphanumeric at both
//!   ends, at most one `/` (label, annotation and taint keys).
//! * [`label_value`]: empty, or what the name part of a qualified name may be
//!   (label and taint values).
//!
//! ```
//! use vk_taints::names;
//!
//! assert!(names::qualified_name("virtual-kubelet.io/provider").is_ok());
//! assert!(names::qualified_name("a/b/c").is_err());
//! assert!(names::label_value("").is_ok());
//! assert!(names::label_value(&"a".repeat(64)).is_err());
//! ```

/// The longest DNS-1123 label (and name part, and label value).
pub const MAX_LABEL_LEN: usize = 63;
/// The longest DNS-1123 subdomain.
pub const MAX_SUBDOMAIN_LEN: usize = 253;

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, without a length limit.
fn is_lower_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|&c| is_alnum_lower(c) || c == b'-')
        && is_alnum_lower(b[0])
        && is_alnum_lower(b[b.len() - 1])
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters.
fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL_LEN
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A DNS-1123 label: at most 63 of `[a-z0-9-]`, starting and ending with a
/// letter or digit.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.len() <= MAX_LABEL_LEN && is_lower_label(s) {
        Ok(())
    } else {
        Err(format!(
            "must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit), got {s:?}"
        ))
    }
}

/// A DNS-1123 subdomain: at most 253 characters, dot-separated parts of
/// `[a-z0-9-]` each starting and ending with a letter or digit.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() <= MAX_SUBDOMAIN_LEN && s.split('.').all(is_lower_label) {
        Ok(())
    } else {
        Err(format!(
            "must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters), got {s:?}"
        ))
    }
}

/// A qualified name (label or annotation key, taint key): `[prefix/]name`.
pub fn qualified_name(s: &str) -> Result<(), String> {
    // Kubernetes splits on every '/': more than one makes the name invalid.
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix
        && dns1123_subdomain(prefix).is_err()
    {
        return Err(format!("the prefix of {s:?} must be a DNS-1123 subdomain"));
    }
    if is_name_part(name) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a qualified name ([prefix/]name, the name at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)"
        ))
    }
}

/// A label value (also a taint value): empty, or at most 63 of
/// `[A-Za-z0-9-_.]` starting and ending with a letter or digit.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() || is_name_part(s) {
        Ok(())
    } else {
        Err(format!(
            "must be empty or at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, got {s:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "vk-system", "0a", &"a".repeat(63)] {
            assert!(dns1123_label(ok).is_ok(), "{ok}");
        }
        for bad in ["", "A", "-a", "a-", "a.b", "a_b", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subdomains() {
        // Kubernetes caps the whole subdomain at 253, not each part at 63.
        let long_part = format!("{}.com", "a".repeat(100));
        for ok in [
            "a",
            "vk-linux",
            "a.b-c.d",
            "0a",
            &long_part,
            &"a".repeat(253),
        ] {
            assert!(dns1123_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "A",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "a_b",
            &"a".repeat(254),
        ] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn qualified_names() {
        for ok in [
            "a",
            "a_b.c",
            "Upper_Case",
            "example.com/x",
            "virtual-kubelet.io/provider",
            "node.kubernetes.io/unreachable",
            &format!("example.com/{}", "n".repeat(63)),
        ] {
            assert!(qualified_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "-a",
            "a-",
            "bad key!",
            "Bad.Prefix/a",
            &format!("example.com/{}", "n".repeat(64)),
            &format!("{}/a", "p".repeat(254)),
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
    }

    /// vk-taints used `rsplit_once('/')` and the configuration `split_once('/')`:
    /// with two slashes neither the prefix nor the name may hold the other one.
    #[test]
    fn two_slashes_are_rejected_whichever_side_is_split() {
        for bad in ["a/b/c", "example.com/a/b", "a.io/b.io/c"] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
    }

    /// vk-node did not cap label values at 63 characters.
    #[test]
    fn label_values() {
        for ok in ["", "a", "azure", "A-b_c.D", &"v".repeat(63)] {
            assert!(label_value(ok).is_ok(), "{ok}");
        }
        for bad in ["-x", "x-", "a b", "a/b", &"v".repeat(64)] {
            assert!(label_value(bad).is_err(), "{bad}");
        }
    }
}
