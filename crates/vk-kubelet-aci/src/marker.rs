//! Finding vk's markers in the merged output of an exec terminal.
//!
//! A marker is `__VK_<nonce>_<TAG>__` or `__VK_<nonce>_<TAG>_<value>__`: the
//! nonce is 16 lowercase hex digits, the tag one uppercase letter, the value
//! an optional `-` and 1 to 11 digits. The shell prints markers with `printf
//! '__VK_%s_…'` (`echo __VK_<nonce>^_…` on Windows), so the echo of the typed
//! command line never contains one: only what the shell *prints* does.
//!
//! A marker takes the line end right after it (`\n` or `\r\n`) with it: the
//! shell prints each marker on a line of its own.
//!
//! [`Scanner`] is fed the output in whatever pieces it arrives and returns the
//! text around the markers and the markers themselves; a piece ending inside
//! something that may still become a marker is held back (at most
//! [`MAX_MARKER`] bytes) until the next piece or [`Scanner::finish`].

/// The longest marker.
pub(crate) const MAX_MARKER: usize = 5 + 16 + 1 + 1 + 1 + 12 + 2 + 2;

/// What the output holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// Output that is no marker.
    Text(Vec<u8>),
    /// A marker: its tag and value.
    Marker(u8, Option<i64>),
}

/// Splits output into text and markers; see the module documentation.
#[derive(Debug)]
pub(crate) struct Scanner {
    prefix: Vec<u8>,
    held: Vec<u8>,
}

enum Parse {
    /// A marker of this length.
    Marker(usize, u8, Option<i64>),
    /// Not a marker.
    No,
    /// Cannot tell yet.
    More,
}

impl Scanner {
    pub(crate) fn new(nonce: &str) -> Self {
        Self {
            prefix: format!("__VK_{nonce}_").into_bytes(),
            held: Vec::new(),
        }
    }

    /// Parses a marker starting at `buf[0]`; `eof`: nothing follows `buf`.
    fn parse(&self, buf: &[u8], eof: bool) -> Parse {
        match self.parse_marker(buf) {
            Parse::Marker(len, tag, value) => match &buf[len..] {
                [b'\n', ..] => Parse::Marker(len + 1, tag, value),
                [b'\r', b'\n', ..] => Parse::Marker(len + 2, tag, value),
                [] | [b'\r'] if !eof => Parse::More,
                _ => Parse::Marker(len, tag, value),
            },
            Parse::More if eof => Parse::No,
            other => other,
        }
    }

    fn parse_marker(&self, buf: &[u8]) -> Parse {
        let p = self.prefix.len();
        let n = buf.len().min(p);
        if buf[..n] != self.prefix[..n] {
            return Parse::No;
        }
        if buf.len() <= p {
            return Parse::More;
        }
        let tag = buf[p];
        if !tag.is_ascii_uppercase() {
            return Parse::No;
        }
        let rest = &buf[p + 1..];
        // `__` ends a marker without value; `_<digits>__` one with.
        match rest {
            [] | [b'_'] => return Parse::More,
            [b'_', b'_', ..] => return Parse::Marker(p + 3, tag, None),
            [b'_', ..] => {}
            _ => return Parse::No,
        }
        let digits = &rest[1..];
        let mut len = 0;
        for (i, &b) in digits.iter().enumerate() {
            if b.is_ascii_digit() || (i == 0 && b == b'-') {
                len += 1;
                if len > 12 {
                    return Parse::No;
                }
                continue;
            }
            if b != b'_' || len == 0 || (len == 1 && digits[0] == b'-') {
                return Parse::No;
            }
            return match digits.get(i + 1) {
                None => Parse::More,
                Some(b'_') => {
                    let value = std::str::from_utf8(&digits[..len])
                        .ok()
                        .and_then(|s| s.parse().ok());
                    match value {
                        Some(v) => Parse::Marker(p + 1 + 1 + len + 2, tag, Some(v)),
                        None => Parse::No,
                    }
                }
                Some(_) => Parse::No,
            };
        }
        Parse::More
    }

    /// Feeds output; returns what is decided.
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<Event> {
        self.held.extend_from_slice(data);
        self.scan(false)
    }

