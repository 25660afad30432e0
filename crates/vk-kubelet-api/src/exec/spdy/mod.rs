//! Remote command over SPDY/3.1, the streaming protocol kubectl falls back to (and that API
//! servers from 1.30 on always use toward kubelets).
//!
//! - [`frame`]: frame encoding and decoding;
//! - [`compress`]: header blocks and their zlib compression with the SPDY/3 dictionary;
//! - [`session`]: a connection (flow control, pings, stream bookkeeping) and the exec session on
//!   top of it: the client opens one stream per `streamtype` (`error`, `stdin`, `stdout`,
//!   `stderr`, `resize`), the server accepts each with SYN_REPLY, copies data, half-closes
//!   stdout and stderr when the command ends, and writes the final `metav1.Status` on the
//!   error stream.

pub(crate) mod compress;
pub(crate) mod frame;
pub(crate) mod session;

/// `X-Stream-Protocol-Version` values served, in order of preference. `v5.channel.k8s.io` is
/// framed exactly like v4 over SPDY (its close signal is WebSocket-only), so it is accepted as
/// an alias when a client offers only it.
pub(crate) const PROTOCOLS: &[&str] = &["v4.channel.k8s.io", "v5.channel.k8s.io"];

/// The server's preferred protocol among those the client offered.
pub(crate) fn negotiate(offered: &[String]) -> Option<&'static str> {
    PROTOCOLS
        .iter()
        .copied()
        .find(|p| offered.iter().any(|o| o.eq_ignore_ascii_case(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_v4() {
        let offered: Vec<String> = [
            "v5.channel.k8s.io",
            "v4.channel.k8s.io",
            "v3.channel.k8s.io",
        ]
        .map(String::from)
        .into();
        assert_eq!(negotiate(&offered), Some("v4.channel.k8s.io"));
        assert_eq!(negotiate(&["v2.channel.k8s.io".to_owned()]), None);
    }
}
