//! What the ACI client makes of a failed ARM (or token endpoint) response:
//! `vk-aci`'s private `Failure::from_response` (ARM `{"error": {...}}` body,
//! OAuth body, raw-text fallback, `x-ms-request-id`, `Retry-After`), then the
//! typed `Error`, its classification and the retry and polling waits, via the
//! hidden fuzzing entry point `vk_aci::fuzzing::arm_failure_input`.
//!
//! Input: two bytes of HTTP status, header lines `name: value` up to an empty
//! line, then the body (see `vk_aci::fuzzing::split_response`). Invariants
//! (checked there): no panic; status, request id and ARM code are kept; the
//! message is never empty and a raw body is cut to 512 bytes; quota errors
//! are not transient; `Retry-After` yields usable waits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vk_aci::fuzzing::arm_failure_input(data));
