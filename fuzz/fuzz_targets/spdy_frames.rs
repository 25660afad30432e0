//! The SPDY/3.1 frame decoder and the header-block decompressor of
//! `vk-kubelet-api` on arbitrary bytes, as one connection would see them.
//!
//! Both are crate-private (`vk_kubelet_api::exec::spdy::{frame, compress}`),
//! so their source files are compiled here unchanged with `#[path]`; their
//! `crate::Error` resolves to the real `vk_kubelet_api::Error`. Invariants:
//! no panic; frames longer than the decoder's limit are refused before any
//! payload is buffered; every decoded frame re-encodes to bytes that decode to
//! the same frame; decompressed header blocks stay under the block limit.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
#[allow(unused_imports)]
use vk_kubelet_api::Error;

#[allow(dead_code, unreachable_pub, clippy::all)]
#[path = "../../crates/vk-kubelet-api/src/exec/spdy/frame.rs"]
mod frame;

#[allow(dead_code, unreachable_pub, clippy::all)]
#[path = "../../crates/vk-kubelet-api/src/exec/spdy/compress.rs"]
mod compress;

use compress::HeaderDecompressor;
use frame::Frame;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        // Raw header blocks: a sequence of blocks on one zlib stream, each
        // prefixed by a one-byte length; and the uncompressed parser alone.
        let _ = compress::decode_headers(rest);
        let mut rx = HeaderDecompressor::new();
        let mut input = rest;
        while let Some((&n, tail)) = input.split_first() {
            let n = usize::from(n).min(tail.len());
            let (block, tail) = tail.split_at(n);
            if rx.decompress(block).is_err() {
                break;
            }
            input = tail;
        }
        return;
    }
    // A byte stream, delivered in chunks whose size the mode byte chooses.
    let chunk = usize::from(mode >> 1).max(1) * 7;
    let mut buf = BytesMut::new();
    let mut headers = HeaderDecompressor::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match Frame::decode(&mut buf) {
                Ok(Some(frame)) => {
                    let mut encoded = BytesMut::new();
                    frame.encode(&mut encoded).expect("a decoded frame encodes");
                    let again = Frame::decode(&mut encoded)
                        .expect("re-encoded frame decodes")
                        .expect("re-encoded frame is complete");
                    assert_eq!(again, frame);
                    assert!(encoded.is_empty());
                    let block = match &frame {
                        Frame::SynStream { header_block, .. }
                        | Frame::SynReply { header_block, .. }
                        | Frame::Headers { header_block, .. } => Some(header_block.clone()),
                        _ => None,
                    };
                    if let Some(block) = block
                        && headers.decompress(&block).is_err()
                    {
                        return;
                    }
                }
                Ok(None) => {
                    // Unknown control frames are consumed and reported as None.
                    if buf.len() == before {
                        // Never buffer more than one maximal frame plus header.
                        assert!(buf.len() <= frame::MAX_FRAME_LEN + frame::HEADER_LEN);
                        break;
                    }
                }
                Err(_) => return,
            }
        }
    }
});
