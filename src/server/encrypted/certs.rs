//! The certificate and key of the encrypted listeners, read from PEM files and re-read when
//! they change, so that a renewal (certbot, an ACME client) needs no restart.
//!
//! The files are looked at (two `stat`s) on every handshake: far cheaper than the handshake
//! itself, and a new pair is served from the very next connection. A pair that does not
//! load (half written, mismatched) is logged and the old one kept.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio_rustls::rustls::crypto::ring::sign::any_supported_type;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// Why a certificate pair could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{0}: {1}")]
    Read(PathBuf, String),
    #[error("{0}: no certificate in the file")]
    Empty(PathBuf),
    #[error("{0}: the key does not match the certificate, or is of an unsupported type: {1}")]
    Key(PathBuf, String),
}

/// The pair being served, reloaded on change.
#[derive(Debug)]
pub struct Certs {
    cert: PathBuf,
    key: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    current: Arc<CertifiedKey>,
    /// What the files looked like when last read: a change is a new pair.
    seen: Option<[Stamp; 2]>,
}

/// A file's identity and modification: a rename over it changes the inode, an edit in place
/// the time or length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Certs {
    /// Reads the pair; fails when it does not load (the server then does not start).
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Certs>, CertError> {
        let seen = stamps(cert, key);
        let current = read(cert, key)?;
        Ok(Arc::new(Certs {
            cert: cert.to_owned(),
            key: key.to_owned(),
            state: Mutex::new(State { current, seen }),
        }))
    }

    /// The pair to serve now: re-read if the files changed since the last look.
    fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().expect("not poisoned");
        let seen = stamps(&self.cert, &self.key);
        if seen.is_some() && seen != state.seen {
            // Remember the stamps even when the pair is broken: it is logged once, and read
            // again when the files next change (the other half of a renewal, say).
            state.seen = seen;
            match read(&self.cert, &self.key) {
                Ok(pair) => {
                    tracing::info!(cert = %self.cert.display(), "certificate reloaded");
                    state.current = pair;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "new certificate not loaded, keeping the old one")
                }
            }
        }
        state.current.clone()
    }
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn stamps(cert: &Path, key: &Path) -> Option<[Stamp; 2]> {
    let stamp = |p: &Path| {
        std::fs::metadata(p).ok().map(|m| Stamp {
            inode: m.ino(),
            len: m.len(),
            modified: m.modified().ok(),
        })
    };
    Some([stamp(cert)?, stamp(key)?])
}

fn read(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, CertError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| CertError::Read(cert.to_owned(), e.to_string()))?;
    if chain.is_empty() {
        return Err(CertError::Empty(cert.to_owned()));
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| CertError::Read(key.to_owned(), e.to_string()))?;
    let signing =
        any_supported_type(&der).map_err(|e| CertError::Key(key.to_owned(), e.to_string()))?;
    let pair = CertifiedKey::new(chain, signing);
    pair.keys_match()
        .map_err(|e| CertError::Key(key.to_owned(), e.to_string()))?;
    Ok(Arc::new(pair))
}
