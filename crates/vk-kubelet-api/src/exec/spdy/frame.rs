//! SPDY/3.1 frame encoding and decoding (draft-mbelshe-httpbis-spdy-00 §2.2, §2.6).
//!
//! Every frame has an 8-byte header. Control frames: `1 | version(15) | type(16) | flags(8) |
//! length(24)`; data frames: `0 | stream-id(31) | flags(8) | length(24)`. Header blocks of
//! SYN_STREAM, SYN_REPLY and HEADERS are compressed by [`super::compress`]; this module only
//! sees their compressed bytes.

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};

use crate::Error;

/// The protocol version this module speaks.
pub(crate) const VERSION: u16 = 3;
/// FLAG_FIN: the sender's last frame on the stream.
pub(crate) const FLAG_FIN: u8 = 0x01;
/// Largest frame payload this implementation accepts (the wire allows 2^24 - 1).
pub(crate) const MAX_FRAME_LEN: usize = 1 << 20;
/// Size of a frame header.
pub(crate) const HEADER_LEN: usize = 8;

/// SETTINGS id of the initial per-stream window size.
pub(crate) const SETTINGS_INITIAL_WINDOW_SIZE: u32 = 7;

/// RST_STREAM status codes used here.
pub(crate) mod rst {
    /// REFUSED_STREAM.
    pub(crate) const REFUSED_STREAM: u32 = 3;
    /// CANCEL.
    #[cfg(test)]
    pub(crate) const CANCEL: u32 = 5;
}

/// GOAWAY status codes.
pub(crate) mod goaway {
    /// OK.
    #[cfg(test)]
    pub(crate) const OK: u32 = 0;
    /// PROTOCOL_ERROR.
    pub(crate) const PROTOCOL_ERROR: u32 = 1;
}

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// One SPDY frame; header blocks are still compressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// Opens a stream.
    SynStream {
        /// Stream id (odd from clients).
        stream_id: u32,
        /// Associated stream (server push), 0 if none.
        associated_to: u32,
        /// Priority 0 (highest) to 7.
        priority: u8,
        /// Flags (FIN, UNIDIRECTIONAL).
        flags: u8,
        /// Compressed header block.
        header_block: Bytes,
    },
    /// Accepts a stream.
    SynReply {
        /// Stream id.
        stream_id: u32,
        /// Flags (FIN).
        flags: u8,
        /// Compressed header block.
        header_block: Bytes,
    },
    /// Aborts a stream.
    RstStream {
        /// Stream id.
        stream_id: u32,
        /// Status code.
        status: u32,
    },
    /// Connection settings: (flags, id, value).
    Settings {
        /// Frame flags.
        flags: u8,
        /// Entries.
        entries: Vec<(u8, u32, u32)>,
    },
    /// Liveness check, echoed by the receiver.
    Ping {
        /// Opaque id.
        id: u32,
    },
    /// The sender stops creating streams.
    GoAway {
        /// Last stream id the sender processed.
        last_good_stream_id: u32,
        /// Status.
        status: u32,
    },
    /// More headers for a stream.
    Headers {
        /// Stream id.
        stream_id: u32,
        /// Flags (FIN).
        flags: u8,
        /// Compressed header block.
        header_block: Bytes,
    },
    /// Flow control: the receiver may send `delta` more bytes (stream 0: the whole session).
    WindowUpdate {
        /// Stream id, 0 for the session window.
        stream_id: u32,
        /// Window increase, 1..=2^31-1.
        delta: u32,
    },
    /// Stream payload.
    Data {
        /// Stream id.
        stream_id: u32,
        /// Flags (FIN).
        flags: u8,
        /// Payload.
        data: Bytes,
    },
}

fn bad(message: impl Into<String>) -> Error {
    Error::Spdy(message.into())
}

