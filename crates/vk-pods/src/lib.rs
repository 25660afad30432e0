//! Pod reconciler: watches the pods bound to a virtual node and drives a
//! [`Provider`](https://docs.rs/vk-pods) backend to run them, reporting their
//! status back to Kubernetes with kubelet semantics.
