//! The remote-command channel protocol over WebSocket (`v5`/`v4.channel.k8s.io`,
//! `channel.k8s.io` and the base64 forms): each input is one exec session run
//! through the server's real session loop, in memory (no TLS, no HTTP
//! upgrade), against an echo backend, via the hidden fuzzing entry point
//! `vk_kubelet_api::fuzzing::websocket_channel` (see docs/fuzzing.md for the
//! input layout).
//!
//! Invariants (checked there): no panic (libFuzzer's panic hook aborts, also
//! from server tasks); no hang; every server message is a channel message of
//! the negotiated kind on channel 1–3; the session agrees with a model of the
//! client's messages (stdout is exactly the stdin sent, the final status
//! matches how the command ended, undecodable messages end the session).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vk_kubelet_api::fuzzing::websocket_channel(data));
