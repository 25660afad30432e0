//! Authentication and authorization like a kubelet in webhook mode.
//!
//! - **Authentication**, in order: a client certificate verified against the client CA during
//!   the TLS handshake (user = subject CN, groups = subject O values); a bearer token checked
//!   with a `TokenReview`; otherwise the request is anonymous: 401 unless anonymous access is
//!   enabled, in which case it continues as `system:anonymous` (group
//!   `system:unauthenticated`).
//! - **Authorization**: a `SubjectAccessReview` for the user on resource `nodes`, name = the
//!   node, with the kubelet's mapping of paths to subresources (`/stats/*` → `stats`,
//!   `/metrics*` → `metrics`, `/logs/*` → `log`, `/spec/*` → `spec`, everything else — exec,
//!   attach, portForward, containerLogs, pods, run — → `proxy`) and of methods to verbs
//!   (GET → get, POST → create, PUT → update, PATCH → patch, DELETE → delete). Denials answer
//!   403 `Forbidden (user=…, verb=…, resource=nodes, subresource=…)`.
//!
//! Token reviews and access decisions are cached for the configured TTL (denials for at most
//! 30 s), keyed by the token, and by user, groups and attributes. Without a Kubernetes client,
//! tokens cannot be checked (401) and every authenticated request is allowed (the kubelet's
//! `AlwaysAllow`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;

use crate::Error;

/// How requests are authenticated and authorized.
#[derive(Clone)]
pub struct AuthConfig {
    /// PEM bundle of CAs that sign client certificates (the cluster CA). `None`: client
    /// certificates are not requested.
    pub client_ca: Option<String>,
    /// Let requests without credentials through as `system:anonymous` (still authorized).
    pub anonymous: bool,
    /// Client for TokenReview and SubjectAccessReview. `None`: no token authentication, and
    /// every authenticated request is allowed.
    pub kube: Option<kube::Client>,
    /// How long token reviews and allow decisions are cached (denials: at most 30 s).
    pub cache_ttl: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            client_ca: None,
            anonymous: false,
            kube: None,
            cache_ttl: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("client_ca", &self.client_ca.as_ref().map(|_| "<pem>"))
            .field("anonymous", &self.anonymous)
            .field("kube", &self.kube.is_some())
            .field("cache_ttl", &self.cache_ttl)
            .finish()
    }
}

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// User name.
    pub user: String,
    /// Groups.
    pub groups: Vec<String>,
}

impl Identity {
    /// The anonymous user.
    pub fn anonymous() -> Self {
        Self {
            user: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
        }
    }
}

/// The identity from a verified client certificate, attached to each request of a connection.
#[derive(Clone, Debug)]
pub(crate) struct PeerIdentity(pub(crate) Option<Identity>);

/// What a request asks to do, as the kubelet describes it for authorization.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// API verb.
    pub verb: String,
    /// Always `nodes`.
    pub resource: String,
    /// `proxy`, `log`, `stats`, `metrics` or `spec`.
    pub subresource: String,
    /// The node name.
    pub name: String,
}

