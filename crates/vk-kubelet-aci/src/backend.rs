//! [`AciBackend`]: the [`KubeletBackend`] for Azure Container Instances.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use vk_aci::ContainerInstances;
use vk_aci::models::ContainerExecRequest;
use vk_kubelet_api::{ContainerRef, ExecIo, ExecRequest, ExitStatus, KubeletBackend, LogRequest};

use crate::{Error, quote};

/// Supplies the pods vk runs on this node.
pub type PodSource = Arc<dyn Fn() -> Vec<Arc<Pod>> + Send + Sync>;

/// Names the container group of a pod (the ACI provider's namer).
pub type GroupNamer = Arc<dyn Fn(&Pod) -> String + Send + Sync>;

/// How long a TTY exec waits for the client's first terminal size.
const FIRST_RESIZE_WAIT: Duration = Duration::from_secs(2);

/// The ACI backend. Cheap to clone.
#[derive(Clone)]
pub struct AciBackend {
    client: ContainerInstances,
    pods: PodSource,
    group_of: GroupNamer,
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
        }
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
        let options = vk_aci::LogOptions {
            tail: request
                .tail_lines
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            timestamps: Some(request.timestamps),
        };
        Ok(self
            .client
            .logs(&self.group(&pod), &container.container, options)
            .await
            .map_err(|source| Error::Aci {
                what: format!("logs of {container}"),
                source,
            })?)
    }

    async fn container_finished(&self, container: &ContainerRef) -> bool {
        let Ok(pod) = self.pod(container) else {
            return true; // gone
        };
        let Some(status) = pod.status.as_ref() else {
            return false;
        };
        let phase_done = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        let terminated = status
            .container_statuses
            .iter()
            .flatten()
            .chain(status.init_container_statuses.iter().flatten())
            .find(|c| c.name == container.container)
            .and_then(|c| c.state.as_ref())
            .is_some_and(|s| s.terminated.is_some());
        phase_done || terminated
    }

    async fn exec(
        &self,
        container: &ContainerRef,
        request: ExecRequest,
        mut io: ExecIo,
    ) -> Result<ExitStatus, vk_kubelet_api::Error> {
        let pod = self.pod(container)?;
        let command = if is_windows(&pod) {
            quote::windows(&request.command)
        } else {
            quote::posix(&request.command)
        };
        let (mut rows, mut cols) = (24, 80);
        if request.tty
            && let Ok(Some(size)) = tokio::time::timeout(FIRST_RESIZE_WAIT, io.resize.recv()).await
        {
            rows = i32::from(size.height);
            cols = i32::from(size.width);
        }
        let what = format!("exec in {container}");
        let session = self
            .client
            .exec_session(
                &self.group(&pod),
                &container.container,
                &ContainerExecRequest::new(command, rows, cols),
            )
            .await
            .map_err(|source| Error::Aci {
                what: what.clone(),
                source,
            })?;
        let (mut writer, mut reader) = session.split();
        let mut stdin_open = true;
        loop {
            tokio::select! {
                input = io.stdin.recv(), if stdin_open => match input {
                    Some(data) => {
                        if writer.send(data.to_vec()).await.is_err() {
                            stdin_open = false;
                        }
                    }
                    None => stdin_open = false,
                },
                output = reader.next() => match output {
                    None => return Ok(ExitStatus::Unknown),
                    Some(Err(source)) => return Err(Error::Aci { what, source }.into()),
                    Some(Ok(data)) => {
                        let _ = io.stdout.send(Bytes::from(data)).await;
                    }
                },
            }
        }
    }

    async fn pods(&self) -> Result<Vec<Pod>, vk_kubelet_api::Error> {
        Ok((self.pods)().iter().map(|p| Pod::clone(p)).collect())
    }
}
