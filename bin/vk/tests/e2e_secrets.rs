//! End to end: Secrets through a whole pod lifecycle, with vk logging at
//! `trace` for every target. Secret bytes may reach ACI only in `secureValue`,
//! secret volume contents and `imageRegistryCredentials[].password`; they must
//! never appear in vk's logs, the cluster's Events, the container groups'
//! tags, plain values or any other field, vk's `/metrics`, or the pods.
#![allow(clippy::unwrap_used)]

#[path = "e2e/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::hash::{BuildHasher as _, Hasher as _};

use harness::{Vk, client, config, emulator, http_get, unique, wait_ready};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Event, Node, Pod, Secret, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};
use serde_json::{Value, json};
use vk_aci_emulator::{FaultRule, RunningEmulator};
use vk_testkit::pod::running_ready;
use vk_testkit::{TestEnv, wait};

const FAST: &str = "[reconciler]\nsync_interval_secs = 1\nsteady_sync_interval_secs = 5\norphan_gc_grace_secs = 5\n\
                    [aci.rate_limit]\nreads_per_sec = 1000.0\nread_burst = 1000\nwrites_per_sec = 1000.0\nwrite_burst = 1000\n[aci.quotas]\ncreates_per_5_minutes = 0\ncreates_per_hour = 0\ndeletes_per_5_minutes = 0\ndeletes_per_hour = 0\n\
                    [log]\nfilter = \"trace\"\n";

/// The registry the pods pull from, with credentials from a pull secret.
const REGISTRY: &str = "secretsreg.example.com";
const PULL_USER: &str = "puller";

/// A random 24-character token: nothing else in the run can contain it.
fn token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let len = ALPHABET.len() as u64;
    let mut out = String::new();
    while out.len() < 24 {
        // A fresh RandomState has fresh keys: each hash is a new random number.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(out.len());
        let mut v = h.finish();
        for _ in 0..8 {
            out.push(char::from(ALPHABET[usize::try_from(v % len).unwrap()]));
            v /= len;
        }
    }
    out.truncate(24);
    out
}

/// Standard base64, as the API server encodes a Secret's `data`.
fn b64(text: &str) -> String {
    serde_json::to_value(ByteString(text.as_bytes().to_vec()))
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// One piece of secret material and every form it may travel in.
struct Material {
    what: String,
    forms: Vec<String>,
}

impl Material {
    /// The value and its base64 encoding (a Secret's `data`, a secret volume file).
    fn new(what: &str, value: &str) -> Self {
        Self {
            what: what.to_owned(),
            forms: vec![value.to_owned(), b64(value)],
        }
    }

    fn with_form(mut self, form: String) -> Self {
        self.forms.push(form);
        self
    }
}

/// Every (material, form) found in `text`, as `where: what (form) in …context…`.
fn leaks(place: &str, text: &str, materials: &[Material]) -> Vec<String> {
    let mut found = Vec::new();
    for m in materials {
        for form in &m.forms {
            for (at, _) in text.match_indices(form.as_str()) {
                let mut start = at.saturating_sub(160);
                while !text.is_char_boundary(start) {
                    start -= 1;
                }
                let mut end = (at + form.len() + 80).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                found.push(format!(
                    "{place}: {} ({form}) in …{}…",
                    m.what,
                    &text[start..end]
                ));
            }
        }
    }
    found
}

/// Whether a JSON path (of a request body sent to ACI) is a secure field.
fn secure_path(path: &[String]) -> bool {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        // properties.{containers,initContainers}[i].properties.environmentVariables[j].secureValue
        [
            "properties",
            "containers" | "initContainers",
            _,
            "properties",
            "environmentVariables",
            _,
            "secureValue",
        ] => true,
        // properties.volumes[i].secret.<file>
        ["properties", "volumes", _, "secret", _] => true,
        // properties.imageRegistryCredentials[i].password
        ["properties", "imageRegistryCredentials", _, "password"] => true,
        _ => false,
    }
}

/// Leaks in `value` outside the secure fields, checking object keys too.
fn json_leaks(place: &str, value: &Value, materials: &[Material]) -> Vec<String> {
    fn walk(
        place: &str,
        path: &mut Vec<String>,
        v: &Value,
        materials: &[Material],
        out: &mut Vec<String>,
    ) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    out.extend(leaks(
                        &format!("{place} key at /{}", path.join("/")),
                        k,
                        materials,
                    ));
                    path.push(k.clone());
                    walk(place, path, child, materials, out);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(i.to_string());
                    walk(place, path, child, materials, out);
                    path.pop();
                }
            }
            Value::String(s) if !secure_path(path) => {
                out.extend(leaks(&format!("{place} /{}", path.join("/")), s, materials));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(place, &mut Vec::new(), value, materials, &mut out);
    out
}

