//! SPDY/3 header blocks: the name/value encoding and its zlib compression with the SPDY/3
//! preset dictionary (§2.6.10).
//!
//! Each direction of a connection has one zlib stream shared by all header blocks; every block
//! ends with a sync flush, so it can be decoded as soon as it arrives. The dictionary is the one
//! from the SPDY/3 draft (1423 bytes, Adler-32 `0xe3c6a7c2`), byte-identical to
//! moby/spdystream's, which is what kubectl and the kubelet use.

use std::sync::LazyLock;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::Error;

/// Largest decompressed header block accepted.
pub(crate) const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// Length-prefixed words at the start of the dictionary.
const WORDS: &[&str] = &[
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// Raw text ending the dictionary.
const TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/// The SPDY/3 header compression dictionary.
pub(crate) static DICTIONARY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut dict = Vec::with_capacity(1423);
    for word in WORDS {
        dict.extend_from_slice(&(word.len() as u32).to_be_bytes());
        dict.extend_from_slice(word.as_bytes());
    }
    dict.extend_from_slice(TAIL.as_bytes());
    dict
});

/// Header names and values. Names are lowercase; a value may hold several NUL-separated values.
pub(crate) type HeaderList = Vec<(String, String)>;

fn bad(message: impl Into<String>) -> Error {
    Error::Spdy(message.into())
}

