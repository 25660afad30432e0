//! Ports, the group's IP address and DNS configuration.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Container as K8sContainer;
use vk_aci::models::{
    Container, ContainerPort, DnsConfiguration, IpAddress, IpAddressType, Port, Protocol,
};
use vk_resources::OsType;

use super::Ctx;
use crate::Error;

/// ACI's maximum number of ports on a group's IP address.
pub const MAX_PORTS: usize = 5;
/// Most name servers a resolver uses (glibc `MAXNS`, as the kubelet).
const MAX_NAMESERVERS: usize = 3;
/// Most search domains the kubelet allows.
const MAX_SEARCHES: usize = 32;

/// The ACI ports of `c`: TCP or UDP, 1–65535.
pub(crate) fn container_ports(
    ctx: &mut Ctx<'_>,
    c: &K8sContainer,
) -> Result<Option<Vec<ContainerPort>>, Error> {
    let mut out = Vec::new();
    for p in c.ports.iter().flatten() {
        let protocol_name = p.protocol.as_deref().unwrap_or("TCP");
        let invalid = |message: &str| Error::InvalidPort {
            pod: ctx.pod_id.clone(),
            container: c.name.clone(),
            port: p.container_port,
            protocol: protocol_name.to_owned(),
            message: message.to_owned(),
        };
        let protocol = match protocol_name {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            _ => return Err(invalid("ACI supports only TCP and UDP")),
        };
        let port = u16::try_from(p.container_port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| invalid("the port must be between 1 and 65535"))?;
        if p.host_port.is_some_and(|h| h != 0 && h != p.container_port) {
            ctx.warn(format!(
                "container {:?}: hostPort {} is ignored; ACI exposes containerPort {}",
                c.name,
                p.host_port.unwrap_or_default(),
                p.container_port
            ));
        }
        out.push(ContainerPort {
            protocol: Some(protocol),
            port,
        });
    }
    Ok((!out.is_empty()).then_some(out))
}

/// The group's IP address: every container port, `Public` (with the DNS
/// name label annotation) unless subnets are configured (`Private`). No ports
/// → no IP address block: ACI refuses one without ports
/// (`MissingIpAddressPorts`). A group in a virtual network gets its private
/// address anyway; a public group without ports gets none, which the pod's
/// `NoPodIP` adjustment says.
pub(crate) fn ip_address(
    ctx: &mut Ctx<'_>,
    containers: &[Container],
) -> Result<Option<IpAddress>, Error> {
    let mut seen = BTreeSet::new();
    let mut ports = Vec::new();
    for c in containers {
        for p in c.properties.ports.iter().flatten() {
            let protocol = p.protocol.clone().unwrap_or(Protocol::Tcp);
            if !seen.insert((p.port, protocol.as_str().to_owned())) {
                return Err(Error::DuplicatePort {
                    pod: ctx.pod_id.clone(),
                    port: i32::from(p.port),
                    protocol: protocol.as_str().to_owned(),
                });
            }
            ports.push(Port {
                protocol: Some(protocol),
                port: p.port,
            });
        }
    }
    if ports.len() > MAX_PORTS {
        return Err(Error::TooManyPorts {
            pod: ctx.pod_id.clone(),
            count: ports.len(),
            maximum: MAX_PORTS,
        });
    }
    let vnet = ctx.config.vnet();
    let key = ctx.config.dns_name_label_annotation.clone();
    let label = ctx
        .annotation(&key)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    if ports.is_empty() {
        if vnet {
            if label.is_some() {
                ctx.warn(format!(
                    "annotation {key:?} is ignored: private (VNet) groups have no DNS name label"
                ));
            }
        } else {
            if label.is_some() {
                ctx.warn(format!(
                    "annotation {key:?} is ignored: the pod exposes no ports, so the group gets no IP address"
                ));
            }
            ctx.adjust(
                "NoPodIP",
                "the pod declares no containerPort, so its public container group gets no IP \
                 address (ACI gives one only to groups that expose ports or join a virtual \
                 network): it has no pod IP and Services cannot reach it; declare the ports it \
                 serves",
            );
        }
        return Ok(None);
    }
    let dns_name_label = match label {
        Some(_) if vnet => {
            ctx.warn(format!(
                "annotation {key:?} is ignored: private (VNet) groups have no DNS name label"
            ));
            None
        }
        Some(l) => {
            if !valid_dns_label(&l) {
                return Err(Error::InvalidAnnotation {
                    pod: ctx.pod_id.clone(),
                    annotation: key,
                    message: format!(
                        "DNS name label {l:?} must be 5 to 63 letters, digits and hyphens, \
                         not starting or ending with a hyphen"
                    ),
                });
            }
            Some(l)
        }
        None => None,
    };
    Ok(Some(IpAddress {
        ports,
        address_type: Some(if vnet {
            IpAddressType::Private
        } else {
            IpAddressType::Public
        }),
        dns_name_label,
        ..IpAddress::default()
    }))
}