fn is_subpath(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// The kubelet's request attributes for `method` and `path` on `node`.
pub fn attributes(method: &http::Method, path: &str, node: &str) -> Attributes {
    let verb = match *method {
        http::Method::POST => "create",
        http::Method::GET => "get",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "",
    };
    let subresource = if is_subpath(path, "/stats/") {
        "stats"
    } else if is_subpath(path, "/metrics") {
        "metrics"
    } else if is_subpath(path, "/logs/") {
        "log"
    } else if is_subpath(path, "/spec/") {
        "spec"
    } else {
        "proxy"
    };
    Attributes {
        verb: verb.into(),
        resource: "nodes".into(),
        subresource: subresource.into(),
        name: node.into(),
    }
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// 401.
    Unauthorized(String),
    /// 403.
    Forbidden(String),
}

struct Cached<T> {
    value: T,
    until: Instant,
}

/// Authenticates and authorizes requests; shared by all connections.
pub(crate) struct Auth {
    config: AuthConfig,
    node: String,
    tokens: Mutex<HashMap<String, Cached<Option<Identity>>>>,
    decisions: Mutex<HashMap<(Identity, Attributes), Cached<bool>>>,
}

const MAX_DENY_TTL: Duration = Duration::from_secs(30);
const MAX_CACHE_ENTRIES: usize = 10_000;

fn cache_get<K: std::hash::Hash + Eq, T: Clone>(
    cache: &Mutex<HashMap<K, Cached<T>>>,
    key: &K,
) -> Option<T> {
    let cache = cache.lock().ok()?;
    cache
        .get(key)
        .filter(|c| c.until > Instant::now())
        .map(|c| c.value.clone())
}

fn cache_put<K: std::hash::Hash + Eq, T>(
    cache: &Mutex<HashMap<K, Cached<T>>>,
    key: K,
    value: T,
    ttl: Duration,
) {
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= MAX_CACHE_ENTRIES {
            let now = Instant::now();
            cache.retain(|_, c| c.until > now);
            if cache.len() >= MAX_CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(
            key,
            Cached {
                value,
                until: Instant::now() + ttl,
            },
        );
    }
}

impl Auth {
    pub(crate) fn new(config: AuthConfig, node: String) -> Arc<Self> {
        Arc::new(Self {
            config,
            node,
            tokens: Mutex::new(HashMap::new()),
            decisions: Mutex::new(HashMap::new()),
        })
    }

    /// Authenticates and authorizes one request.
    pub(crate) async fn check(
        &self,
        peer: Option<&Identity>,
        authorization: Option<&str>,
        method: &http::Method,
        path: &str,
    ) -> Result<Identity, Denied> {
        let identity = self.authenticate(peer, authorization).await?;
        let attrs = attributes(method, path, &self.node);
        if self.authorize(&identity, &attrs).await? {
            Ok(identity)
        } else {
            Err(Denied::Forbidden(format!(
                "Forbidden (user={}, verb={}, resource={}, subresource={})",
                identity.user, attrs.verb, attrs.resource, attrs.subresource
            )))
        }
    }

    async fn authenticate(
        &self,
        peer: Option<&Identity>,
        authorization: Option<&str>,
    ) -> Result<Identity, Denied> {
        if let Some(identity) = peer {
            return Ok(identity.clone());
        }
        let token = authorization
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty());
        if let Some(token) = token {
            return match self.review_token(token).await {
                Ok(Some(identity)) => Ok(identity),
                Ok(None) => Err(Denied::Unauthorized("Unauthorized".into())),
                Err(e) => {
                    tracing::warn!(error = %e, "token review failed");
                    Err(Denied::Unauthorized("Unauthorized".into()))
                }
            };
        }
        if self.config.anonymous {
            Ok(Identity::anonymous())
        } else {
            Err(Denied::Unauthorized("Unauthorized".into()))
        }
    }

    async fn review_token(&self, token: &str) -> Result<Option<Identity>, Error> {
        let Some(client) = &self.config.kube else {
            return Ok(None);
        };
        if let Some(hit) = cache_get(&self.tokens, &token.to_owned()) {
            return Ok(hit);
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: None,
            },
            ..Default::default()
        };
        let api: Api<TokenReview> = Api::all(client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|source| Error::Kube {
                what: "creating a TokenReview",
                source,
            })?;
        let identity = answer.status.and_then(|s| {
            if s.authenticated != Some(true) {
                return None;
            }
            let user = s.user?;
            Some(Identity {
                user: user.username.unwrap_or_default(),
                groups: user.groups.unwrap_or_default(),
            })
        });
        let ttl = if identity.is_some() {
            self.config.cache_ttl
        } else {
            self.config.cache_ttl.min(MAX_DENY_TTL)
        };
        cache_put(&self.tokens, token.to_owned(), identity.clone(), ttl);
        Ok(identity)
    }

    async fn authorize(&self, identity: &Identity, attrs: &Attributes) -> Result<bool, Denied> {
        let Some(client) = &self.config.kube else {
            return Ok(true);
        };
        let key = (identity.clone(), attrs.clone());
        if let Some(hit) = cache_get(&self.decisions, &key) {
            return Ok(hit);
        }
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(identity.user.clone()),
                groups: Some(identity.groups.clone()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(attrs.verb.clone()),
                    resource: Some(attrs.resource.clone()),
                    subresource: Some(attrs.subresource.clone()),
                    name: Some(attrs.name.clone()),
                    version: Some("v1".into()),
                    group: Some(String::new()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(client.clone());
        let answer = match api.create(&PostParams::default(), &review).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "subject access review failed");
                return Err(Denied::Forbidden(format!(
                    "Forbidden (user={}, verb={}, resource={}, subresource={}): authorization \
                     check failed",
                    identity.user, attrs.verb, attrs.resource, attrs.subresource
                )));
            }
        };
        let allowed = answer.status.is_some_and(|s| s.allowed);
        let ttl = if allowed {
            self.config.cache_ttl
        } else {
            self.config.cache_ttl.min(MAX_DENY_TTL)
        };
        cache_put(&self.decisions, key, allowed, ttl);
        Ok(allowed)
    }
}

