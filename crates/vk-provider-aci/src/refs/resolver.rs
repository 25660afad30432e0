//! Fetching what a pod references: [`RefSource`] (the API server through
//! [`KubeRefSource`], or anything else) and the [`Resolver`].

use std::collections::BTreeMap;

use futures::future::{BoxFuture, try_join_all};
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret as K8sSecret, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use vk_aci::Secret;

use super::{ConfigMapData, ResolvedRefs, SecretData, TokenKey, pod_references};
use crate::Error;
use crate::util::pod_name;

/// Where referenced objects come from. Object-safe, so a provider can hold an
/// `Arc<dyn RefSource>`.
pub trait RefSource: Send + Sync {
    /// The Secret `namespace/name`, `None` when it does not exist.
    fn secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<K8sSecret>, kube::Error>>;

    /// The ConfigMap `namespace/name`, `None` when it does not exist.
    fn config_map<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConfigMap>, kube::Error>>;

    /// Creates a TokenRequest for service account `namespace/service_account`.
    fn token<'a>(
        &'a self,
        namespace: &'a str,
        service_account: &'a str,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<TokenRequest, kube::Error>>;
}

/// [`RefSource`] reading from the API server: one GET per object, one
/// `POST serviceaccounts/{name}/token` per token.
#[derive(Clone)]
pub struct KubeRefSource {
    client: kube::Client,
}

impl KubeRefSource {
    /// A source using `client`.
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

impl std::fmt::Debug for KubeRefSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeRefSource").finish_non_exhaustive()
    }
}

impl RefSource for KubeRefSource {
    fn secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<K8sSecret>, kube::Error>> {
        Box::pin(async move {
            Api::<K8sSecret>::namespaced(self.client.clone(), namespace)
                .get_opt(name)
                .await
        })
    }

    fn config_map<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ConfigMap>, kube::Error>> {
        Box::pin(async move {
            Api::<ConfigMap>::namespaced(self.client.clone(), namespace)
                .get_opt(name)
                .await
        })
    }

    fn token<'a>(
        &'a self,
        namespace: &'a str,
        service_account: &'a str,
        request: &'a TokenRequest,
    ) -> BoxFuture<'a, Result<TokenRequest, kube::Error>> {
        Box::pin(async move {
            Api::<ServiceAccount>::namespaced(self.client.clone(), namespace)
                .create_token_request(service_account, &PostParams::default(), request)
                .await
        })
    }
}

/// Resolves a pod's references through a [`RefSource`].
#[derive(Debug, Clone)]
pub struct Resolver<S = KubeRefSource> {
    source: S,
}

impl Resolver<KubeRefSource> {
    /// A resolver reading from the API server.
    pub fn new(client: kube::Client) -> Self {
        Self {
            source: KubeRefSource::new(client),
        }
    }
}

impl<S: RefSource> Resolver<S> {
    /// A resolver over any source.
    pub fn with_source(source: S) -> Self {
        Self { source }
    }

