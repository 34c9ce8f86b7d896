//! `kyso serve`: the localhost signing API that web document systems call.
//!
//! ```text
//!  browser page ──HTTP(S) on 127.0.0.1──► guard (Host, Origin, header, CORS)
//!                                           │
//!                      /v1 API ◄────────────┼────────► /consent, /pair windows (Kyso's own origin)
//!                         │                               │  PIN, approve/refuse
//!                         ▼                               ▼
//!                     jobs (state) ───────► token worker thread (PKCS#11 session) ──► signing
//! ```
//!
//! [`app`] builds the router; [`serve`] binds it, so tests can drive the
//! router without a socket.

mod api;
mod consent;
mod download;
mod error;
mod guard;
mod jobs;
mod log_api;
mod pages;
mod record;
pub mod settings;
mod state;
mod tls;
mod upload;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post, put};
use axum::serve::ListenerExt;
use axum::Router;

pub use error::ApiError;
pub use settings::ServerSettings;
pub use state::AppState;

use crate::origins::OriginStore;
use crate::signing::worker::Worker;

/// Builds the router with every route and the security guard around it.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/static/kyso.css", get(pages::css))
        .route("/sdk/kyso.js", get(pages::sdk_js))
        .route("/sdk/kyso.d.ts", get(pages::sdk_dts))
        .route("/consent/{id}", get(consent::show).post(consent::submit))
        .route(
            "/pair/{id}",
            get(consent::show_pair).post(consent::submit_pair),
        )
        .route("/v1/hello", get(api::hello))
        .route("/v1/status", get(api::status))
        .route("/v1/certificates", get(api::certificates))
        .route("/v1/sign", post(api::sign))
        .route("/v1/jobs", post(api::create_batch))
        .route("/v1/jobs/{id}", get(api::get_job).delete(api::delete_job))
        .route(
            "/v1/jobs/{id}/documents/{index}",
            put(api::upload).get(api::get_result),
        )
        .route("/v1/pair", post(api::pair))
        .route("/v1/pair/{id}", get(api::pair_status))
        .route("/v1/log", get(log_api::get_log))
        .fallback(|| async { ApiError::not_found() })
        // The guard wraps every route, the fallback included.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

/// The routes the API serves, as `METHOD path` with `{param}` placeholders;
/// the OpenAPI test compares this list with docs/openapi.yaml.
pub const API_ROUTES: &[&str] = &[
    "GET /v1/hello",
    "GET /v1/status",
    "GET /v1/certificates",
    "POST /v1/sign",
    "POST /v1/jobs",
    "GET /v1/jobs/{id}",
    "DELETE /v1/jobs/{id}",
    "PUT /v1/jobs/{id}/documents/{index}",
    "GET /v1/jobs/{id}/documents/{index}",
    "POST /v1/pair",
    "GET /v1/pair/{id}",
    "GET /v1/log",
];

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The port is taken or cannot be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS certificate could not be made or loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Everything `serve` needs besides the settings.
pub struct ServeOptions<'a> {
    /// Where pairings and the TLS certificate live.
    pub data_dir: &'a Path,
    /// Serve the demo document system on the next port.
    pub demo: bool,
    /// The user's `[appearance]` settings, for visible signatures.
    pub appearance: crate::appearance::AppearanceDefaults,
    /// The usage log, opened by the caller so a broken log stops start-up.
    pub usage_log: Arc<crate::usage_log::UsageLog>,
    /// Days before a certificate's expiry when status warns.
    pub cert_warning_days: u32,
}

/// Binds 127.0.0.1 only and serves until Ctrl-C or SIGTERM.
pub async fn serve(
    settings: ServerSettings,
    worker: Worker,
    opts: ServeOptions<'_>,
) -> Result<(), StartError> {
    let port = settings.port;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { port, source })?;
    let scheme = if settings.tls { "https" } else { "http" };
    let base_url = format!("{scheme}://127.0.0.1:{port}");
    let self_origins = vec![
        base_url.clone(),
        format!("{scheme}://localhost:{port}"),
        format!("{scheme}://[::1]:{port}"),
    ];
    let origins = OriginStore::load(&OriginStore::default_path(opts.data_dir))
        .map_err(|e| StartError::Other(e.to_string()))?;
    let demo_url = if opts.demo {
        let demo_port = port
            .checked_add(1)
            .ok_or_else(|| StartError::Other("no port for the demo".into()))?;
        let url = crate::demo_site::serve(demo_port, &base_url)
            .await
            .map_err(|source| StartError::Bind {
                port: demo_port,
                source,
            })?;
        Some(url)
    } else {
        None
    };
    let tls_config = if settings.tls {
        Some(tls::server_config(opts.data_dir).map_err(StartError::Tls)?)
    } else {
        None
    };
    let state = AppState::new(state::Parts {
        prefs: state::PinPrefs::load(opts.data_dir.join("pin-prefs.json")),
        appearance: opts.appearance,
        settings,
        worker,
        origins,
        base_url: base_url.clone(),
        self_origins,
        demo_url: demo_url.clone(),
        data_dir: opts.data_dir.to_owned(),
        log_secret: log_api::load_or_create_secret(opts.data_dir)
            .map_err(|e| StartError::Other(format!("the API secret file: {e}")))?,
        usage_log: opts.usage_log,
        cert_warning_days: opts.cert_warning_days,
    })
    .map_err(|e| StartError::Other(e.to_string()))?;
    let pruner = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            jobs::prune(&pruner);
        }
    });
    let router = app(state);
    eprintln!("Kyso is listening on {base_url}/");
    if let Some(url) = &demo_url {
        eprintln!("Demo document system: {url}");
    }
    tracing::info!(%base_url, "listening");
    match tls_config {
        None => {
            // Without TCP_NODELAY, Nagle holds a response's body until the
            // client acknowledges its headers: about 40 ms per request.
            axum::serve(
                listener.tap_io(|tcp| {
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!("TCP_NODELAY: {e}");
                    }
                }),
                router,
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
        }
        Some(config) => tls::serve_tls(listener, router, Arc::new(config), shutdown_signal()).await,
    }
    .map_err(|e| StartError::Other(e.to_string()))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
