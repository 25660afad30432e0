//! [`KubeletBackend`] for Azure Container Instances.
//!
//! - **Pods** come from the caller (a closure over vk's own state, e.g. a reflector store's
//!   `state()`), so `/pods` lists exactly the pods vk runs.
//! - **Logs**: `GET …/containerGroups/{group}/containers/{c}/logs?tail=N&timestamps=true`, the
//!   group named by `vk_provider_aci::naming::group_name(namespace, pod)`. ACI keeps no logs of
//!   earlier container instances, so `previous` is refused.
//! - **Exec**: ACI's `executeCommand` takes one command string: argv is quoted for a POSIX shell
//!   (or with Windows rules for pods selecting `kubernetes.io/os: windows`, see
//!   [`crate::quote`]). The answer's WebSocket gets the password first, then stdin as binary
//!   frames. Output: text frames are stdout; binary frames are stderr (the ACI emulator's
//!   convention; configurable with [`AciBackend::binary_frames_are_stderr`]). A close reason
//!   `exit code N` (the emulator's) is the exit status; real ACI reports none, and an unknown
//!   status is reported to kubectl as success ([`ExitStatus::Unknown`]).
//! - **Follow** ends once the pod's status (kept by vk from ACI) shows the container terminated,
//!   or the pod is gone.
//! - **Stats**: ACI's usage metrics live in Azure Monitor, which this crate does not call:
//!   pods are listed with no usage.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use vk_aci::ContainerInstances;
use vk_aci::models::ContainerExecRequest;

use crate::backend::{ContainerRef, ExecIo, ExecRequest, ExitStatus, KubeletBackend, LogRequest};
use crate::{Error, quote};

/// Supplies the pods vk runs on this node.
pub type PodSource = Arc<dyn Fn() -> Vec<Arc<Pod>> + Send + Sync>;

/// Names the container group of a pod.
pub type GroupNamer = Arc<dyn Fn(&Pod) -> String + Send + Sync>;

/// How long a TTY exec waits for the client's first terminal size.
const FIRST_RESIZE_WAIT: Duration = Duration::from_secs(2);

/// The ACI backend. Cheap to clone.
#[derive(Clone)]
pub struct AciBackend {
    client: ContainerInstances,
    pods: PodSource,
    group_of: GroupNamer,
    binary_is_stderr: bool,
}

impl std::fmt::Debug for AciBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AciBackend")
            .field("resource_group", &self.client.resource_group())
            .field("binary_is_stderr", &self.binary_is_stderr)
            .finish_non_exhaustive()
    }
}

fn map_aci(what: String, e: vk_aci::Error) -> Error {
    if e.is_not_found() {
        Error::NotFound(format!("{what}: {e}"))
    } else if e.status().is_some_and(|s| s.is_client_error()) {
        Error::BadRequest(format!("{what}: {e}"))
    } else {
        Error::backend(what, e)
    }
}

/// Parses the emulator's close reason `exit code N`.
pub(crate) fn exit_code_from_reason(reason: &str) -> Option<i32> {
    reason
        .trim()
        .strip_prefix("exit code ")?
        .trim()
        .parse()
        .ok()
}

impl AciBackend {
    /// A backend calling `client`, listing pods with `pods`.
    pub fn new(
        client: ContainerInstances,
        pods: impl Fn() -> Vec<Arc<Pod>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            client,
            pods: Arc::new(pods),
            group_of: Arc::new(|pod: &Pod| {
                vk_provider_aci::naming::group_name(
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    pod.metadata.name.as_deref().unwrap_or_default(),
                )
            }),
            binary_is_stderr: true,
        }
    }

    /// How a pod's container group is named (default: `<namespace>-<pod>` as
    /// [`vk_provider_aci::naming::group_name`]; pass the provider's
    /// [`vk_provider_aci::GroupNames`] so collision-renamed groups are found).
    pub fn group_names(
        mut self,
        group_of: impl Fn(&Pod) -> String + Send + Sync + 'static,
    ) -> Self {
        self.group_of = Arc::new(group_of);
        self
    }

    /// Whether binary WebSocket frames of an exec carry stderr (default `true`, the emulator's
    /// convention); with `false` all output goes to stdout.
    pub fn binary_frames_are_stderr(mut self, yes: bool) -> Self {
        self.binary_is_stderr = yes;
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

fn is_windows(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_selector.as_ref())
        .and_then(|s| s.get("kubernetes.io/os"))
        .is_some_and(|os| os.eq_ignore_ascii_case("windows"))
}

