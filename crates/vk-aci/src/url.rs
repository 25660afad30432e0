//! URL helpers.

pub use reqwest::Url;

/// Appends path segments (percent-encoded) to a base URL, keeping any path prefix it has.
pub(crate) fn join(base: &Url, segments: &[&str]) -> Result<Url, String> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| format!("{base} cannot be a base URL"))?;
        path.pop_if_empty();
        path.extend(segments);
    }
    Ok(url)
}

/// Parses an endpoint URL; only `http` and `https` are accepted.
pub(crate) fn parse_endpoint(text: &str, what: &str) -> Result<Url, crate::Error> {
    let url = Url::parse(text.trim()).map_err(|e| crate::Error::Config {
        message: format!("{what} {text:?} is not a URL: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(crate::Error::Config {
            message: format!("{what} {text:?} must be an http(s) URL"),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_prefix_and_encodes() {
        let base = Url::parse("http://127.0.0.1:8080/prefix/").unwrap();
        let url = join(&base, &["subscriptions", "a b", "x/y"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/prefix/subscriptions/a%20b/x%2Fy"
        );
        let base = Url::parse("https://login.microsoftonline.com").unwrap();
        let url = join(&base, &["t", "oauth2", "v2.0", "token"]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://login.microsoftonline.com/t/oauth2/v2.0/token"
        );
    }
}
