//! Liveness and readiness probes: `exec` and `httpGet` map to ACI; `tcpSocket`
//! and `grpc` have no ACI equivalent and are dropped with a warning.

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use vk_aci::models::{ContainerExec, ContainerHttpGet, ContainerProbe, HttpHeader, Scheme};

use super::Ctx;
use crate::Error;

/// The ACI probe for `probe` of `c` (`kind` is `liveness` or `readiness`).
pub(crate) fn probe(
    ctx: &mut Ctx<'_>,
    c: &Container,
    probe: Option<&Probe>,
    kind: &str,
) -> Result<Option<ContainerProbe>, Error> {
    let Some(p) = probe else { return Ok(None) };
    let mut out = ContainerProbe {
        initial_delay_seconds: p.initial_delay_seconds,
        period_seconds: p.period_seconds,
        failure_threshold: p.failure_threshold,
        success_threshold: p.success_threshold,
        timeout_seconds: p.timeout_seconds,
        ..ContainerProbe::default()
    };
    if let Some(exec) = &p.exec {
        out.exec = Some(ContainerExec {
            command: exec.command.clone(),
        });
    } else if let Some(http) = &p.http_get {
        let port = match &http.port {
            IntOrString::Int(n) => *n,
            IntOrString::String(name) => match name.parse::<i32>() {
                Ok(n) => n,
                Err(_) => c
                    .ports
                    .iter()
                    .flatten()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .map(|p| p.container_port)
                    .ok_or_else(|| Error::UnknownProbePort {
                        pod: ctx.pod_id.clone(),
                        container: c.name.clone(),
                        port: name.clone(),
                    })?,
            },
        };
        if http.host.as_deref().is_some_and(|h| !h.is_empty()) {
            ctx.warn(format!(
                "container {:?}: {kind} probe host is ignored (ACI probes the container)",
                c.name
            ));
        }
        let headers: Vec<HttpHeader> = http
            .http_headers
            .iter()
            .flatten()
            .map(|h| HttpHeader {
                name: Some(h.name.clone()),
                value: Some(h.value.clone()),
            })
            .collect();
        out.http_get = Some(ContainerHttpGet {
            path: http.path.clone(),
            port,
            scheme: Some(match http.scheme.as_deref() {
                Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
                _ => Scheme::Http,
            }),
            http_headers: (!headers.is_empty()).then_some(headers),
        });
    } else {
        let what = if p.tcp_socket.is_some() {
            "tcpSocket"
        } else if p.grpc.is_some() {
            "grpc"
        } else {
            "handler-less"
        };
        ctx.warn(format!(
            "container {:?}: {what} {kind} probe is dropped: ACI supports only exec and httpGet probes",
            c.name
        ));
        return Ok(None);
    }
    Ok(Some(out))
}
