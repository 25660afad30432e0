//! ARM path parsing (case-insensitive, as ARM is) and operation naming.

use http::Method;

/// Group-level POST actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupAction {
    Start,
    Stop,
    Restart,
    OutboundDeps,
}

/// Container-level actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerAction {
    Logs,
    Exec,
    Attach,
}

/// A parsed ARM route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    OperationsList,
    ListSub {
        sub: String,
    },
    ListRg {
        sub: String,
        rg: String,
    },
    Group {
        sub: String,
        rg: String,
        name: String,
    },
    GroupAction {
        sub: String,
        rg: String,
        name: String,
        action: GroupAction,
    },
    Container {
        sub: String,
        rg: String,
        name: String,
        container: String,
        action: ContainerAction,
    },
    Usages {
        sub: String,
        loc: String,
    },
    Capabilities {
        sub: String,
        loc: String,
    },
    CachedImages {
        sub: String,
        loc: String,
    },
    OpStatus {
        sub: String,
        id: String,
    },
    OpResult {
        sub: String,
        id: String,
    },
    SalDelete {
        sub: String,
    },
    Unknown,
}

/// Minimal percent-decoding of a path segment or query component.
pub(crate) fn percent_decode(s: &str, plus_as_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string into (name, value) pairs.
pub(crate) fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Percent-encodes a query component.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Parses an ARM path.
pub(crate) fn parse(path: &str) -> Route {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| percent_decode(s, false))
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    const RP: &str = "Microsoft.ContainerInstance";
    match s.as_slice() {
        ["providers", rp, "operations"] if eq(rp, RP) => Route::OperationsList,
        ["subscriptions", sub, "providers", rp, cg] if eq(rp, RP) && eq(cg, "containerGroups") => {
            Route::ListSub {
                sub: (*sub).to_owned(),
            }
        }
        [
            "subscriptions",
            sub,
            "providers",
            rp,
            "locations",
            loc,
            what,
        ] if eq(rp, RP) => {
            let (sub, loc) = ((*sub).to_owned(), (*loc).to_owned());
            if eq(what, "usages") {
                Route::Usages { sub, loc }
            } else if eq(what, "capabilities") {
                Route::Capabilities { sub, loc }
            } else if eq(what, "cachedImages") {
                Route::CachedImages { sub, loc }
            } else {
                Route::Unknown
            }
        }
        [
            "subscriptions",
            sub,
            "providers",
            rp,
            "locations",
            _loc,
            kind,
            id,
        ] if eq(rp, RP) => {
            let (sub, id) = ((*sub).to_owned(), (*id).to_owned());
            if eq(kind, "operations") {
                Route::OpStatus { sub, id }
            } else if eq(kind, "operationResults") {
                Route::OpResult { sub, id }
            } else {
                Route::Unknown
            }
        }
        [
            "subscriptions",
            sub,
            rgs,
            _rg,
            "providers",
            "Microsoft.Network",
            "virtualNetworks",
            _,
            "subnets",
            _,
            "providers",
            rp,
            sal,
            "default",
        ] if eq(rgs, "resourceGroups") && eq(rp, RP) && eq(sal, "serviceAssociationLinks") => {
            Route::SalDelete {
                sub: (*sub).to_owned(),
            }
        }
        [
            "subscriptions",
            sub,
            rgs,
            rg,
            "providers",
            rp,
            cg,
            rest @ ..,
        ] if eq(rgs, "resourceGroups") && eq(rp, RP) && eq(cg, "containerGroups") => {
            let (sub, rg) = ((*sub).to_owned(), (*rg).to_owned());
            match rest {
                [] => Route::ListRg { sub, rg },
                [name] => Route::Group {
                    sub,
                    rg,
                    name: (*name).to_owned(),
                },
                [name, action] => {
                    let action = if eq(action, "start") {
                        GroupAction::Start
                    } else if eq(action, "stop") {
                        GroupAction::Stop
                    } else if eq(action, "restart") {
                        GroupAction::Restart
                    } else if eq(action, "outboundNetworkDependenciesEndpoints") {
                        GroupAction::OutboundDeps
                    } else {
                        return Route::Unknown;
                    };
                    Route::GroupAction {
                        sub,
                        rg,
                        name: (*name).to_owned(),
                        action,
                    }
                }
                [name, cs, container, action] if eq(cs, "containers") => {
                    let action = if eq(action, "logs") {
                        ContainerAction::Logs
                    } else if eq(action, "exec") {
                        ContainerAction::Exec
                    } else if eq(action, "attach") {
                        ContainerAction::Attach
                    } else {
                        return Route::Unknown;
                    };
                    Route::Container {
                        sub,
                        rg,
                        name: (*name).to_owned(),
                        container: (*container).to_owned(),
                        action,
                    }
                }
                _ => Route::Unknown,
            }
        }
        _ => Route::Unknown,
    }
}

/// Operation name and group name of a request, for counters and fault matching.
/// `None` for the admin API (never faulted nor counted).
pub(crate) fn classify(method: &Method, path: &str) -> Option<(&'static str, Option<String>)> {
    if path.starts_with("/_emulator") {
        return None;
    }
    if path.contains("/oauth2/") {
        return Some(("token", None));
    }
    if path.to_ascii_lowercase().ends_with("/metrics:getbatch") {
        return Some(("metrics_batch", None));
    }
    let r = parse(path);
    let op = match (&r, method.as_str()) {
        (Route::Group { .. }, "PUT") => "create",
        (Route::Group { .. }, "GET") => "get",
        (Route::Group { .. }, "DELETE") => "delete",
        (Route::Group { .. }, "PATCH") => "update",
        (Route::ListSub { .. } | Route::ListRg { .. }, _) => "list",
        (Route::GroupAction { action, .. }, _) => match action {
            GroupAction::Start => "start",
            GroupAction::Stop => "stop",
            GroupAction::Restart => "restart",
            GroupAction::OutboundDeps => "outbound_dependencies",
        },
        (Route::Container { action, .. }, _) => match action {
            ContainerAction::Logs => "logs",
            ContainerAction::Exec => "exec",
            ContainerAction::Attach => "attach",
        },
        (Route::Usages { .. }, _) => "usages",
        (Route::Capabilities { .. }, _) => "capabilities",
        (Route::CachedImages { .. }, _) => "cached_images",
        (Route::OperationsList, _) => "operations",
        (Route::OpStatus { .. } | Route::OpResult { .. }, _) => "operation_status",
        (Route::SalDelete { .. }, _) => "service_association_link",
        _ => "unknown",
    };
    let group = match r {
        Route::Group { name, .. }
        | Route::GroupAction { name, .. }
        | Route::Container { name, .. } => Some(name),
        _ => None,
    };
    Some((op, group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse(
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerinstance/containerGroups/g1"
            ),
            Route::Group {
                sub: "s".into(),
                rg: "rg".into(),
                name: "g1".into()
            }
        );
        assert!(matches!(
            parse(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g1/containers/c/logs"
            ),
            Route::Container {
                action: ContainerAction::Logs,
                ..
            }
        ));
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(classify(&Method::PUT, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/g1").map(|c| c.0), Some("create"));
    }
}
