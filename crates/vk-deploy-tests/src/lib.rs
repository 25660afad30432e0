//! Tests of vk's deployment artifacts; the crate has no code of its own.
//!
//! - `tests/kustomize_render.rs`: every overlay under `deploy/overlays/` renders with
//!   `kubectl kustomize`, and the rendered objects keep their invariants: the RBAC rules are
//!   exactly the documented ones, no cluster-admin, no hostPath, the restricted security context,
//!   probes on the admin port, a config file that fits the credentials and nodes of the overlay.
//! - `tests/server_dry_run.rs`: every overlay passes `kubectl apply --server-side
//!   --dry-run=server` against the test cluster of `vk-testkit`.
//! - `tests/config_reference.rs`: `docs/configuration.md` names every configuration key, its
//!   `VK_` variable and every flag of `bin/vk/src/config.rs` and `bin/vk/src/cli.rs`.
//!
//! The kubectl tests need `kubectl` 1.27 or newer (kustomize v5) on `PATH`, or its path in
//! `KUBECTL`.
