//! Test kit for vk's integration and end-to-end tests.
//!
//! Gives a test a running Kubernetes control plane, a fresh namespace that is
//! deleted when the test ends, and helpers that wait for conditions with
//! timeouts instead of fixed sleeps. [`agent`] simulates the kubelet of a regular node (test
//! world only: no containers run) for the seed's cluster and burst tests.
//!
//! Which cluster a test gets, in order:
//! 1. `VK_TEST_KUBECONFIG=<path>`: any cluster, through that kubeconfig;
//! 2. `VK_TEST_CLUSTER=<state dir or name>`: a local cluster started by
//!    `cargo xtask cluster up` (this is what `cargo xtask test` sets);
//! 3. otherwise one local cluster is started for the test binary on first use
//!    and stopped by a watchdog when the test process exits.
//!
//! ```no_run
//! # async fn demo() {
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::Api;
//!
//! let env = vk_testkit::TestEnv::get().await;
//! let ns = env.namespace("demo").await;
//! let cms: Api<ConfigMap> = Api::namespaced(ns.client.clone(), &ns.name);
//! let cm = vk_testkit::wait::until("kube-root-ca.crt to exist", 30, || async {
//!     cms.get_opt("kube-root-ca.crt").await.ok().flatten()
//! })
//! .await;
//! # let _ = cm; }
//! ```

pub mod agent;
mod env;
mod namespace;
pub mod pod;
pub mod wait;

pub use env::TestEnv;
pub use namespace::TestNamespace;
