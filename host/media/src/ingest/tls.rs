//! TLS for RTMPS ingest: a rustls server acceptor from PEM files (always with the ring
//! crypto provider, never a process-wide default), and a self-signed development
//! certificate for the demo, written once and reused.

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// File names [`dev_cert`] uses inside its directory.
pub const DEV_CERT_FILE: &str = "rtmps-dev-cert.pem";
pub const DEV_KEY_FILE: &str = "rtmps-dev-key.pem";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no certificate found in {0}")]
    NoCertificate(PathBuf),
    #[error("no private key found in {0}")]
    NoKey(PathBuf),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("generating the development certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A TLS acceptor serving the certificate chain in `cert_path` with the key in `key_path`
/// (PEM; PKCS#8, PKCS#1 or SEC1 keys).
pub fn acceptor_from_pem(
    cert_path: impl AsRef<Path>,
    key_path: impl AsRef<Path>,
) -> Result<TlsAcceptor, TlsError> {
    let (cert_path, key_path) = (cert_path.as_ref(), key_path.as_ref());
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Read { path, source }
    };
    let cert_file = std::fs::File::open(cert_path).map_err(read_err(cert_path))?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut BufReader::new(cert_file))
        .collect::<Result<_, _>>()
        .map_err(read_err(cert_path))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.to_path_buf()));
    }
    let key_file = std::fs::File::open(key_path).map_err(read_err(key_path))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut BufReader::new(key_file))
        .map_err(read_err(key_path))?
        .ok_or_else(|| TlsError::NoKey(key_path.to_path_buf()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Make sure `dir` holds a self-signed certificate and key for `hosts` (DNS names or IP
/// addresses; `localhost` and `127.0.0.1` when empty) and return their paths. Existing files
/// are kept as they are, so a demo's clients only have to trust it once.
pub fn dev_cert(dir: &Path, hosts: &[String]) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert_path = dir.join(DEV_CERT_FILE);
    let key_path = dir.join(DEV_KEY_FILE);
    if cert_path.is_file() && key_path.is_file() {
        return Ok((cert_path, key_path));
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let names: Vec<String> = if hosts.is_empty() {
        vec!["localhost".into(), "127.0.0.1".into()]
    } else {
        hosts.to_vec()
    };
    let certified = rcgen::generate_simple_self_signed(names)?;
    // Key first, cert last: the cert's presence marks a complete pair.
    write_new(
        &key_path,
        certified.signing_key.serialize_pem().as_bytes(),
        true,
    )?;
    write_new(&cert_path, certified.cert.pem().as_bytes(), false)?;
    tracing::info!(cert = %cert_path.display(), "wrote a self-signed RTMPS development certificate");
    Ok((cert_path, key_path))
}

/// Write through a temporary file and rename, so a reader never sees half a file.
fn write_new(path: &Path, contents: &[u8], secret: bool) -> Result<(), TlsError> {
    let err = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let result = (|| {
        use std::io::Write;
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dev_cert_is_written_once_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("tls");
        let (cert, key) = dev_cert(&sub, &[]).unwrap();
        let first = std::fs::read(&cert).unwrap();
        let (cert2, key2) = dev_cert(&sub, &["example.test".into()]).unwrap();
        assert_eq!((cert.clone(), key.clone()), (cert2, key2));
        assert_eq!(std::fs::read(&cert).unwrap(), first, "idempotent");
        acceptor_from_pem(&cert, &key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "key is private");
        }
    }

    #[test]
    fn bad_pem_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(matches!(
            acceptor_from_pem(&empty, &empty),
            Err(TlsError::NoCertificate(_))
        ));
        let (cert, _) = dev_cert(dir.path(), &[]).unwrap();
        assert!(matches!(
            acceptor_from_pem(&cert, &empty),
            Err(TlsError::NoKey(_))
        ));
        assert!(matches!(
            acceptor_from_pem(dir.path().join("missing"), &empty),
            Err(TlsError::Read { .. })
        ));
    }
}