    /// Fetches exactly what `pod` references, concurrently. A missing required
    /// Secret or ConfigMap is [`Error::MissingSecret`] / [`Error::MissingConfigMap`];
    /// missing optional ones and missing image pull secrets are left out. API
    /// failures are [`Error::Fetch`] / [`Error::ServiceAccountToken`] (transient).
    pub async fn resolve(&self, pod: &Pod) -> Result<ResolvedRefs, Error> {
        let refs = pod_references(pod);
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let pod_id = pod_name(pod);

        let mut secret_names: BTreeMap<String, bool> = refs.secrets.clone();
        for p in &refs.pull_secrets {
            secret_names.entry(p.clone()).or_insert(false);
        }
        let secrets = try_join_all(secret_names.iter().map(|(name, required)| {
            let pod_id = &pod_id;
            async move {
                match self.source.secret(namespace, name).await {
                    Ok(Some(s)) => Ok(Ok((name.clone(), SecretData::from_k8s(&s)))),
                    Ok(None) if *required => Err(Error::MissingSecret {
                        pod: pod_id.clone(),
                        namespace: namespace.to_owned(),
                        name: name.clone(),
                    }),
                    Ok(None) => Ok(Err(name.clone())),
                    Err(source) => Err(Error::Fetch {
                        pod: pod_id.clone(),
                        kind: "Secret",
                        namespace: namespace.to_owned(),
                        name: name.clone(),
                        source,
                    }),
                }
            }
        }));
        let config_maps = try_join_all(refs.config_maps.iter().map(|(name, required)| {
            let pod_id = &pod_id;
            async move {
                match self.source.config_map(namespace, name).await {
                    Ok(Some(cm)) => Ok(Ok((name.clone(), ConfigMapData::from_k8s(&cm)))),
                    Ok(None) if *required => Err(Error::MissingConfigMap {
                        pod: pod_id.clone(),
                        namespace: namespace.to_owned(),
                        name: name.clone(),
                    }),
                    Ok(None) => Ok(Err(name.clone())),
                    Err(source) => Err(Error::Fetch {
                        pod: pod_id.clone(),
                        kind: "ConfigMap",
                        namespace: namespace.to_owned(),
                        name: name.clone(),
                        source,
                    }),
                }
            }
        }));
        let service_account = pod
            .spec
            .as_ref()
            .and_then(|s| {
                s.service_account_name
                    .clone()
                    .or_else(|| s.service_account.clone())
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".to_owned());
        let tokens = try_join_all(refs.tokens.iter().map(|key| {
            let pod_id = &pod_id;
            let service_account = &service_account;
            async move {
                let request = token_request(pod, key);
                let answer = self
                    .source
                    .token(namespace, service_account, &request)
                    .await
                    .map_err(|source| Error::ServiceAccountToken {
                        pod: pod_id.clone(),
                        namespace: namespace.to_owned(),
                        service_account: service_account.clone(),
                        source,
                    })?;
                let token = answer
                    .status
                    .map(|s| s.token)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Error::EmptyToken {
                        pod: pod_id.clone(),
                        service_account: service_account.clone(),
                    })?;
                Ok::<_, Error>((key.clone(), Secret::new(token)))
            }
        }));
        let (secrets, config_maps, tokens) =
            futures::future::try_join3(secrets, config_maps, tokens).await?;
        tracing::debug!(
            pod = %pod_id,
            secrets = secrets.iter().flatten().count(),
            config_maps = config_maps.iter().flatten().count(),
            tokens = tokens.len(),
            "resolved pod references"
        );
        let mut adjustments = Vec::new();
        // (A missing image pull secret is reported by the translation.)
        for name in secrets.iter().filter_map(|r| r.as_ref().err()) {
            if refs.secrets.contains_key(name) {
                adjustments.push(vk_pods::Adjustment::new(
                    "OptionalSecretNotFound",
                    format!(
                        "optional secret {namespace}/{name} not found; the pod runs without it"
                    ),
                ));
            }
        }
        for name in config_maps.iter().filter_map(|r| r.as_ref().err()) {
            adjustments.push(vk_pods::Adjustment::new(
                "OptionalConfigMapNotFound",
                format!("optional configmap {namespace}/{name} not found; the pod runs without it"),
            ));
        }
        Ok(ResolvedRefs {
            adjustments,
            secrets: secrets.into_iter().flatten().collect(),
            config_maps: config_maps.into_iter().flatten().collect(),
            tokens: tokens.into_iter().collect(),
        })
    }
}

/// The TokenRequest the kubelet would send: audience, lifetime, bound to the pod.
fn token_request(pod: &Pod, key: &TokenKey) -> TokenRequest {
    TokenRequest {
        spec: TokenRequestSpec {
            audiences: key.audience.iter().cloned().collect(),
            expiration_seconds: Some(key.expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..TokenRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use k8s_openapi::ByteString;
    use k8s_openapi::api::authentication::v1::TokenRequestStatus;
    use serde_json::json;

    use super::*;

    #[derive(Default)]
    struct FakeSource {
        secrets: HashMap<String, K8sSecret>,
        config_maps: HashMap<String, ConfigMap>,
        token_requests: Mutex<Vec<(String, TokenRequest)>>,
        fail: bool,
    }

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("boom", "InternalError").with_code(code),
        ))
    }

    impl RefSource for FakeSource {
        fn secret<'a>(
            &'a self,
            _namespace: &'a str,
            name: &'a str,
        ) -> BoxFuture<'a, Result<Option<K8sSecret>, kube::Error>> {
            Box::pin(async move {
                if self.fail {
                    return Err(api_error(500));
                }
                Ok(self.secrets.get(name).cloned())
            })
        }