fn valid_dns_label(l: &str) -> bool {
    (5..=63).contains(&l.len())
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// The DNS configuration (VNet mode, Linux only), following the kubelet:
/// `ClusterFirst` → the cluster DNS server and `<ns>.svc.<domain>
/// svc.<domain> <domain>` with `ndots:5`; `Default` / `None` → only what the
/// pod's `dnsConfig` gives; then `dnsConfig` is merged in.
pub(crate) fn dns_config(ctx: &mut Ctx<'_>) -> Option<DnsConfiguration> {
    let spec = ctx.spec;
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let pod_dns = spec.dns_config.as_ref();
    let has_pod_dns = pod_dns.is_some_and(|d| {
        d.nameservers.as_ref().is_some_and(|n| !n.is_empty())
            || d.searches.as_ref().is_some_and(|s| !s.is_empty())
            || d.options.as_ref().is_some_and(|o| !o.is_empty())
    });
    if !ctx.config.vnet() {
        if has_pod_dns {
            ctx.warn("dnsConfig is ignored: ACI takes DNS settings only for VNet groups");
        }
        return None;
    }
    if ctx.config.os == OsType::Windows {
        if has_pod_dns {
            ctx.warn("dnsConfig is ignored: ACI Windows groups take no DNS settings");
        }
        return None;
    }
    let mut nameservers: Vec<String> = Vec::new();
    let mut searches: Vec<String> = Vec::new();
    let mut options: Vec<(String, Option<String>)> = Vec::new();
    if matches!(policy, "ClusterFirst" | "ClusterFirstWithHostNet")
        && ctx.inject_dns
        && let Some(dns) = &ctx.config.cluster_dns
    {
        let domain = dns.cluster_domain.trim_matches('.');
        nameservers.push(dns.nameserver.clone());
        searches.push(format!("{}.svc.{domain}", ctx.namespace()));
        searches.push(format!("svc.{domain}"));
        searches.push(domain.to_owned());
        options.push(("ndots".into(), Some("5".into())));
    }
    if let Some(d) = pod_dns {
        for n in d.nameservers.iter().flatten() {
            if !nameservers.contains(n) {
                nameservers.push(n.clone());
            }
        }
        for s in d.searches.iter().flatten() {
            if !searches.contains(s) {
                searches.push(s.clone());
            }
        }
        for o in d.options.iter().flatten() {
            let name = o.name.clone().unwrap_or_default();
            options.retain(|(n, _)| *n != name);
            options.push((name, o.value.clone()));
        }
    }
    if nameservers.len() > MAX_NAMESERVERS {
        ctx.warn(format!(
            "only the first {MAX_NAMESERVERS} of {} name servers are used",
            nameservers.len()
        ));
        nameservers.truncate(MAX_NAMESERVERS);
    }
    if searches.len() > MAX_SEARCHES {
        ctx.warn(format!(
            "only the first {MAX_SEARCHES} of {} search domains are used",
            searches.len()
        ));
        searches.truncate(MAX_SEARCHES);
    }
    if nameservers.is_empty() {
        if !searches.is_empty() || !options.is_empty() {
            ctx.warn(
                "DNS search domains and options are ignored: ACI needs a name server with them",
            );
        }
        return None;
    }
    let options: Vec<String> = options
        .into_iter()
        .filter(|(n, _)| !n.is_empty())
        .map(|(n, v)| match v {
            Some(v) => format!("{n}:{v}"),
            None => n,
        })
        .collect();
    Some(DnsConfiguration {
        name_servers: nameservers,
        search_domains: (!searches.is_empty()).then(|| searches.join(" ")),
        options: (!options.is_empty()).then(|| options.join(" ")),
    })
}
