//! [`AciBackend`]: the [`KubeletBackend`] for Azure Container Instances.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use tracing::Instrument as _;
use vk_aci::ContainerInstances;
use vk_kubelet_api::{
    ContainerRef, ContainerStats, ExecIo, ExecRequest, ExitStatus, KubeletBackend, LogRequest,
    PodStats,
};

use crate::kept::KeptLogs;
use crate::{Error, exec};

/// Supplies the pods vk runs on this node.
pub type PodSource = Arc<dyn Fn() -> Vec<Arc<Pod>> + Send + Sync>;

/// Names the container group of a pod (the ACI provider's namer).
pub type GroupNamer = Arc<dyn Fn(&Pod) -> String + Send + Sync>;

/// The ACI backend. Cheap to clone.
#[derive(Clone)]
pub struct AciBackend {
    client: ContainerInstances,
    pods: PodSource,
    group_of: GroupNamer,
    kept: Arc<KeptLogs>,
    usage: Option<Arc<crate::UsageCache>>,
}

impl std::fmt::Debug for AciBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AciBackend")
            .field("resource_group", &self.client.resource_group())
            .finish_non_exhaustive()
    }
}

impl AciBackend {
    /// A backend calling `client`, listing pods with `pods` and naming their container groups
    /// with `group_of` (pass the provider's namer, e.g. `vk_provider_aci::GroupNames`, so
    /// collision-renamed groups are found).
    pub fn new(
        client: ContainerInstances,
        pods: impl Fn() -> Vec<Arc<Pod>> + Send + Sync + 'static,
        group_of: impl Fn(&Pod) -> String + Send + Sync + 'static,
    ) -> Self {
        Self {
            client,
            pods: Arc::new(pods),
            group_of: Arc::new(group_of),
            kept: Arc::default(),
            usage: None,
        }
    }

    /// Serves pod stats with the usage a [`crate::UsageSampler`] keeps in
    /// `cache` (without one, pods are listed without usage).
    #[must_use]
    pub fn with_usage(mut self, cache: Arc<crate::UsageCache>) -> Self {
        self.usage = Some(cache);
        self
    }

    fn pod(&self, container: &ContainerRef) -> Result<Arc<Pod>, Error> {
        let pod = (self.pods)()
            .into_iter()
            .find(|p| {
                p.metadata.namespace.as_deref() == Some(container.namespace.as_str())
                    && p.metadata.name.as_deref() == Some(container.pod.as_str())
            })
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "pod {}/{} not found on this node",
                    container.namespace, container.pod
                ))
            })?;
        let known = pod.spec.as_ref().is_none_or(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
                .any(|c| c.name == container.container)
        });
        if !known {
            return Err(Error::NotFound(format!(
                "container {:?} is not valid for pod {}/{}",
                container.container, container.namespace, container.pod
            )));
        }
        Ok(pod)
    }

    fn group(&self, pod: &Pod) -> String {
        (self.group_of)(pod)
    }
}

/// Whether the pod's status shows the container terminated.
fn terminated(pod: &Pod, container: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
                .find(|c| c.name == container)
        })
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.terminated.is_some())
}

/// The waiting reason of a container that never ran yet (as the pod's status
/// shows it; `ContainerCreating` before the status has it), else `None`.
fn waiting_to_start(pod: &Pod, container: &str) -> Option<String> {
    let status = pod.status.as_ref().and_then(|s| {
        s.container_statuses
            .iter()
            .flatten()
            .chain(s.init_container_statuses.iter().flatten())
            .find(|c| c.name == container)
    });
    let Some(status) = status else {
        return Some("ContainerCreating".to_owned());
    };
    let ran_before = status
        .last_state
        .as_ref()
        .is_some_and(|s| s.terminated.is_some())
        || status.restart_count > 0;
    let waiting = status.state.as_ref().and_then(|s| s.waiting.as_ref())?;
    (!ran_before).then(|| {
        waiting
            .reason
            .clone()
            .unwrap_or_else(|| "ContainerCreating".to_owned())
    })
}

pub(crate) fn is_windows(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_selector.as_ref())
        .and_then(|s| s.get("kubernetes.io/os"))
        .is_some_and(|os| os.eq_ignore_ascii_case("windows"))
}

