//! Optional HTTPS on loopback with rustls, from a certificate generated
//! locally on first use and kept in the data directory. Installing it into
//! the OS trust stores is a separate step (see docs/operations.md).

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// Loads `tls/cert.pem` and `tls/key.pem`, creating them if missing.
pub(crate) fn server_config(data_dir: &Path) -> Result<rustls::ServerConfig, String> {
    let dir = data_dir.join("tls");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if !cert_path.exists() || !key_path.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        let cert = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
        std::fs::write(&cert_path, cert.cert.pem()).map_err(|e| e.to_string())?;
        write_private(&key_path, cert.key_pair.serialize_pem().as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let certs = der::pem::decode_vec(&std::fs::read(&cert_path).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?
        .1;
    let key = der::pem::decode_vec(&std::fs::read(&key_path).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?
        .1;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(certs)],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .map_err(|e| e.to_string())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(bytes)
    }
    #[cfg(not(unix))]
    std::fs::write(path, bytes)
}

/// The accept loop for HTTPS: rustls handshake, then hyper serving the router.
pub(crate) async fn serve_tls(
    listener: tokio::net::TcpListener,
    router: Router,
    config: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = &mut shutdown => return Ok(()),
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let mut router = router.clone();
                    async move { router.call(req.map(axum::body::Body::new)).await }
                });
            if let Err(e) = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!("TLS connection: {e}");
            }
        });
    }
}