impl KubeletBackend for AciBackend {
    async fn logs(&self, container: &ContainerRef, request: &LogRequest) -> Result<String, Error> {
        let pod = self.pod(container)?;
        let options = vk_aci::LogOptions {
            tail: request
                .tail_lines
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            timestamps: Some(request.timestamps),
        };
        self.client
            .logs(&self.group(&pod), &container.container, options)
            .await
            .map_err(|e| map_aci(format!("logs of {container}"), e))
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
    ) -> Result<ExitStatus, Error> {
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
        let answer = self
            .client
            .exec(
                &self.group(&pod),
                &container.container,
                &ContainerExecRequest::new(command, rows, cols),
            )
            .await
            .map_err(|e| map_aci(format!("exec in {container}"), e))?;
        let uri = answer
            .web_socket_uri
            .clone()
            .ok_or_else(|| Error::Backend {
                message: "ACI exec answer has no webSocketUri".into(),
                source: None,
            })?;
        let mut tls = vk_aci::tls_config().map_err(|e| Error::backend("exec TLS", e))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let (socket, _) = tokio_tungstenite::connect_async_tls_with_config(
            uri.as_str(),
            None,
            false,
            Some(tokio_tungstenite::Connector::Rustls(Arc::new(tls))),
        )
        .await
        .map_err(|e| Error::backend(format!("connecting the exec session of {container}"), e))?;
        let (mut sink, mut stream) = socket.split();
        let password = answer.password.map(|p| p.into_inner()).unwrap_or_default();
        sink.send(Message::Text(password.into()))
            .await
            .map_err(|e| Error::backend("sending the exec password", e))?;
        let mut stdin_open = true;
        loop {
            tokio::select! {
                input = io.stdin.recv(), if stdin_open => match input {
                    Some(data) => {
                        if sink.send(Message::Binary(data)).await.is_err() {
                            stdin_open = false;
                        }
                    }
                    None => stdin_open = false,
                },
                message = stream.next() => match message {
                    None => return Ok(ExitStatus::Unknown),
                    Some(Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed)) => {
                        return Ok(ExitStatus::Unknown);
                    }
                    Some(Err(e)) => return Err(Error::backend("exec session", e)),
                    Some(Ok(Message::Text(text))) => {
                        let _ = io.stdout.send(Bytes::copy_from_slice(text.as_bytes())).await;
                    }
                    Some(Ok(Message::Binary(data))) => {
                        let target = if self.binary_is_stderr && !request.tty { &io.stderr } else { &io.stdout };
                        let _ = target.send(data).await;
                    }
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.as_ref().and_then(|f| {
                            if f.code == CloseCode::Normal || f.code == CloseCode::Away {
                                exit_code_from_reason(&f.reason)
                            } else {
                                None
                            }
                        });
                        return Ok(code.map_or(ExitStatus::Unknown, ExitStatus::Code));
                    }
                    Some(Ok(_)) => {}
                },
            }
        }
    }

    async fn pods(&self) -> Result<Vec<Pod>, Error> {
        Ok((self.pods)().iter().map(|p| Pod::clone(p)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reason_parsing() {
        assert_eq!(exit_code_from_reason("exit code 3"), Some(3));
        assert_eq!(exit_code_from_reason("exit code 0"), Some(0));
        assert_eq!(exit_code_from_reason("bye"), None);
    }
}