impl KubeletBackend for AciBackend {
    async fn logs(
        &self,
        container: &ContainerRef,
        request: &LogRequest,
    ) -> Result<String, vk_kubelet_api::Error> {
        let pod = self.pod(container)?;
        if let Some(reason) = waiting_to_start(&pod, &container.container) {
            // The kubelet's answer (400) for a container that has not started.
            return Err(vk_kubelet_api::Error::BadRequest(format!(
                "container {:?} in pod {:?} is waiting to start: {reason}",
                container.container, container.pod
            )));
        }
        let options = vk_aci::LogOptions {
            tail: request
                .tail_lines
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            timestamps: Some(request.timestamps),
        };
        let key = (
            pod.metadata.uid.clone().unwrap_or_default(),
            container.container.clone(),
        );
        match self
            .client
            .logs(&self.group(&pod), &container.container, options)
            .await
        {
            Ok(log) => {
                if request.timestamps
                    && request.tail_lines.is_none()
                    && terminated(&pod, &container.container)
                {
                    let live = (self.pods)()
                        .iter()
                        .filter_map(|p| p.metadata.uid.clone())
                        .collect();
                    self.kept.keep(key, &log, &live);
                }
                Ok(log)
            }
            Err(source) => {
                let gone = source.is_not_found() || source.status().is_some_and(|s| s == 400);
                if gone
                    && request.timestamps
                    && let Some(log) = self.kept.get(&key, request.tail_lines)
                {
                    tracing::debug!(%container, error = %source, "ACI has no log: serving the one kept");
                    return Ok(log);
                }
                Err(Error::Aci {
                    what: format!("logs of {container}"),
                    source,
                }
                .into())
            }
        }
    }

    async fn container_finished(&self, container: &ContainerRef) -> bool {
        let Ok(pod) = self.pod(container) else {
            return true; // gone
        };
        let Some(status) = pod.status.as_ref() else {
            return false;
        };
        let phase_done = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        let terminated = terminated(&pod, &container.container);
        phase_done || terminated
    }

    async fn exec(
        &self,
        container: &ContainerRef,
        request: ExecRequest,
        io: ExecIo,
    ) -> Result<ExitStatus, vk_kubelet_api::Error> {
        let pod = self.pod(container)?;
        let span = tracing::info_span!(
            "exec",
            pod = %format!("{}/{}", container.namespace, container.pod),
            container = %container.container,
            words = request.command.len(),
            tty = request.tty,
            stdin = request.stdin,
        );
        let target = exec::Target {
            client: &self.client,
            group: self.group(&pod),
            container: container.container.clone(),
            windows: is_windows(&pod),
        };
        let result = exec::exec(&target, &request, io)
            .instrument(span.clone())
            .await;
        span.in_scope(|| match &result {
            Ok(status) => tracing::debug!(?status, "exec ended"),
            Err(e) => tracing::info!(error = %e, "exec failed"),
        });
        Ok(result?)
    }

    async fn pods(&self) -> Result<Vec<Pod>, vk_kubelet_api::Error> {
        Ok((self.pods)().iter().map(|p| Pod::clone(p)).collect())
    }

    async fn pod_stats(&self, pod: &Pod) -> Result<Option<PodStats>, vk_kubelet_api::Error> {
        Ok(Some(pod_stats(
            pod,
            &self.group(pod),
            self.usage.as_deref(),
        )))
    }
}

fn started_at(s: &k8s_openapi::api::core::v1::ContainerStatus) -> Option<jiff::Timestamp> {
    let st = s.state.as_ref()?;
    st.running
        .as_ref()
        .and_then(|r| r.started_at.as_ref())
        .or_else(|| st.terminated.as_ref().and_then(|t| t.started_at.as_ref()))
        .map(|t| t.0)
}

/// Every container of `pod` (init containers that run as sidecars included,
/// from its status), with the usage `cache` has for its group, if any.
fn pod_stats(pod: &Pod, group: &str, cache: Option<&crate::UsageCache>) -> PodStats {
    let status = pod.status.as_ref();
    let statuses: Vec<&k8s_openapi::api::core::v1::ContainerStatus> = status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .collect();
    let containers = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| {
            let started = statuses
                .iter()
                .find(|s| s.name == c.name)
                .and_then(|s| started_at(s));
            let usage = cache.and_then(|u| u.get(group, &c.name));
            ContainerStats {
                name: c.name.clone(),
                start_time: started,
                time: usage.map(|u| u.time),
                usage_nano_cores: usage.map(|u| u.nano_cores),
                usage_core_nano_seconds: usage.map(|u| u.core_nano_seconds),
                working_set_bytes: usage.map(|u| u.working_set_bytes),
            }
        })
        .collect();
    PodStats {
        start_time: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
        containers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn a_container_that_never_ran_is_waiting_to_start() {
        assert_eq!(
            waiting_to_start(&pod(serde_json::json!({"phase": "Pending"})), "main").as_deref(),
            Some("ContainerCreating")
        );
        let waiting = pod(
            serde_json::json!({"containerStatuses": [{"name": "main", "image": "b",
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
        );
        assert_eq!(
            waiting_to_start(&waiting, "main").as_deref(),
            Some("ImagePullBackOff")
        );
        // Backing off a restart: it ran, its logs exist.
        let restarting = pod(
            serde_json::json!({"containerStatuses": [{"name": "main", "image": "b",
            "imageID": "", "ready": false, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
        );
        assert_eq!(waiting_to_start(&restarting, "main"), None);
        let running = pod(
            serde_json::json!({"containerStatuses": [{"name": "main", "image": "b",
            "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
        );
        assert_eq!(waiting_to_start(&running, "main"), None);
    }
}
