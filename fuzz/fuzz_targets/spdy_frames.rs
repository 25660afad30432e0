//! The SPDY/3.1 frame decoder and the header-block decompressor of
//! `vk-kubelet-api` on arbitrary bytes, as one connection would see them.
//!
//! Runs the crate's private decoders through its hidden fuzzing entry point
//! `vk_kubelet_api::fuzzing::spdy_frames` (see docs/fuzzing.md for the input
//! layout). Invariants (checked there): no panic; frames longer than the
//! decoder's limit are refused before any payload is buffered; every decoded
//! frame re-encodes to bytes that decode to the same frame; decoded header
//! blocks survive compression and decompression.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vk_kubelet_api::fuzzing::spdy_frames(data));
