//! SPDY/3.1 frames and header blocks with absurd lengths are refused before
//! anything large is allocated.
//!
//! The frame decoder and header decompressor are crate-private in
//! `vk-kubelet-api` (`exec::spdy::{frame, compress}`), so their sources are
//! compiled here unchanged; `crate::Error` below is the real
//! `vk_kubelet_api::Error`. (Their own unit tests come along and run too.)

#[allow(unused_imports)]
use vk_kubelet_api::Error;

#[allow(dead_code, unreachable_pub, clippy::all, missing_docs)]
#[path = "../../vk-kubelet-api/src/exec/spdy/frame.rs"]
mod frame;

#[allow(dead_code, unreachable_pub, clippy::all, missing_docs)]
#[path = "../../vk-kubelet-api/src/exec/spdy/compress.rs"]
mod compress;

use bytes::BytesMut;
use compress::{HeaderCompressor, HeaderDecompressor, decode_headers};
use flate2::{Compress, Compression, FlushCompress};
use frame::{Frame, HEADER_LEN, MAX_FRAME_LEN};

fn spdy_err(r: Result<Option<Frame>, Error>) -> String {
    match r {
        Err(Error::Spdy(m)) => m,
        other => panic!("expected a SPDY error, got {other:?}"),
    }
}

#[test]
fn frame_length_limit_is_enforced_on_the_header_alone() {
    // Only the 8-byte header has arrived: a 16 MiB data frame is refused
    // before the decoder waits for (and buffers) its payload.
    for (first, label) in [
        (*b"\x00\x00\x00\x01", "data"),
        (*b"\x80\x03\x00\x01", "SYN_STREAM"),
        (*b"\x80\x03\x00\x04", "SETTINGS"),
        (*b"\x80\x03\x00\x08", "HEADERS"),
        (*b"\x80\x03\xff\xff", "unknown"),
    ] {
        let mut buf = BytesMut::from(&first[..]);
        buf.extend_from_slice(b"\x00\xff\xff\xff");
        let msg = spdy_err(Frame::decode(&mut buf));
        assert!(msg.contains("exceeds the limit"), "{label}: {msg}");
    }
    // Just over the limit.
    let len = u32::try_from(MAX_FRAME_LEN + 1).expect("fits");
    let mut buf = BytesMut::from(&b"\x00\x00\x00\x01"[..]);
    buf.extend_from_slice(&len.to_be_bytes());
    buf[4] = 0;
    spdy_err(Frame::decode(&mut buf));
}

#[test]
fn a_maximal_frame_is_accepted_and_partial_input_waits() {
    let mut buf = BytesMut::from(&b"\x00\x00\x00\x01\x00"[..]);
    let len = u32::try_from(MAX_FRAME_LEN).expect("fits");
    buf.extend_from_slice(&len.to_be_bytes()[1..]);
    assert_eq!(Frame::decode(&mut buf).expect("ok"), None);
    buf.resize(HEADER_LEN + MAX_FRAME_LEN, 0);
    match Frame::decode(&mut buf).expect("ok") {
        Some(Frame::Data { data, .. }) => assert_eq!(data.len(), MAX_FRAME_LEN),
        other => panic!("{other:?}"),
    }
}

#[test]
fn settings_with_an_absurd_count_allocate_nothing() {
    // count = 2^32-1 in a 12-byte frame: must not reserve 2^32 entries.
    let mut buf = BytesMut::from(
        &b"\x80\x03\x00\x04\x00\x00\x00\x0c\xff\xff\xff\xff\x00\x00\x00\x07\x00\x00\x00\x01"[..],
    );
    let msg = spdy_err(Frame::decode(&mut buf));
    assert!(msg.contains("entries"), "{msg}");
}

#[test]
fn header_block_with_absurd_counts_and_lengths() {
    // 2^32-1 headers claimed in a 4-byte block.
    assert!(decode_headers(b"\xff\xff\xff\xff").is_err());
    // One header whose name claims 4 GiB.
    assert!(decode_headers(b"\x00\x00\x00\x01\xff\xff\xff\xff\x00\x00\x00\x00").is_err());
    // A value that claims 4 GiB.
    assert!(decode_headers(b"\x00\x00\x00\x01\x00\x00\x00\x01a\xff\xff\xff\xffxx").is_err());
    // A count that fits the length but whose entries do not.
    assert!(decode_headers(&[0, 0, 0, 2, 0, 0, 0, 1, b'a', 0, 0, 0, 0]).is_err());
}

#[test]
fn decompression_bombs_are_cut_off() {
    // A header block that inflates to 64 MiB (count + one huge value) is
    // refused once it passes the 256 KiB block limit.
    let mut raw = Vec::new();
    raw.extend_from_slice(&1u32.to_be_bytes());
    raw.extend_from_slice(&1u32.to_be_bytes());
    raw.push(b'a');
    let huge = 64usize << 20;
    raw.extend_from_slice(&u32::try_from(huge).expect("fits").to_be_bytes());
    raw.resize(raw.len() + huge, b'z');
    let mut zlib = Compress::new(Compression::best(), true);
    zlib.set_dictionary(&compress::DICTIONARY).expect("dict");
    let mut block = Vec::with_capacity(1 << 20);
    let mut consumed = 0;
    while consumed < raw.len() {
        let before = zlib.total_in();
        block.reserve(1 << 16);
        zlib.compress_vec(&raw[consumed..], &mut block, FlushCompress::None)
            .expect("compress");
        consumed += usize::try_from(zlib.total_in() - before).expect("fits");
    }
    block.reserve(1 << 16);
    zlib.compress_vec(&[], &mut block, FlushCompress::Sync)
        .expect("flush");
    assert!(
        block.len() < MAX_FRAME_LEN,
        "the bomb fits one frame: {}",
        block.len()
    );
    let mut rx = HeaderDecompressor::new();
    match rx.decompress(&block) {
        Err(Error::Spdy(m)) => assert!(m.contains("too large"), "{m}"),
        other => panic!("bomb accepted: {other:?}"),
    }
}

#[test]
fn header_blocks_round_trip_at_the_limit() {
    let value = "v".repeat(200 * 1024);
    let headers = vec![
        ("streamtype".to_owned(), "stdout".to_owned()),
        ("x-big".to_owned(), value),
    ];
    let mut tx = HeaderCompressor::new().expect("compressor");
    let mut rx = HeaderDecompressor::new();
    let block = tx.compress(&headers).expect("compress");
    assert_eq!(rx.decompress(&block).expect("decompress"), headers);
}
