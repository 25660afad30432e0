//! Certificates for a local cluster, generated with rcgen (X.509 v3, ECDSA P-256).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::Error;

/// PEM-encoded certificate and key.
#[derive(Clone)]
pub struct CertAndKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAndKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Everything a local cluster needs: a CA, the API server's serving
/// certificate, an admin client certificate (`O=system:masters`), the API
/// server's client certificate toward kubelets, and the service-account
/// token signing key pair.
#[derive(Clone)]
pub struct ClusterCerts {
    /// The cluster CA (also signs CSRs through the controller-manager).
    pub ca: CertAndKey,
    /// kube-apiserver's serving certificate (SANs 127.0.0.1, localhost, kubernetes.default.svc…).
    pub apiserver: CertAndKey,
    /// The admin client certificate (`CN=vk-admin, O=system:masters`).
    pub admin: CertAndKey,
    /// The client certificate kube-apiserver presents to kubelets
    /// (`CN=kube-apiserver-kubelet-client, O=system:masters`).
    pub apiserver_kubelet_client: CertAndKey,
    /// The service-account signing key, PEM private key.
    pub sa_key_pem: String,
    /// The service-account verification key, PEM public key.
    pub sa_pub_pem: String,
}

impl std::fmt::Debug for ClusterCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCerts")
            .field("ca", &self.ca)
            .field("apiserver", &self.apiserver)
            .field("admin", &self.admin)
            .field("apiserver_kubelet_client", &self.apiserver_kubelet_client)
            .field("sa_key_pem", &"<redacted>")
            .field("sa_pub_pem", &self.sa_pub_pem)
            .finish()
    }
}

fn cert_err(what: &'static str) -> impl FnOnce(rcgen::Error) -> Error {
    move |source| Error::Certificate { what, source }
}

fn leaf(
    what: &'static str,
    cn: &str,
    org: Option<&str>,
    sans: Vec<SanType>,
    usage: ExtendedKeyUsagePurpose,
    issuer: &Issuer<'_, KeyPair>,
) -> Result<CertAndKey, Error> {
    let key = KeyPair::generate().map_err(cert_err(what))?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    if let Some(org) = org {
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
    }
    params.subject_alt_names = sans;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer).map_err(cert_err(what))?;
    Ok(CertAndKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

impl ClusterCerts {
    /// Generates a fresh set of certificates.
    pub fn generate() -> Result<Self, Error> {
        let ca_key = KeyPair::generate().map_err(cert_err("CA key"))?;
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "vk-local-cluster-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(cert_err("CA"))?;
        let ca = CertAndKey {
            cert_pem: ca_cert.pem(),
            key_pem: ca_key.serialize_pem(),
        };
        let issuer = Issuer::new(ca_params, ca_key);

        let mut sans = vec![
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            // The first address of the service range (kubernetes.default).
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        ];
        for dns in [
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ] {
            sans.push(SanType::DnsName(
                dns.try_into().map_err(cert_err("API server SAN"))?,
            ));
        }
        let apiserver = leaf(
            "API server serving",
            "kube-apiserver",
            None,
            sans,
            ExtendedKeyUsagePurpose::ServerAuth,
            &issuer,
        )?;
        let admin = leaf(
            "admin client",
            "vk-admin",
            Some("system:masters"),
            vec![],
            ExtendedKeyUsagePurpose::ClientAuth,
            &issuer,
        )?;
        let apiserver_kubelet_client = leaf(
            "API server kubelet client",
            "kube-apiserver-kubelet-client",
            Some("system:masters"),
            vec![],
            ExtendedKeyUsagePurpose::ClientAuth,
            &issuer,
        )?;
        let sa = KeyPair::generate().map_err(cert_err("service-account key"))?;
        Ok(Self {
            ca,
            apiserver,
            admin,
            apiserver_kubelet_client,
            sa_key_pem: sa.serialize_pem(),
            sa_pub_pem: sa.public_key_pem(),
        })
    }

    /// Writes the PEM files into `dir` (private keys with mode 0600).
    pub fn write_to(&self, dir: &Path) -> Result<(), Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let write = |name: &str, data: &str, private: bool| -> Result<(), Error> {
            let path = dir.join(name);
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            if private {
                opts.mode(0o600);
            }
            let mut f = opts.open(&path).map_err(Error::io("writing", &path))?;
            std::io::Write::write_all(&mut f, data.as_bytes()).map_err(Error::io("writing", &path))
        };
        write("ca.crt", &self.ca.cert_pem, false)?;
        write("ca.key", &self.ca.key_pem, true)?;
        write("apiserver.crt", &self.apiserver.cert_pem, false)?;
        write("apiserver.key", &self.apiserver.key_pem, true)?;
        write("admin.crt", &self.admin.cert_pem, false)?;
        write("admin.key", &self.admin.key_pem, true)?;
        write(
            "apiserver-kubelet-client.crt",
            &self.apiserver_kubelet_client.cert_pem,
            false,
        )?;
        write(
            "apiserver-kubelet-client.key",
            &self.apiserver_kubelet_client.key_pem,
            true,
        )?;
        write("sa.key", &self.sa_key_pem, true)?;
        write("sa.pub", &self.sa_pub_pem, false)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_distinct_pem_material() {
        let c = ClusterCerts::generate().unwrap();
        for pem in [&c.ca.cert_pem, &c.apiserver.cert_pem, &c.admin.cert_pem] {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        assert!(c.sa_pub_pem.contains("PUBLIC KEY"));
        assert!(c.sa_key_pem.contains("PRIVATE KEY"));
        assert_ne!(c.admin.key_pem, c.apiserver.key_pem);
        assert!(!format!("{c:?}").contains(&c.admin.key_pem));
    }
}
