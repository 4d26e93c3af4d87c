//! Serving TLS with rustls (RFC 8446; HTTP/2 and HTTP/1.1 chosen by ALPN, RFC 7301). The certificate
//! and key are PEM files read into a [`Certificates`] resolver that hands every new handshake the
//! current pair: a reload (SIGHUP, or the files changing) swaps the pair for new connections and leaves
//! the connections already open untouched, so no request is dropped. A pair that fails to load is
//! refused and the one in use stays.
//!
//! Changes are found by polling the files' modification times: a few `stat`s every few seconds, no
//! inotify watch to lose when a secret store replaces the files by renaming a directory over them.

use arc_swap::ArcSwap;
use rustls::{
    crypto::CryptoProvider,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
    ServerConfig,
};
use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("the key does not match the certificate, or cannot sign: {0}")]
    Mismatch(String),
    #[error("TLS settings: {0}")]
    Config(String),
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The ring provider the workspace pins.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a certificate chain and its key from PEM files into a pair rustls can serve.
pub fn load_pair(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| file_error(cert_file, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(cert_file, e))?;
    if chain.is_empty() {
        return Err(file_error(cert_file, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| file_error(key_file, e))?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| TlsError::Mismatch(e.to_string()))
}

/// The modification times of the two files (a change of either means a reload).
fn stamps(cert_file: &Path, key_file: &Path) -> Option<(SystemTime, SystemTime)> {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((m(cert_file)?, m(key_file)?))
}

/// The certificate served to new handshakes, replaceable while the server runs.
pub struct Certificates {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: ArcSwap<CertifiedKey>,
    seen: Mutex<Option<(SystemTime, SystemTime)>>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl Certificates {
    /// Loads the pair; an error names the file and why.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<Self>, TlsError> {
        let seen = stamps(cert_file, key_file);
        let pair = load_pair(cert_file, key_file)?;
        Ok(Arc::new(Self {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            current: ArcSwap::from_pointee(pair),
            seen: Mutex::new(seen),
        }))
    }

    /// Reads the files again and serves the new pair to new handshakes; on error the pair in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let seen = stamps(&self.cert_file, &self.key_file);
        let pair = load_pair(&self.cert_file, &self.key_file)?;
        self.current.store(Arc::new(pair));
        if let Ok(mut s) = self.seen.lock() {
            *s = seen;
        }
        Ok(())
    }

    /// Reloads when either file changed since the last load: `Ok(true)` when a new pair is served.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamps(&self.cert_file, &self.key_file);
        let changed = self.seen.lock().map(|s| now.is_some() && *s != now).unwrap_or(false);
        if !changed {
            return Ok(false);
        }
        match self.reload() {
            Ok(()) => Ok(true),
            Err(e) => {
                // Not again until the files change again: a half-written pair is retried once complete.
                if let Ok(mut s) = self.seen.lock() {
                    *s = now;
                }
                Err(e)
            }
        }
    }

    /// The DER of the leaf certificate served now.
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.current.load().cert.first().cloned()
    }

    /// Checks the files every `every` for as long as the process lives, reporting each reload.
    pub fn watch(self: &Arc<Self>, every: Duration, report: fn(Result<(), &TlsError>)) {
        if every.is_zero() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match me.reload_if_changed() {
                    Ok(false) => {}
                    Ok(true) => report(Ok(())),
                    Err(e) => report(Err(&e)),
                }
            }
        });
    }

    /// A rustls server configuration resolving to this pair, offering HTTP/2 and HTTP/1.1.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The `Strict-Transport-Security` value sent by servers reached over https (RFC 6797): a year.
pub const HSTS: &str = "max-age=31536000";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k, cert.der().to_vec())
    }

    #[test]
    fn a_reload_swaps_the_pair_and_a_bad_pair_is_refused_keeping_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k, first) = write_pair(dir.path(), "one.test");
        let certs = Certificates::load(&c, &k).unwrap();
        assert_eq!(certs.leaf().unwrap().as_ref(), first.as_slice());
        assert!(!certs.reload_if_changed().unwrap(), "nothing changed");

        let (_, _, second) = write_pair(dir.path(), "two.test");
        certs.reload().unwrap();
        assert_eq!(certs.leaf().unwrap().as_ref(), second.as_slice());

        // A key of another certificate: refused, the second pair stays.
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&k, other.serialize_pem()).unwrap();
        assert!(matches!(certs.reload(), Err(TlsError::Mismatch(_))));
        std::fs::write(&c, "not a certificate").unwrap();
        assert!(matches!(certs.reload(), Err(TlsError::File { .. })));
        assert_eq!(certs.leaf().unwrap().as_ref(), second.as_slice());
        assert!(certs.server_config().unwrap().alpn_protocols.contains(&b"h2".to_vec()));
    }

    #[test]
    fn missing_files_are_named() {
        let err = Certificates::load(Path::new("/nonexistent/c.pem"), Path::new("/nonexistent/k.pem")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.pem"), "{err}");
    }
}
