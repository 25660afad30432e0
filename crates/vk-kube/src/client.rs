//! Building the limited client ([`ClientConfig::client`]).

use std::path::Path;

use crate::{ClientConfig, Error, LimitLayer, RequestMetrics};

impl ClientConfig {
    /// A Kubernetes client from `kubeconfig` (its current context), or when `None` from the
    /// usual inference (in-cluster, `KUBECONFIG`, `~/.kube/config`), limited to
    /// [`qps`](Self::qps) with a [`burst`](Self::burst) ([`LimitLayer`]) and counting its
    /// requests in `metrics`. Clones of the client share the limit.
    ///
    /// Call it inside a Tokio runtime: the client spawns its request buffer there.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), vk_kube::Error> {
    /// let requests = vk_kube::RequestMetrics::default();
    /// let kubeconfig = std::path::Path::new("/etc/vk/kubeconfig");
    /// let client = vk_kube::ClientConfig::default()
    ///     .client(Some(kubeconfig), &requests)
    ///     .await?;
    /// # drop(client);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn client(
        &self,
        kubeconfig: Option<&Path>,
        metrics: &RequestMetrics,
    ) -> Result<kube::Client, Error> {
        let config = match kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path).map_err(|source| {
                    Error::ReadKubeconfig {
                        path: path.to_owned(),
                        source,
                    }
                })?;
                let options = kube::config::KubeConfigOptions::default();
                kube::Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|source| Error::Kubeconfig {
                        path: path.to_owned(),
                        source,
                    })?
            }
            None => kube::Config::infer()
                .await
                .map_err(|source| Error::Infer { source })?,
        };
        let layer = LimitLayer::new(self.qps, self.burst, metrics.clone());
        Ok(kube::client::ClientBuilder::try_from(config)
            .map_err(|source| Error::Client { source })?
            .with_layer(&layer)
            .build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_kubeconfig_names_the_file() {
        let path = std::env::temp_dir().join("vk-kube-test-no-such.kubeconfig");
        let err = ClientConfig::default()
            .client(Some(&path), &RequestMetrics::default())
            .await
            .err()
            .expect("no file");
        assert!(matches!(err, Error::ReadKubeconfig { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("kubeconfig: cannot read {}", path.display())
        );
    }

    #[tokio::test]
    async fn a_kubeconfig_without_a_context_is_not_usable() {
        let path =
            std::env::temp_dir().join(format!("vk-kube-test-{}.kubeconfig", std::process::id()));
        std::fs::write(&path, "apiVersion: v1\nkind: Config\n").expect("written");
        let err = ClientConfig::default()
            .client(Some(&path), &RequestMetrics::default())
            .await
            .err()
            .expect("no context");
        let _ = std::fs::remove_file(&path);
        assert!(matches!(err, Error::Kubeconfig { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("kubeconfig: {} is not usable", path.display())
        );
    }

    #[tokio::test]
    async fn a_kubeconfig_gives_a_limited_client() {
        let path =
            std::env::temp_dir().join(format!("vk-kube-test-ok-{}.kubeconfig", std::process::id()));
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n\
             users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n\
             current-context: c\n",
        )
        .expect("written");
        let requests = RequestMetrics::default();
        let client = ClientConfig::default().client(Some(&path), &requests).await;
        let _ = std::fs::remove_file(&path);
        let client = client.expect("a client");
        // Nothing listens on port 1: the request fails, but it went through the layer.
        let _ = client.apiserver_version().await;
        assert_eq!(requests.requests("get"), 1);
    }
}