    fn scan(&mut self, eof: bool) -> Vec<Event> {
        let buf = std::mem::take(&mut self.held);
        let mut events = Vec::new();
        let mut text = Vec::new();
        let mut i = 0;
        while i < buf.len() {
            if buf[i] != b'_' {
                text.push(buf[i]);
                i += 1;
                continue;
            }
            match self.parse(&buf[i..], eof) {
                Parse::No => {
                    text.push(buf[i]);
                    i += 1;
                }
                Parse::More => {
                    self.held = buf[i..].to_vec();
                    break;
                }
                Parse::Marker(len, tag, value) => {
                    if !text.is_empty() {
                        events.push(Event::Text(std::mem::take(&mut text)));
                    }
                    events.push(Event::Marker(tag, value));
                    i += len;
                }
            }
        }
        if !text.is_empty() {
            events.push(Event::Text(text));
        }
        debug_assert!(self.held.len() <= MAX_MARKER);
        events
    }

    /// The output ended: decides what was held back.
    pub(crate) fn finish(&mut self) -> Vec<Event> {
        let mut events = self.scan(true);
        let held = std::mem::take(&mut self.held);
        if !held.is_empty() {
            events.push(Event::Text(held));
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NONCE: &str = "0123456789abcdef";

    fn collect(events: Vec<Event>) -> (Vec<u8>, Vec<(u8, Option<i64>)>) {
        let mut text = Vec::new();
        let mut markers = Vec::new();
        for e in events {
            match e {
                Event::Text(t) => text.extend(t),
                Event::Marker(t, v) => markers.push((t, v)),
            }
        }
        (text, markers)
    }

    #[test]
    fn finds_markers_and_ignores_the_echo() {
        let mut s = Scanner::new(NONCE);
        let out = format!(
            "printf '__VK_%s_B__\\n' {NONCE}\r\n__VK_{NONCE}_B__\nhello__VK_{NONCE}_E_-3__\n\
             echo __VK_{NONCE}^_B__ call echo __VK_{NONCE}_E_%^errorlevel%__ __VK_{NONCE}_x__"
        );
        let mut events = s.push(out.as_bytes());
        events.extend(s.finish());
        let (text, markers) = collect(events);
        assert_eq!(markers, [(b'B', None), (b'E', Some(-3))]);
        let text = String::from_utf8(text).unwrap_or_default();
        assert!(text.starts_with("printf '__VK_%s_B__\\n'"), "{text}");
        assert!(text.contains("\r\nhello"), "{text}");
        assert!(
            !text.contains("hello\n"),
            "the marker takes its line end: {text}"
        );
        assert!(
            text.ends_with(&format!("%^errorlevel%__ __VK_{NONCE}_x__")),
            "{text}"
        );
    }

    #[test]
    fn wrong_nonces_and_malformed_values_are_text() {
        let mut s = Scanner::new(NONCE);
        let other = "__VK_fedcba9876543210_E_1__ __VK_0123456789abcdef_E_1x__ __VK_0123456789abcdef_E_-__ __VK_0123456789abcdef_e__";
        let mut events = s.push(other.as_bytes());
        events.extend(s.finish());
        let (text, markers) = collect(events);
        assert!(markers.is_empty(), "{markers:?}");
        assert_eq!(text, other.as_bytes());
    }

    proptest! {
        /// However the output is cut into pieces, the same text and markers come out.
        #[test]
        fn pieces_do_not_matter(
            before in proptest::collection::vec(any::<u8>(), 0..64),
            after in proptest::collection::vec(any::<u8>(), 0..64),
            code in -300i64..300,
            cuts in proptest::collection::vec(0usize..200, 0..8),
        ) {
            let marker = format!("__VK_{NONCE}_E_{code}__");
            let mut all = before.clone();
            all.extend_from_slice(marker.as_bytes());
            all.extend_from_slice(&after);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(all.len())).collect();
            cuts.sort_unstable();
            let mut s = Scanner::new(NONCE);
            let mut events = Vec::new();
            let mut last = 0;
            for c in cuts.into_iter().chain([all.len()]) {
                events.extend(s.push(&all[last..c]));
                last = c;
            }
            events.extend(s.finish());
            let (text, markers) = collect(events);
            // Random bytes cannot form a marker with this nonce by chance
            // (they would need the 22-byte prefix).
            prop_assert_eq!(markers, vec![(b'E', Some(code))]);
            let mut expected = before;
            let after = after
                .strip_prefix(b"\r\n")
                .or_else(|| after.strip_prefix(b"\n"))
                .unwrap_or(&after);
            expected.extend_from_slice(after);
            prop_assert_eq!(text, expected);
        }
    }
}