/// The identity in a client certificate (DER): CN is the user, O values are the groups.
pub(crate) fn identity_from_cert(der: &[u8]) -> Option<Identity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())?
        .to_owned();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_owned))
        .collect();
    Some(Identity { user, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_attribute_mapping() {
        let a = |m: http::Method, p: &str| {
            let a = attributes(&m, p, "vk");
            (a.verb, a.subresource)
        };
        assert_eq!(
            a(http::Method::GET, "/stats/summary"),
            ("get".into(), "stats".into())
        );
        assert_eq!(
            a(http::Method::GET, "/stats"),
            ("get".into(), "stats".into())
        );
        assert_eq!(
            a(http::Method::GET, "/statsx"),
            ("get".into(), "proxy".into())
        );
        assert_eq!(
            a(http::Method::GET, "/metrics/resource"),
            ("get".into(), "metrics".into())
        );
        assert_eq!(
            a(http::Method::GET, "/logs/x"),
            ("get".into(), "log".into())
        );
        assert_eq!(
            a(http::Method::GET, "/spec/"),
            ("get".into(), "spec".into())
        );
        assert_eq!(
            a(http::Method::POST, "/exec/a/b/c"),
            ("create".into(), "proxy".into())
        );
        assert_eq!(
            a(http::Method::GET, "/containerLogs/a/b/c"),
            ("get".into(), "proxy".into())
        );
        assert_eq!(
            a(http::Method::GET, "/pods"),
            ("get".into(), "proxy".into())
        );
        assert_eq!(
            a(http::Method::DELETE, "/pods"),
            ("delete".into(), "proxy".into())
        );
    }

    #[tokio::test]
    async fn anonymous_is_refused_unless_enabled() {
        let auth = Auth::new(AuthConfig::default(), "vk".into());
        let denied = auth
            .check(None, None, &http::Method::GET, "/pods")
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::Unauthorized(_)));
        // a token cannot be checked without a client
        let denied = auth
            .check(None, Some("Bearer abc"), &http::Method::GET, "/pods")
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::Unauthorized(_)));
        let auth = Auth::new(
            AuthConfig {
                anonymous: true,
                ..Default::default()
            },
            "vk".into(),
        );
        let who = auth
            .check(None, None, &http::Method::GET, "/pods")
            .await
            .unwrap();
        assert_eq!(who, Identity::anonymous());
    }

    #[test]
    fn certificate_identity() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kube-apiserver-kubelet-client");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "system:masters");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let id = identity_from_cert(cert.der()).unwrap();
        assert_eq!(id.user, "kube-apiserver-kubelet-client");
        assert_eq!(id.groups, ["system:masters"]);
    }
}
