//! Image reference syntax, as the kubelet checks it before pulling
//! (`InvalidImageName`).
//!
//! The grammar is the distribution project's (`distribution/reference`):
//! `[domain[:port]/]path[:tag][@algorithm:hex]`, lower-case path components
//! joined by `.`, `_`, `__` or runs of `-`, a tag of word characters, `.`
//! and `-` (at most 128), a name of at most 255 characters. Written by hand:
//! the crates that parse references (oci-client, oci-spec) bring a registry
//! client or a code-generation stack for these 80 lines.

const MAX_NAME: usize = 255;

/// `Err(problem)` when `image` is not a valid image reference.
pub(crate) fn check(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("the image is empty".into());
    }
    if image.trim() != image || image.contains(char::is_whitespace) {
        return Err("invalid reference format: it contains white space".into());
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    if let Some(d) = digest {
        check_digest(d)?;
    }
    // A tag follows the last ':' after the last '/' (a ':' before it is a port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        check_tag(t)?;
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "repository name must not be more than {MAX_NAME} characters"
        ));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_domain(components[0]) {
        check_domain(components.remove(0))?;
    }
    for c in components {
        check_path_component(c)?;
    }
    Ok(())
}

/// Whether the first component names a registry (as Docker decides it).
fn is_domain(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.chars().any(|c| c.is_ascii_uppercase())
}

fn check_domain(domain: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "invalid reference format: bad registry host {domain:?}"
        ))
    };
    let (host, port) = if domain.starts_with('[') {
        // An IPv6 literal: `[addr]` or `[addr]:port`.
        match domain.find(']') {
            Some(end) if end + 1 == domain.len() => (domain, None),
            Some(end) if domain[end + 1..].starts_with(':') => {
                (&domain[..=end], Some(&domain[end + 2..]))
            }
            _ => return bad(),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad();
    }
    if host.starts_with('[') {
        let inner = host.trim_start_matches('[').trim_end_matches(']');
        return if host.ends_with(']') && inner.parse::<std::net::Ipv6Addr>().is_ok() {
            Ok(())
        } else {
            bad()
        };
    }
    let ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok { Ok(()) } else { bad() }
}

fn check_path_component(c: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "invalid reference format: {c:?} must be lower-case letters and digits, separated by '.', '_', '__' or '-'"
        ))
    };
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return bad();
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__' or a run of '-', then alphanumerics.
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let valid = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !valid {
            return bad();
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && word(tag.as_bytes()[0])
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid reference format: bad tag {tag:?} (word characters, '.' and '-', at most 128)"
        ))
    }
}

fn check_digest(digest: &str) -> Result<(), String> {
    let bad = || Err(format!("invalid reference format: bad digest {digest:?}"));
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return bad();
    };
    let alg_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|p| {
            p.starts_with(|c: char| c.is_ascii_alphabetic())
                && p.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    if alg_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        bad()
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn valid_references() {
        for image in [
            "nginx",
            "nginx:1.27",
            "library/nginx:latest",
            "mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2019",
            "localhost:5000/team/app_v2__x:v1.0-rc.1",
            "myregistry.azurecr.io/a-b--c/d.e:tag",
            "[::1]:5000/app",
            "[fe80::1]/app",
            "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "busybox:1.36@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "Registry.Example.com/app",
        ] {
            assert_eq!(check(image), Ok(()), "{image}");
        }
    }

    #[test]
    fn invalid_references_say_what_is_wrong() {
        for (image, says) in [
            ("", "empty"),
            ("nginx:", "bad tag"),
            ("nginx:-x", "bad tag"),
            ("Nginx/App", "lower-case"),
            ("ngINX", "lower-case"),
            ("nginx latest", "white space"),
            ("app/.hidden", "lower-case"),
            ("app//x", "lower-case"),
            ("a-.b", "lower-case"),
            ("busybox@sha256:123", "bad digest"),
            ("reg.example.com:port/app", "bad registry host"),
            ("-reg.example.com/app", "bad registry host"),
        ] {
            let err = check(image).expect_err(image);
            assert!(err.contains(says), "{image}: {err}");
        }
        assert!(check(&"a".repeat(256)).unwrap_err().contains("255"));
        assert!(
            check(&format!("app:{}", "t".repeat(129)))
                .unwrap_err()
                .contains("tag")
        );
    }
}
