//! `imagePullSecrets` → `imageRegistryCredentials`, only for registries the
//! pod's images use.
//!
//! Secrets of type `kubernetes.io/dockerconfigjson` (`.dockerconfigjson`:
//! `{"auths": {server: {...}}}`) and `kubernetes.io/dockercfg` (`.dockercfg`:
//! `{server: {...}}`) are read; `username`/`password`, else `auth`
//! (base64 `user:password`). Docker Hub names (`docker.io`, `index.docker.io`,
//! `registry-1.docker.io`, `registry.hub.docker.com`) are aliases. Like the
//! kubelet, a missing or unusable pull secret is a warning, not an error.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;
use vk_aci::Secret;
use vk_aci::models::ImageRegistryCredential;

use super::Ctx;

#[derive(Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize, Default)]
struct DockerAuth {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    auth: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

const DOCKER_HUB: &str = "docker.io";

/// The canonical registry host of a server entry or an image's registry.
fn canonical(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB.into(),
        _ => host,
    }
}

/// The host of a docker config server key (`https://host/v1/` → `host`).
fn server_host(server: &str) -> String {
    let s = server
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    s.split('/').next().unwrap_or(s).to_owned()
}

/// The registry host of an image reference (`nginx` → `docker.io`).
pub(crate) fn image_registry(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            canonical(first)
        }
        _ => DOCKER_HUB.into(),
    }
}

/// Credentials for the registries of `images`.
pub(crate) fn registry_credentials(
    ctx: &mut Ctx<'_>,
    images: &[&str],
) -> Vec<ImageRegistryCredential> {
    let wanted: Vec<String> = images.iter().map(|i| image_registry(i)).collect();
    let mut out: Vec<ImageRegistryCredential> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for reference in ctx.spec.image_pull_secrets.iter().flatten() {
        let name = &reference.name;
        let Some(secret) = ctx.refs.secrets.get(name) else {
            ctx.warn(format!(
                "image pull secret {name:?} not found; pulling without it"
            ));
            continue;
        };
        let entries: Option<BTreeMap<String, DockerAuth>> = if let Some(raw) =
            secret.get(".dockerconfigjson")
        {
            serde_json::from_slice::<DockerConfigJson>(raw)
                .ok()
                .map(|c| c.auths)
        } else if let Some(raw) = secret.get(".dockercfg") {
            serde_json::from_slice(raw).ok()
        } else {
            ctx.warn(format!(
                    "image pull secret {name:?} is not of type kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg; ignored"
                ));
            continue;
        };
        let Some(entries) = entries else {
            ctx.warn(format!(
                "image pull secret {name:?} is not valid docker config JSON; ignored"
            ));
            continue;
        };
        for (server, auth) in entries {
            let host = server_host(&server);
            let key = canonical(&host);
            if !wanted.contains(&key) || seen.contains(&key) {
                continue;
            }
            let (username, password) = match (auth.username.clone(), auth.password.clone()) {
                (Some(u), Some(p)) if !u.is_empty() => (u, p),
                _ => match auth.auth.as_deref().and_then(decode_auth) {
                    Some(pair) => pair,
                    None => {
                        let why = if auth.identity_token.is_some() {
                            "identity tokens are not supported by ACI"
                        } else {
                            "it has no username and password"
                        };
                        ctx.warn(format!(
                            "image pull secret {name:?}: entry for {host} is ignored: {why}"
                        ));
                        continue;
                    }
                },
            };
            seen.push(key);
            out.push(ImageRegistryCredential {
                server: host,
                username: Some(username),
                password: Some(Secret::new(password)),
                ..ImageRegistryCredential::default()
            });
        }
    }
    out
}

/// `base64(user:password)` → `(user, password)`.
fn decode_auth(auth: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_hosts() {
        assert_eq!(image_registry("nginx"), "docker.io");
        assert_eq!(image_registry("library/nginx:1"), "docker.io");
        assert_eq!(image_registry("docker.io/library/nginx"), "docker.io");
        assert_eq!(image_registry("index.docker.io/x/y"), "docker.io");
        assert_eq!(
            image_registry("myacr.azurecr.io/app:v1"),
            "myacr.azurecr.io"
        );
        assert_eq!(image_registry("localhost:5000/app"), "localhost:5000");
        assert_eq!(
            server_host("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(
            decode_auth("dXNlcjpwYTpzcw=="),
            Some(("user".into(), "pa:ss".into()))
        );
    }
}
