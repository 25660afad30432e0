//! Writes the admin kubeconfig of a local cluster.

use base64::Engine as _;

use crate::certs::ClusterCerts;

/// Renders a kubeconfig (YAML) with embedded CA and admin client credentials.
pub(crate) fn render(name: &str, server: &str, certs: &ClusterCerts) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {name}\n  \
           cluster:\n    \
             server: {server}\n    \
             certificate-authority-data: {ca}\n\
         users:\n\
         - name: {name}-admin\n  \
           user:\n    \
             client-certificate-data: {cert}\n    \
             client-key-data: {key}\n\
         contexts:\n\
         - name: {name}\n  \
           context:\n    \
             cluster: {name}\n    \
             user: {name}-admin\n\
         current-context: {name}\n",
        ca = b64(&certs.ca.cert_pem),
        cert = b64(&certs.admin.cert_pem),
        key = b64(&certs.admin.key_pem),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_kubeconfig_kube_can_read() {
        let certs = ClusterCerts::generate().unwrap();
        let text = render("t1", "https://127.0.0.1:6443", &certs);
        let kc = kube::config::Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(kc.current_context.as_deref(), Some("t1"));
        let cluster = kc.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        let user = kc.auth_infos[0].auth_info.as_ref().unwrap();
        assert!(user.client_certificate_data.is_some());
    }
}