/// Serializes a header list (uncompressed).
pub(crate) fn encode_headers(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (name, value) in headers {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.to_ascii_lowercase().as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Parses an uncompressed header block.
pub(crate) fn decode_headers(block: &[u8]) -> Result<HeaderList, Error> {
    let mut rest = block;
    let mut take = |n: usize| -> Result<&[u8], Error> {
        if rest.len() < n {
            return Err(bad("truncated header block"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let read_u32 = |bytes: &[u8]| u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let count = read_u32(take(4)?) as usize;
    if count > block.len() / 8 {
        return Err(bad(format!("header block claims {count} headers")));
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let len = read_u32(take(4)?) as usize;
        let name = std::str::from_utf8(take(len)?)
            .map_err(|_| bad("header name is not UTF-8"))?
            .to_owned();
        if name.is_empty() {
            return Err(bad("empty header name"));
        }
        let len = read_u32(take(4)?) as usize;
        let value = String::from_utf8_lossy(take(len)?).into_owned();
        headers.push((name, value));
    }
    Ok(headers)
}

/// Compresses header blocks of one direction of a connection.
pub(crate) struct HeaderCompressor {
    zlib: Compress,
}

impl std::fmt::Debug for HeaderCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderCompressor").finish_non_exhaustive()
    }
}

impl HeaderCompressor {
    /// A compressor primed with the SPDY/3 dictionary.
    pub(crate) fn new() -> Result<Self, Error> {
        let mut zlib = Compress::new(Compression::default(), true);
        zlib.set_dictionary(&DICTIONARY)
            .map_err(|e| bad(format!("zlib dictionary: {e}")))?;
        Ok(Self { zlib })
    }

    /// Encodes and compresses `headers`, ending with a sync flush.
    pub(crate) fn compress(&mut self, headers: &[(String, String)]) -> Result<Vec<u8>, Error> {
        let input = encode_headers(headers);
        let mut out = Vec::with_capacity(input.len() + 64);
        let mut consumed = 0usize;
        loop {
            out.reserve(256);
            let before_in = self.zlib.total_in();
            self.zlib
                .compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| bad(format!("zlib compress: {e}")))?;
            consumed += (self.zlib.total_in() - before_in) as usize;
            // A sync flush is complete when it left spare output room.
            if consumed == input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

/// Decompresses header blocks of one direction of a connection.
pub(crate) struct HeaderDecompressor {
    zlib: Decompress,
}

impl std::fmt::Debug for HeaderDecompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderDecompressor").finish_non_exhaustive()
    }
}

impl Default for HeaderDecompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderDecompressor {
    /// A decompressor that supplies the SPDY/3 dictionary when the stream asks for it.
    pub(crate) fn new() -> Self {
        Self {
            zlib: Decompress::new(true),
        }
    }

    /// Decompresses and parses one header block.
    pub(crate) fn decompress(&mut self, block: &[u8]) -> Result<HeaderList, Error> {
        // Room for the limit and one byte more, at most: a pass fills the spare capacity.
        let mut out: Vec<u8> = Vec::with_capacity((block.len() * 4 + 64).min(MAX_HEADER_BLOCK + 1));
        let mut consumed = 0usize;
        loop {
            if out.len() > MAX_HEADER_BLOCK {
                return Err(bad("header block too large"));
            }
            out.reserve(1024);
            let before_in = self.zlib.total_in();
            let before_out = self.zlib.total_out();
            let result =
                self.zlib
                    .decompress_vec(&block[consumed..], &mut out, FlushDecompress::Sync);
            consumed += (self.zlib.total_in() - before_in) as usize;
            let progressed =
                self.zlib.total_in() != before_in || self.zlib.total_out() != before_out;
            match result {
                Ok(Status::StreamEnd) => return Err(bad("header zlib stream ended")),
                Ok(Status::Ok | Status::BufError) => {}
                Err(e) => {
                    if e.needs_dictionary().is_some() {
                        self.zlib
                            .set_dictionary(&DICTIONARY)
                            .map_err(|e| bad(format!("zlib dictionary: {e}")))?;
                        continue;
                    }
                    return Err(bad(format!("header decompression: {e}")));
                }
            }
            if consumed >= block.len() && out.len() < out.capacity() {
                break;
            }
            if !progressed {
                return Err(bad("truncated header block"));
            }
        }
        // The last pass may have gone past the limit (the check above runs before each pass).
        if out.len() > MAX_HEADER_BLOCK {
            return Err(bad("header block too large"));
        }
        decode_headers(&out)
    }
}

/// The first value of header `name` (case-insensitive).
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.split('\0').next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderList {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn dictionary_is_the_spdy3_one() {
        assert_eq!(DICTIONARY.len(), 1423);
        assert!(DICTIONARY.starts_with(b"\x00\x00\x00\x07options\x00\x00\x00\x04head"));
        assert!(DICTIONARY.ends_with(b"utf-,*,enq=0."));
        // Adler-32 of the dictionary, as carried in the zlib header (DICTID).
        let mut c = Compress::new(Compression::default(), true);
        assert_eq!(c.set_dictionary(&DICTIONARY).unwrap(), 0xe3c6_a7c2);
    }

    #[test]
    fn blocks_round_trip_across_one_stream() {
        let mut tx = HeaderCompressor::new().unwrap();
        let mut rx = HeaderDecompressor::new();
        for headers in [
            h(&[("streamtype", "error")]),
            h(&[("streamtype", "stdout"), ("x-extra", "a\0b")]),
            h(&[]),
            h(&[("streamtype", "stdin")]),
        ] {
            let block = tx.compress(&headers).unwrap();
            assert_eq!(rx.decompress(&block).unwrap(), headers);
        }
    }

    #[test]
    fn first_block_carries_the_dictionary_id() {
        let mut tx = HeaderCompressor::new().unwrap();
        let block = tx.compress(&h(&[("streamtype", "error")])).unwrap();
        assert_eq!(block[1] & 0x20, 0x20, "FDICT set");
        assert_eq!(&block[2..6], &0xe3c6_a7c2_u32.to_be_bytes());
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        let mut rx = HeaderDecompressor::new();
        assert!(rx.decompress(b"not zlib at all").is_err());
        let mut tx = HeaderCompressor::new().unwrap();
        let block = tx.compress(&h(&[("streamtype", "stdout")])).unwrap();
        let mut rx = HeaderDecompressor::new();
        assert!(rx.decompress(&block[..block.len() / 2]).is_err());
        assert!(decode_headers(b"\x00\x00\x00\x01\x00\x00\x00\x09ab").is_err());
        assert!(decode_headers(b"\xff\xff\xff\xff").is_err());
    }

    proptest! {
        #[test]
        fn random_headers_round_trip(pairs in proptest::collection::vec(("[a-z][a-z0-9-]{0,20}", "[ -~]{0,40}"), 0..10)) {
            let headers: HeaderList = pairs;
            let mut tx = HeaderCompressor::new().unwrap();
            let mut rx = HeaderDecompressor::new();
            for _ in 0..3 {
                let block = tx.compress(&headers).unwrap();
                prop_assert_eq!(rx.decompress(&block).unwrap(), headers.clone());
            }
        }

        #[test]
        fn random_blocks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut rx = HeaderDecompressor::new();
            let _ = rx.decompress(&bytes);
            let _ = decode_headers(&bytes);
        }
    }
}
