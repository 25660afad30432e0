//! SPDY/3.1 frames and header blocks with absurd lengths are refused before
//! anything large is allocated.
//!
//! The frame decoder and header codec are crate-private in `vk-kubelet-api`
//! (`exec::spdy::{frame, compress}`); these tests reach them through its
//! hidden `fuzzing` module, the same entry points the `spdy_frames` fuzz
//! target uses.

use flate2::{Compress, Compression, FlushCompress};
use vk_kubelet_api::Error;
use vk_kubelet_api::fuzzing::{
    SPDY_HEADER_LEN, SPDY_MAX_FRAME_LEN, SpdyStream, spdy_compress_headers, spdy_decode_headers,
    spdy_decompress_headers, spdy_dictionary, spdy_stream,
};

fn spdy_err(r: Result<SpdyStream, Error>) -> String {
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
        let header = [&first[..], b"\x00\xff\xff\xff"].concat();
        let msg = spdy_err(spdy_stream(&header, 0));
        assert!(msg.contains("exceeds the limit"), "{label}: {msg}");
    }
    // Just over the limit.
    let len = u32::try_from(SPDY_MAX_FRAME_LEN + 1).expect("fits");
    let mut header = b"\x00\x00\x00\x01".to_vec();
    header.extend_from_slice(&len.to_be_bytes());
    header[4] = 0;
    spdy_err(spdy_stream(&header, 0));
}

#[test]
fn a_maximal_frame_is_accepted_and_partial_input_waits() {
    let mut wire = b"\x00\x00\x00\x01\x00".to_vec();
    let len = u32::try_from(SPDY_MAX_FRAME_LEN).expect("fits");
    wire.extend_from_slice(&len.to_be_bytes()[1..]);
    let waiting = spdy_stream(&wire, 0).expect("ok");
    assert_eq!((waiting.frames, waiting.buffered), (0, SPDY_HEADER_LEN));
    wire.resize(SPDY_HEADER_LEN + SPDY_MAX_FRAME_LEN, 0);
    let done = spdy_stream(&wire, 64 * 1024).expect("ok");
    assert_eq!(
        (done.frames, done.data_bytes, done.buffered),
        (1, SPDY_MAX_FRAME_LEN, 0)
    );
}

#[test]
fn settings_with_an_absurd_count_allocate_nothing() {
    // count = 2^32-1 in a 12-byte frame: must not reserve 2^32 entries.
    let wire = b"\x80\x03\x00\x04\x00\x00\x00\x0c\xff\xff\xff\xff\x00\x00\x00\x07\x00\x00\x00\x01";
    let msg = spdy_err(spdy_stream(wire, 0));
    assert!(msg.contains("entries"), "{msg}");
}

#[test]
fn header_block_with_absurd_counts_and_lengths() {
    // 2^32-1 headers claimed in a 4-byte block.
    assert!(spdy_decode_headers(b"\xff\xff\xff\xff").is_err());
    // One header whose name claims 4 GiB.
    assert!(spdy_decode_headers(b"\x00\x00\x00\x01\xff\xff\xff\xff\x00\x00\x00\x00").is_err());
    // A value that claims 4 GiB.
    assert!(spdy_decode_headers(b"\x00\x00\x00\x01\x00\x00\x00\x01a\xff\xff\xff\xffxx").is_err());
    // A count that fits the length but whose entries do not.
    assert!(spdy_decode_headers(&[0, 0, 0, 2, 0, 0, 0, 1, b'a', 0, 0, 0, 0]).is_err());
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
    zlib.set_dictionary(spdy_dictionary()).expect("dict");
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
        block.len() < SPDY_MAX_FRAME_LEN,
        "the bomb fits one frame: {}",
        block.len()
    );
    match spdy_decompress_headers(&[&block]) {
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
    let blocks = spdy_compress_headers(std::slice::from_ref(&headers)).expect("compress");
    let blocks: Vec<&[u8]> = blocks.iter().map(Vec::as_slice).collect();
    assert_eq!(
        spdy_decompress_headers(&blocks).expect("decompress"),
        [headers]
    );
}

/// Found while moving the fuzz target to the hidden `fuzzing` API (libFuzzer's
/// 4 KiB inputs cannot reach it): the decompressor sized its first output
/// buffer at four times the compressed block and only checked the 256 KiB
/// limit before decompressing more, so an incompressible block inflating to
/// 400 KiB in one pass was accepted.
#[test]
fn incompressible_header_blocks_over_the_limit_are_refused() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let value: String = (0..400 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'!' + u8::try_from(x % 94).expect("fits"))
        })
        .collect();
    let headers = vec![("x-big".to_owned(), value)];
    let blocks = spdy_compress_headers(std::slice::from_ref(&headers)).expect("compress");
    assert!(blocks[0].len() < SPDY_MAX_FRAME_LEN, "fits one frame");
    match spdy_decompress_headers(&[&blocks[0]]) {
        Err(Error::Spdy(m)) => assert!(m.contains("too large"), "{m}"),
        Ok(h) => panic!("accepted a {} byte header value", h[0][0].1.len()),
        Err(other) => panic!("{other:?}"),
    }
}