        fn config_map<'a>(
            &'a self,
            _namespace: &'a str,
            name: &'a str,
        ) -> BoxFuture<'a, Result<Option<ConfigMap>, kube::Error>> {
            Box::pin(async move { Ok(self.config_maps.get(name).cloned()) })
        }

        fn token<'a>(
            &'a self,
            _namespace: &'a str,
            service_account: &'a str,
            request: &'a TokenRequest,
        ) -> BoxFuture<'a, Result<TokenRequest, kube::Error>> {
            Box::pin(async move {
                self.token_requests
                    .lock()
                    .unwrap()
                    .push((service_account.to_owned(), request.clone()));
                let mut answer = request.clone();
                answer.status = Some(TokenRequestStatus {
                    token: format!("token-for-{service_account}"),
                    expiration_timestamp: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                        jiff::Timestamp::UNIX_EPOCH,
                    ),
                });
                Ok(answer)
            })
        }
    }

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {
                "serviceAccountName": "builder",
                "imagePullSecrets": [{"name": "regcred"}],
                "containers": [{
                    "name": "c", "image": "nginx",
                    "env": [
                        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "k"}}},
                        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cm-opt", "key": "k", "optional": true}}}
                    ],
                    "envFrom": [{"secretRef": {"name": "s-opt", "optional": true}}]
                }],
                "volumes": [
                    {"name": "v1", "secret": {"secretName": "s1", "optional": true}},
                    {"name": "v2", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token", "audience": "api", "expirationSeconds": 600}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}
                    ]}}
                ]
            }
        }))
        .unwrap()
    }

    fn secret(data: &[(&str, &str)]) -> K8sSecret {
        K8sSecret {
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..K8sSecret::default()
        }
    }

    #[test]
    fn references_are_listed_with_optionality() {
        let r = pod_references(&pod());
        assert_eq!(
            r.secrets.get("s1"),
            Some(&true),
            "required once is required"
        );
        assert_eq!(r.secrets.get("s-opt"), Some(&false));
        assert_eq!(r.config_maps.get("cm-opt"), Some(&false));
        assert_eq!(r.config_maps.get("kube-root-ca.crt"), Some(&true));
        assert!(r.pull_secrets.contains("regcred"));
        assert_eq!(
            r.tokens.iter().next(),
            Some(&TokenKey {
                audience: Some("api".into()),
                expiration_seconds: 600
            })
        );
    }

    #[tokio::test]
    async fn resolves_and_mints_tokens() {
        let mut src = FakeSource::default();
        src.secrets.insert("s1".into(), secret(&[("k", "v")]));
        src.config_maps.insert(
            "kube-root-ca.crt".into(),
            ConfigMap {
                data: Some(BTreeMap::from([("ca.crt".into(), "CA".into())])),
                ..ConfigMap::default()
            },
        );
        let resolver = Resolver::with_source(src);
        let refs = resolver.resolve(&pod()).await.unwrap();
        assert_eq!(refs.secrets["s1"].get("k"), Some(&b"v"[..]));
        assert!(!refs.secrets.contains_key("s-opt"));
        let reasons: Vec<&str> = refs.adjustments.iter().map(|a| a.reason.as_str()).collect();
        assert_eq!(
            reasons,
            ["OptionalSecretNotFound", "OptionalConfigMapNotFound"],
            "{:?}",
            refs.adjustments
        );
        assert!(refs.adjustments[0].message.contains("s-opt"));
        assert!(
            !refs.secrets.contains_key("regcred"),
            "missing pull secret is not an error"
        );
        assert_eq!(
            refs.config_maps["kube-root-ca.crt"].get("ca.crt"),
            Some(&b"CA"[..])
        );
        let token = refs.tokens.values().next().unwrap();
        assert_eq!(token.expose(), "token-for-builder");
        assert!(!format!("{refs:?}").contains("token-for-builder"));
        assert!(!format!("{refs:?}").contains("\"v\""));
        let reqs = resolver.source.token_requests.lock().unwrap();
        let spec = &reqs[0].1.spec;
        assert_eq!(spec.audiences, vec!["api".to_owned()]);
        assert_eq!(spec.expiration_seconds, Some(600));
        assert_eq!(
            spec.bound_object_ref.as_ref().unwrap().uid.as_deref(),
            Some("u1")
        );
    }

    #[tokio::test]
    async fn missing_required_secret_is_named() {
        let resolver = Resolver::with_source(FakeSource::default());
        let err = resolver.resolve(&pod()).await.unwrap_err();
        let p = err.to_provider_error();
        assert_eq!(p.reason, "MandatorySecretNotFound");
        assert_eq!(p.kind, vk_pods::ErrorKind::ConfigUnavailable);
        assert!(p.message.contains("not found"), "{}", p.message);
    }

    #[tokio::test]
    async fn api_failures_are_transient() {
        let resolver = Resolver::with_source(FakeSource {
            fail: true,
            ..FakeSource::default()
        });
        let err = resolver.resolve(&pod()).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
    }
}
