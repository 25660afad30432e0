//! Node lifecycle for a virtual kubelet: builds and registers the virtual Node,
//! renews its Lease in `kube-node-lease`, and writes node status on change.