/// A plain HTTP/1.0 GET with a bearer token on the emulator (ARM), the body as JSON.
async fn arm_get(emu: &RunningEmulator, path_and_query: &str) -> Value {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let token = emu.admin().issue_token();
    let host = emu.base_url().trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(host.as_str()).await.unwrap();
    let req = format!(
        "GET {path_and_query} HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let (head, body) = buf.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}\n{body}"
    );
    serde_json::from_str(body).unwrap()
}

fn secret(name: &str, type_: Option<&str>, data: &[(&str, &str)]) -> Secret {
    let string_data: BTreeMap<&str, &str> = data.iter().copied().collect();
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "type": type_.unwrap_or("Opaque"),
        "stringData": string_data,
    }))
    .unwrap()
}

fn env_var<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["properties"]["environmentVariables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no variable {name} in {container}"))
}

/// The secret volumes of a request body: volume name → file name → content (base64).
fn secret_volumes(body: &Value) -> BTreeMap<String, BTreeMap<String, String>> {
    body["properties"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let files = v["secret"].as_object()?;
            let files = files
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            Some((v["name"].as_str().unwrap_or_default().to_owned(), files))
        })
        .collect()
}

#[tokio::test]
async fn secrets_stay_in_secure_fields_through_a_pod_lifecycle_with_trace_logs() {
    let (kube, kubeconfig) = client().await;
    let emu = emulator("127.0.0.1:0").await;
    let node = unique("vk-secrets-linux");
    let (text, admin) = config(
        &kubeconfig,
        emu.base_url(),
        &[(node.clone(), "linux")],
        FAST,
    );
    // vk's own ARM credential is secret material too.
    let client_secret = token();
    let text = text.replace(
        "client_secret = \"e2e-secret\"",
        &format!("client_secret = \"{client_secret}\""),
    );
    let mut vk = Vk::start_with_log(&text, admin, "trace");
    let nodes: Api<Node> = Api::all(kube.clone());
    wait_ready(&nodes, &node, "True", 30).await;

    let env = TestEnv::get().await;
    let ns = env.namespace("secrets").await;
    let secrets: Api<Secret> = Api::namespaced(ns.client.clone(), &ns.name);
    let pods: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);

    // Secrets with random values, one source each.
    let env_password = token();
    let bulk_api_key = token();
    let bulk_db_pass = token();
    let file_key = token();
    let file_token = token();
    let projected_token = token();
    let pull_password = token();
    let pull_auth = b64(&format!("{PULL_USER}:{pull_password}"));
    let dockerconfig = json!({"auths": {REGISTRY: {
        "username": PULL_USER, "password": pull_password, "auth": pull_auth
    }}})
    .to_string();
    for s in [
        secret("app", None, &[("password", &env_password)]),
        secret(
            "bulk",
            None,
            &[("API_KEY", &bulk_api_key), ("DB_PASS", &bulk_db_pass)],
        ),
        secret(
            "files",
            None,
            &[("tls.key", &file_key), ("token", &file_token)],
        ),
        secret("proj", None, &[("api-token", &projected_token)]),
        secret(
            "regcred",
            Some("kubernetes.io/dockerconfigjson"),
            &[(".dockerconfigjson", &dockerconfig)],
        ),
    ] {
        secrets.create(&PostParams::default(), &s).await.unwrap();
    }
    // The namespace's service-account token, mounted into the `files` pod
    // (Kubernetes 1.20 mounts it as a secret volume).
    let sas: Api<ServiceAccount> = Api::namespaced(ns.client.clone(), &ns.name);
    let sa_secret = sas.get("default").await.unwrap().secrets.unwrap()[0]
        .name
        .clone()
        .unwrap();
    let sa_token = secrets.get(&sa_secret).await.unwrap().data.unwrap()["token"]
        .0
        .clone();
    let sa_token = String::from_utf8(sa_token).unwrap();

    let materials = vec![
        Material::new("env secretKeyRef app/password", &env_password),
        Material::new("envFrom bulk/API_KEY", &bulk_api_key),
        Material::new("envFrom bulk/DB_PASS", &bulk_db_pass),
        Material::new("secret volume files/tls.key", &file_key),
        Material::new("secret volume files/token", &file_token),
        Material::new("projected secret proj/api-token", &projected_token),
        Material::new("pull secret password", &pull_password)
            .with_form(pull_auth.clone())
            .with_form(b64(&dockerconfig)),
        Material::new("service-account token", &sa_token),
        Material::new("vk's ARM client secret", &client_secret),
    ];

    let image = format!("{REGISTRY}/team/app:1");
    let command = json!(["sh", "-c", "echo started; sleep 100000"]);
    let tolerations = json!([{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]);
    let env_pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "env"},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "imagePullSecrets": [{"name": "regcred"}],
            "containers": [{
                "name": "main", "image": image, "command": command,
                "env": [
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app", "key": "password"}}},
                    {"name": "PLAIN", "value": "not-a-secret"}
                ],
                "envFrom": [{"secretRef": {"name": "bulk"}, "prefix": "BULK_"}]
            }],
            "tolerations": tolerations
        }
    }))
    .unwrap();
    let files_pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "files"},
        "spec": {
            "nodeName": node,
            "imagePullSecrets": [{"name": "regcred"}],
            "containers": [{
                "name": "main", "image": image, "command": command,
                "volumeMounts": [
                    {"name": "files", "mountPath": "/etc/files", "readOnly": true},
                    {"name": "proj", "mountPath": "/etc/proj", "readOnly": true}
                ]
            }],
            "volumes": [
                {"name": "files", "secret": {"secretName": "files"}},
                {"name": "proj", "projected": {"sources": [
                    {"secret": {"name": "proj", "items": [{"key": "api-token", "path": "api-token.txt"}]}}
                ]}}
            ],
            "tolerations": tolerations
        }
    }))
    .unwrap();
    // The error path too: ACI refuses the creates with a registry error (not
    // retried by the ACI client, so the reconciler fails, logs, reports the
    // error on the pod and retries, with the secrets in hand) until both pods
    // show it.
    let group_of = |pod: &str| vk_provider_aci::group_name(&ns.name, pod);
    emu.admin().inject_fault(
        FaultRule::new("create")
            .for_group(format!("{}-*", ns.name))
            .with_status(409)
            .with_error(
                "RegistryErrorResponse",
                format!(
                    "An error response is received from the docker registry '{REGISTRY}'. Please retry later."
                ),
            ),
    );
    pods.create(&PostParams::default(), &env_pod).await.unwrap();
    pods.create(&PostParams::default(), &files_pod)
        .await
        .unwrap();
    let mut found = Vec::new();
    for name in ["env", "files"] {
        let pending = wait::until(
            &format!("pod {name} Pending with the registry error"),
            60,
            || async {
                pods.get(name).await.ok().filter(|p| {
                    serde_json::to_string(&p.status)
                        .unwrap()
                        .contains("RegistryErrorResponse")
                })
            },
        )
        .await;
        found.extend(json_leaks(
            &format!("pod {name} (pending)"),
            &serde_json::to_value(&pending).unwrap(),
            &materials,
        ));
    }
    emu.admin().clear_faults();

    // Created → Running in the emulator.
    for name in ["env", "files"] {
        wait::until(&format!("pod {name} Running and Ready"), 90, || async {
            pods.get(name).await.ok().filter(running_ready)
        })
        .await;
    }
    // The logs, through the API server and vk's kubelet API.
    for name in ["env", "files"] {
        let logs = pods.logs(name, &LogParams::default()).await.unwrap();
        assert_eq!(logs, "started\n", "logs of {name}");
    }

    assert!(
        emu.admin().count_status("create", 409) >= 2,
        "the creates were refused"
    );

    // What vk sent to ACI: every create and update body of both groups.
    let mut bodies = Vec::new();
    for pod in ["env", "files"] {
        let requests = emu.admin().requests(&group_of(pod));
        assert!(!requests.is_empty(), "no request recorded for {pod}");
        for r in &requests {
            found.extend(leaks(&format!("{pod} request path"), &r.path, &materials));
            found.extend(json_leaks(
                &format!("{pod} {} body", r.op),
                &r.body,
                &materials,
            ));
        }
        bodies.push(requests.last().unwrap().body.clone());
        // The group as ACI returns it, tags included.
        let group = arm_get(
            &emu,
            &format!(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/e2e/providers/\
                 Microsoft.ContainerInstance/containerGroups/{}?api-version=2023-05-01",
                group_of(pod)
            ),
        )
        .await;
        assert!(
            group["tags"].as_object().is_some_and(|t| !t.is_empty()),
            "{group}"
        );
        found.extend(json_leaks(
            &format!("{pod} group (GET)"),
            &group,
            &materials,
        ));
    }

    // The secrets did reach ACI, in the secure fields.
    let env_body = &bodies[0];
    let main = &env_body["properties"]["containers"][0];
    for (name, value) in [
        ("PASSWORD", &env_password),
        ("BULK_API_KEY", &bulk_api_key),
        ("BULK_DB_PASS", &bulk_db_pass),
    ] {
        let var = env_var(main, name);
        assert_eq!(var["secureValue"], value.as_str(), "{name}");
        assert!(var.get("value").is_none_or(Value::is_null), "{var}");
    }
    assert_eq!(env_var(main, "PLAIN")["value"], "not-a-secret");
    let volumes = secret_volumes(&bodies[1]);
    for (volume, file, value) in [
        ("files", "tls.key", &file_key),
        ("files", "token", &file_token),
        ("proj", "api-token.txt", &projected_token),
        (sa_secret.as_str(), "token", &sa_token),
    ] {
        assert_eq!(
            volumes
                .get(volume)
                .and_then(|f| f.get(file))
                .map(String::as_str),
            Some(b64(value).as_str()),
            "volume {volume}, file {file}, in {volumes:?}"
        );
    }
    for (pod, body) in ["env", "files"].iter().zip(&bodies) {
        let creds = &body["properties"]["imageRegistryCredentials"];
        assert_eq!(
            creds,
            &json!([{"server": REGISTRY, "username": PULL_USER, "password": pull_password}]),
            "registry credentials of {pod}"
        );
    }

    // The detector itself: it finds the values in the Secrets.
    for name in [
        "app",
        "bulk",
        "files",
        "proj",
        "regcred",
        sa_secret.as_str(),
    ] {
        let s = serde_json::to_value(secrets.get(name).await.unwrap()).unwrap();
        assert!(
            !json_leaks("control", &s, &materials).is_empty(),
            "the check does not see the data of Secret {name}"
        );
    }

    // The pods as the API server holds them, status included.
    for pod in ["env", "files"] {
        let p = pods.get(pod).await.unwrap();
        found.extend(json_leaks(
            &format!("pod {pod}"),
            &serde_json::to_value(&p).unwrap(),
            &materials,
        ));
    }

    // Deleted → gone, and the groups with them.
    for pod in ["env", "files"] {
        pods.delete(pod, &DeleteParams::default()).await.unwrap();
    }
    for pod in ["env", "files"] {
        wait::deleted(&pods, pod, 90).await;
    }
    wait::until("both container groups deleted", 60, || async {
        let left: Vec<_> = emu
            .admin()
            .groups()
            .into_iter()
            .filter(|g| g.name.starts_with(&ns.name))
            .collect();
        left.is_empty().then_some(())
    })
    .await;

    // Events, in every namespace (the values are unique to this test).
    let events: Api<Event> = Api::all(kube.clone());
    let all_events = events.list(&ListParams::default()).await.unwrap().items;
    let ours = all_events
        .iter()
        .filter(|e| e.involved_object.namespace.as_deref() == Some(ns.name.as_str()))
        .count();
    assert!(
        ours > 0,
        "no Event about this test's pods: nothing was checked"
    );
    for e in &all_events {
        found.extend(json_leaks(
            &format!(
                "event {}/{}",
                e.metadata.namespace.as_deref().unwrap_or(""),
                e.metadata.name.as_deref().unwrap_or("")
            ),
            &serde_json::to_value(e).unwrap(),
            &materials,
        ));
    }

    // vk's metrics.
    let metrics = http_get(vk.admin, "/metrics").await;
    assert!(metrics.contains("vk_"), "no metrics: {metrics}");
    found.extend(leaks("/metrics", &metrics, &materials));

    // vk's whole output at trace level, once it has stopped (SIGTERM).
    assert_eq!(vk.terminate(30).await, Some(0), "vk exits cleanly");
    let log = vk.log_text();
    assert!(
        log.contains("TRACE"),
        "vk did not log at trace level: {}",
        vk.log_tail()
    );
    assert!(
        log.contains(&group_of("env")) && log.contains(&group_of("files")),
        "vk's log does not mention the groups: the capture is incomplete"
    );
    assert!(
        log.contains("RegistryErrorResponse"),
        "vk's log does not show the refused creates"
    );
    found.extend(leaks("vk's log", &log, &materials));
    // Neither vk's ARM bearer tokens nor its Kubernetes credentials.
    for (what, needle) in [
        ("an ARM bearer token", "aciemu."),
        ("a private key", "PRIVATE KEY"),
    ] {
        if let Some(line) = log.lines().find(|l| l.contains(needle)) {
            found.push(format!("vk's log: {what} in {line}"));
        }
    }
    eprintln!(
        "checked {} log bytes ({} lines), {} events ({ours} in {}), {} metrics bytes, {} request bodies",
        log.len(),
        log.lines().count(),
        all_events.len(),
        ns.name,
        metrics.len(),
        ["env", "files"]
            .iter()
            .map(|p| emu.admin().requests(&group_of(p)).len())
            .sum::<usize>(),
    );

    let _ = nodes.delete(&node, &DeleteParams::default()).await;
    emu.shutdown().await.unwrap();
    assert!(
        found.is_empty(),
        "{} secret leak(s):\n{}",
        found.len(),
        found.join("\n")
    );
}
