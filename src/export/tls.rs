//! TLS settings shared by the HTTP and gRPC transports: which certificates to trust and which
//! to present.
//!
//! Both transports use rustls with the ring provider (one crypto backend, no C toolchain).
//! The files are read and parsed once, here, so that a wrong path or a file that is not PEM is
//! reported before the run starts with the option that named it, rather than as a handshake
//! failure on the first request. The system's trust store is always used too; `--ca-cert` adds
//! a CA (typically a private one) rather than replacing the store.

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};

/// Where the TLS material comes from (all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file of CA certificates to trust (`--ca-cert`, `OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub ca_cert: Option<PathBuf>,
    /// PEM certificate chain presented to the server, for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// The files of [`TlsOptions`], read and checked.
#[derive(Clone, Debug, Default)]
pub struct TlsMaterial {
    pub ca_pem: Option<Vec<u8>>,
    /// (certificate chain PEM, private key PEM)
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the {what} {}: {error}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the {what} {} holds no PEM {expected}", path.display())]
    NotPem {
        what: &'static str,
        path: PathBuf,
        expected: &'static str,
    },
    #[error(
        "a client certificate needs its key, and a key its certificate: give both --client-cert and --client-key"
    )]
    HalfIdentity,
}

impl TlsOptions {
    pub fn load(&self) -> Result<TlsMaterial, TlsError> {
        let ca_pem = self
            .ca_cert
            .as_deref()
            .map(|p| read_certificates("CA certificate file", p))
            .transpose()?;
        let identity = match (&self.client_cert, &self.client_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let cert = read_certificates("client certificate file", cert)?;
                let key_pem = read("client key file", key)?;
                if PrivateKeyDer::from_pem_slice(&key_pem).is_err() {
                    return Err(TlsError::NotPem {
                        what: "client key file",
                        path: key.clone(),
                        expected: "private key",
                    });
                }
                Some((cert, key_pem))
            }
            _ => return Err(TlsError::HalfIdentity),
        };
        Ok(TlsMaterial { ca_pem, identity })
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    crate::input::read(path, crate::input::MAX_FILE_BYTES).map_err(|error| TlsError::Read {
        what,
        path: path.to_owned(),
        error,
    })
}

fn read_certificates(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = read(what, path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .filter(Result::is_ok)
        .count();
    if certificates == 0 {
        return Err(TlsError::NotPem {
            what,
            path: path.to_owned(),
            expected: "certificate",
        });
    }
    Ok(pem)
}

/// The TLS failure behind a failed request, if it was one a retry cannot fix (the server's
/// certificate is not trusted, ours was refused, or the server does not speak TLS at all).
pub fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(mut e) = cause {
        // `io::Error::source` skips the error it wraps, and TLS errors arrive wrapped in an
        // io::Error (sometimes twice): look inside.
        while let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            e = inner;
        }
        match e.downcast_ref::<rustls::Error>() {
            Some(
                tls @ (rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented
                | rustls::Error::AlertReceived(_)),
            ) => return Some(tls.to_string()),
            Some(tls @ rustls::Error::InvalidMessage(_)) => {
                return Some(format!(
                    "{tls} (does the endpoint speak plaintext? then use http:// or --insecure)"
                ));
            }
            _ => {}
        }
        cause = e.source();
    }
    None
}

/// Makes ring the process's rustls crypto provider (once; later calls do nothing).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_malformed_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let err = TlsOptions {
            ca_cert: Some(junk.clone()),
            ..Default::default()
        }
        .load()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("junk.pem holds no PEM certificate"),
            "{err}"
        );
        let err = TlsOptions {
            ca_cert: Some(dir.path().join("absent.pem")),
            ..Default::default()
        }
        .load()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot read the CA certificate file"),
            "{err}"
        );
        let err = TlsOptions {
            client_cert: Some(junk),
            ..Default::default()
        }
        .load()
        .unwrap_err();
        assert!(matches!(err, TlsError::HalfIdentity));
    }
}
