//! Hostile-input, fuzz-regression and secrets-never-leak tests for the vk
//! library crates (issue 10). Everything lives in `tests/`:
//!
//! - `names.rs`: odd pod and namespace names always give valid ACI names;
//! - `huge_pods.rs`: megabyte env values, 10,000 variables, huge annotations:
//!   `pod_to_group` answers `Ok` or a clear error, never panics;
//! - `deep_json.rs`: deeply nested JSON from a misbehaving ACI is an error,
//!   not a stack overflow;
//! - `spdy_limits.rs`: SPDY frames and header blocks with absurd lengths are
//!   refused without large allocations (through `vk_kubelet_api::fuzzing`);
//! - `quantities.rs`: megabyte quantity strings are rejected, naming the input;
//! - `secrets.rs`: secret bytes only ever reach `secureValue`, secret volumes
//!   and registry passwords, never `Debug`, tags or plain values;
//! - `fuzz_regressions.rs`: replays of the committed fuzz corpora and every
//!   crash the fuzz targets in `fuzz/` found (crashes fixed inside a crate
//!   have their regression test there, named in `docs/fuzzing.md`).
//!
//! The fuzz targets themselves are described in `docs/fuzzing.md`.