impl Frame {
    /// Appends the encoded frame to `out`.
    pub(crate) fn encode(&self, out: &mut BytesMut) -> Result<(), Error> {
        let control = |out: &mut BytesMut, kind: u16, flags: u8, len: usize| {
            if len > 0x00FF_FFFF {
                return Err(bad(format!("frame payload of {len} bytes is too large")));
            }
            out.put_u16(0x8000 | VERSION);
            out.put_u16(kind);
            out.put_u32((u32::from(flags) << 24) | len as u32);
            Ok(())
        };
        match self {
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                flags,
                header_block,
            } => {
                control(out, SYN_STREAM, *flags, 10 + header_block.len())?;
                out.put_u32(stream_id & 0x7FFF_FFFF);
                out.put_u32(associated_to & 0x7FFF_FFFF);
                out.put_u8((priority & 0x07) << 5);
                out.put_u8(0); // slot
                out.put_slice(header_block);
            }
            Frame::SynReply {
                stream_id,
                flags,
                header_block,
            } => {
                control(out, SYN_REPLY, *flags, 4 + header_block.len())?;
                out.put_u32(stream_id & 0x7FFF_FFFF);
                out.put_slice(header_block);
            }
            Frame::RstStream { stream_id, status } => {
                control(out, RST_STREAM, 0, 8)?;
                out.put_u32(stream_id & 0x7FFF_FFFF);
                out.put_u32(*status);
            }
            Frame::Settings { flags, entries } => {
                control(out, SETTINGS, *flags, 4 + 8 * entries.len())?;
                out.put_u32(entries.len() as u32);
                for (flags, id, value) in entries {
                    out.put_u32((u32::from(*flags) << 24) | (id & 0x00FF_FFFF));
                    out.put_u32(*value);
                }
            }
            Frame::Ping { id } => {
                control(out, PING, 0, 4)?;
                out.put_u32(*id);
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                control(out, GOAWAY, 0, 8)?;
                out.put_u32(last_good_stream_id & 0x7FFF_FFFF);
                out.put_u32(*status);
            }
            Frame::Headers {
                stream_id,
                flags,
                header_block,
            } => {
                control(out, HEADERS, *flags, 4 + header_block.len())?;
                out.put_u32(stream_id & 0x7FFF_FFFF);
                out.put_slice(header_block);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                control(out, WINDOW_UPDATE, 0, 8)?;
                out.put_u32(stream_id & 0x7FFF_FFFF);
                out.put_u32(delta & 0x7FFF_FFFF);
            }
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                if data.len() > 0x00FF_FFFF {
                    return Err(bad("data frame too large"));
                }
                out.put_u32(stream_id & 0x7FFF_FFFF);
                out.put_u32((u32::from(*flags) << 24) | data.len() as u32);
                out.put_slice(data);
            }
        }
        Ok(())
    }

    /// Decodes one frame from the front of `buf`: `Ok(None)` when more bytes are needed.
    /// Unknown control frame types are skipped (as the spec requires) and reported as `None`
    /// with the bytes consumed; check `buf` again.
    pub(crate) fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        loop {
            if buf.len() < HEADER_LEN {
                return Ok(None);
            }
            let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let flags = buf[4];
            let len = (u32::from_be_bytes([0, buf[5], buf[6], buf[7]])) as usize;
            if len > MAX_FRAME_LEN {
                return Err(bad(format!("frame of {len} bytes exceeds the limit")));
            }
            if buf.len() < HEADER_LEN + len {
                return Ok(None);
            }
            buf.advance(HEADER_LEN);
            let mut payload = buf.split_to(len).freeze();
            if first & 0x8000_0000 == 0 {
                return Ok(Some(Frame::Data {
                    stream_id: first & 0x7FFF_FFFF,
                    flags,
                    data: payload,
                }));
            }
            let version = ((first >> 16) & 0x7FFF) as u16;
            if version != VERSION {
                return Err(bad(format!("unsupported SPDY version {version}")));
            }
            let kind = (first & 0xFFFF) as u16;
            let need = |n: usize| {
                if len < n {
                    Err(bad(format!(
                        "control frame type {kind} too short ({len} bytes)"
                    )))
                } else {
                    Ok(())
                }
            };
            let exact = |n: usize| {
                if len != n {
                    Err(bad(format!(
                        "control frame type {kind} has length {len}, expected {n}"
                    )))
                } else {
                    Ok(())
                }
            };
            let frame = match kind {
                SYN_STREAM => {
                    need(10)?;
                    let stream_id = payload.get_u32() & 0x7FFF_FFFF;
                    let associated_to = payload.get_u32() & 0x7FFF_FFFF;
                    let priority = payload.get_u8() >> 5;
                    let _slot = payload.get_u8();
                    Frame::SynStream {
                        stream_id,
                        associated_to,
                        priority,
                        flags,
                        header_block: payload,
                    }
                }
                SYN_REPLY => {
                    need(4)?;
                    Frame::SynReply {
                        stream_id: payload.get_u32() & 0x7FFF_FFFF,
                        flags,
                        header_block: payload,
                    }
                }
                RST_STREAM => {
                    exact(8)?;
                    Frame::RstStream {
                        stream_id: payload.get_u32() & 0x7FFF_FFFF,
                        status: payload.get_u32(),
                    }
                }
                SETTINGS => {
                    need(4)?;
                    let count = payload.get_u32() as usize;
                    if count.checked_mul(8) != Some(len - 4) {
                        return Err(bad(format!(
                            "SETTINGS with {count} entries has length {len}"
                        )));
                    }
                    let mut entries = Vec::with_capacity(count);
                    for _ in 0..count {
                        let word = payload.get_u32();
                        let value = payload.get_u32();
                        entries.push(((word >> 24) as u8, word & 0x00FF_FFFF, value));
                    }
                    Frame::Settings { flags, entries }
                }
                PING => {
                    exact(4)?;
                    Frame::Ping {
                        id: payload.get_u32(),
                    }
                }
                GOAWAY => {
                    exact(8)?;
                    Frame::GoAway {
                        last_good_stream_id: payload.get_u32() & 0x7FFF_FFFF,
                        status: payload.get_u32(),
                    }
                }
                HEADERS => {
                    need(4)?;
                    Frame::Headers {
                        stream_id: payload.get_u32() & 0x7FFF_FFFF,
                        flags,
                        header_block: payload,
                    }
                }
                WINDOW_UPDATE => {
                    exact(8)?;
                    let stream_id = payload.get_u32() & 0x7FFF_FFFF;
                    let delta = payload.get_u32() & 0x7FFF_FFFF;
                    if delta == 0 {
                        return Err(bad("WINDOW_UPDATE with a zero delta"));
                    }
                    Frame::WindowUpdate { stream_id, delta }
                }
                _ => continue, // unknown control frames are ignored
            };
            return Ok(Some(frame));
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn round_trip(frame: Frame) {
        let mut buf = BytesMut::new();
        frame.encode(&mut buf).unwrap();
        let decoded = Frame::decode(&mut buf).unwrap().unwrap();
        assert_eq!(decoded, frame);
        assert!(buf.is_empty());
    }

    #[test]
    fn every_frame_type_round_trips() {
        let block = Bytes::from_static(b"\x78\xbb compressed");
        round_trip(Frame::SynStream {
            stream_id: 1,
            associated_to: 0,
            priority: 3,
            flags: FLAG_FIN,
            header_block: block.clone(),
        });
        round_trip(Frame::SynReply {
            stream_id: 1,
            flags: 0,
            header_block: block.clone(),
        });
        round_trip(Frame::RstStream {
            stream_id: 3,
            status: rst::CANCEL,
        });
        round_trip(Frame::Settings {
            flags: 0,
            entries: vec![(0, SETTINGS_INITIAL_WINDOW_SIZE, 65536), (1, 4, 100)],
        });
        round_trip(Frame::Ping { id: 7 });
        round_trip(Frame::GoAway {
            last_good_stream_id: 9,
            status: goaway::OK,
        });
        round_trip(Frame::Headers {
            stream_id: 5,
            flags: FLAG_FIN,
            header_block: block,
        });
        round_trip(Frame::WindowUpdate {
            stream_id: 0,
            delta: 1000,
        });
        round_trip(Frame::Data {
            stream_id: 5,
            flags: FLAG_FIN,
            data: Bytes::from_static(b"hello"),
        });
    }

    #[test]
    fn known_wire_bytes() {
        let mut buf = BytesMut::new();
        Frame::Ping { id: 1 }.encode(&mut buf).unwrap();
        assert_eq!(
            &buf[..],
            b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"
        );
        let mut buf = BytesMut::new();
        Frame::Data {
            stream_id: 3,
            flags: FLAG_FIN,
            data: Bytes::from_static(b"ab"),
        }
        .encode(&mut buf)
        .unwrap();
        assert_eq!(&buf[..], b"\x00\x00\x00\x03\x01\x00\x00\x02ab");
    }

    #[test]
    fn partial_input_waits_for_more() {
        let mut full = BytesMut::new();
        Frame::Ping { id: 42 }.encode(&mut full).unwrap();
        for cut in 0..full.len() {
            let mut part = BytesMut::from(&full[..cut]);
            assert_eq!(Frame::decode(&mut part).unwrap(), None);
            assert_eq!(part.len(), cut);
        }
    }

    #[test]
    fn malformed_frames_are_errors() {
        // wrong version
        let mut buf = BytesMut::from(&b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"[..]);
        assert!(Frame::decode(&mut buf).is_err());
        // PING with a wrong length
        let mut buf = BytesMut::from(&b"\x80\x03\x00\x06\x00\x00\x00\x02\x00\x01"[..]);
        assert!(Frame::decode(&mut buf).is_err());
        // SETTINGS whose count disagrees with its length
        let mut buf = BytesMut::from(&b"\x80\x03\x00\x04\x00\x00\x00\x04\x00\x00\x00\x09"[..]);
        assert!(Frame::decode(&mut buf).is_err());
        // oversized
        let mut buf = BytesMut::from(&b"\x00\x00\x00\x01\x00\xff\xff\xff"[..]);
        assert!(Frame::decode(&mut buf).is_err());
        // zero window delta
        let mut buf = BytesMut::from(
            &b"\x80\x03\x00\x09\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00"[..],
        );
        assert!(Frame::decode(&mut buf).is_err());
    }

    #[test]
    fn unknown_control_frames_are_skipped() {
        let mut buf = BytesMut::from(&b"\x80\x03\x00\x0a\x00\x00\x00\x02xy"[..]);
        Frame::Ping { id: 5 }.encode(&mut buf).unwrap();
        assert_eq!(
            Frame::decode(&mut buf).unwrap(),
            Some(Frame::Ping { id: 5 })
        );
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut buf = BytesMut::from(&bytes[..]);
            // Decode until an error, a need for more input, or the buffer is empty.
            for _ in 0..bytes.len() + 1 {
                match Frame::decode(&mut buf) {
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
        }

        #[test]
        fn data_frames_round_trip(id in 1u32..0x7FFF_FFFF, fin in any::<bool>(), data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let frame = Frame::Data { stream_id: id, flags: if fin { FLAG_FIN } else { 0 }, data: Bytes::from(data) };
            let mut buf = BytesMut::new();
            frame.encode(&mut buf).unwrap();
            prop_assert_eq!(Frame::decode(&mut buf).unwrap(), Some(frame));
        }
    }
}
