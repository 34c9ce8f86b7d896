//! `kyso serve` and `kyso origins`.

use std::path::{Path, PathBuf};

use super::args::{OriginsAction, ServeArgs};
use super::{exit, Failure};
use crate::config::Config;
use crate::origins::{self, OriginStore};
use crate::server::{self, ServeOptions};
use crate::signing::worker::{Worker, WorkerConfig};
use crate::signing::KeyOptions;

pub(super) fn run(
    module: PathBuf,
    config: Config,
    a: ServeArgs,
    data_dir: &Path,
    demo: bool,
) -> Result<u8, Failure> {
    let mut settings = config.server.clone();
    if let Some(p) = a.port {
        settings.port = p;
    }
    settings.tls |= a.tls;
    settings.allowed_origins.extend(a.allow_origin);
    settings.auto_sign_origins.extend(a.auto_sign_origin);
    if let Some(v) = a.max_body_mb {
        settings.max_body_mb = v;
    }
    if let Some(v) = a.queue_limit {
        settings.queue_limit = v;
    }
    if let Some(v) = a.pin_cache_minutes {
        settings.pin_cache_minutes = v;
    }
    if let Some(v) = a.consent_ttl_seconds {
        settings.consent_ttl_seconds = v;
    }
    settings.open_browser |= a.open_browser;
    for o in settings
        .allowed_origins
        .iter()
        .chain(&settings.auto_sign_origins)
    {
        if origins::normalize(o).is_none() {
            return Err(Failure::new(
                "CONFIG_INVALID",
                format!("\"{o}\" is not a website origin like https://vanban.example.gov.vn."),
                format!(
                    "\"{o}\" không phải là nguồn gốc trang web dạng https://vanban.example.gov.vn."
                ),
            ));
        }
    }
    // A log that cannot be written stops start-up: the daemon must not sign
    // anything it cannot record.
    let usage_log = super::log::open_and_prune(&config, "daemon")?;
    let worker = Worker::start(WorkerConfig {
        module,
        token: a.token.or(config.token.clone()),
        cert: a.cert.or(config.cert.clone()),
        chain: Vec::new(),
        key_options: KeyOptions {
            digest: config.digest.unwrap_or_default(),
            ..Default::default()
        },
        pin_idle: settings.pin_idle(),
        poll: std::time::Duration::from_millis(500),
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new("INTERNAL", e.to_string(), e.to_string()))?;
    let port = settings.port;
    if demo {
        eprintln!(
            "Demo mode: the token is the SoftHSM2 demo token, PIN {}. · Chế độ thử nghiệm: mã PIN là {}.",
            crate::demo::PIN,
            crate::demo::PIN
        );
    }
    let served = runtime.block_on(server::serve(
        settings,
        worker.clone(),
        ServeOptions {
            data_dir,
            demo,
            appearance: config.appearance.clone(),
            usage_log: std::sync::Arc::new(usage_log),
            cert_warning_days: config
                .cert_warning_days
                .unwrap_or(crate::usage_log::reminders::DEFAULT_CERT_WARNING_DAYS),
        },
    ));
    // Tasks still holding the worker end with the runtime; then the token
    // thread logs out and finalises the module before the process exits.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    worker.shutdown();
    served.map_err(|e| match e {
            server::StartError::Bind { .. } => Failure::new(
                "SERVE_PORT_IN_USE",
                format!("{e}. Another program (or another Kyso) uses port {port}; choose another with --port."),
                format!("{e}. Một chương trình khác (hoặc Kyso khác) đang dùng cổng {port}; hãy chọn cổng khác bằng --port."),
            ),
            other => Failure::new("INTERNAL", other.to_string(), other.to_string()),
        })?;
    Ok(exit::OK)
}

pub(super) fn origins(data_dir: &Path, action: &OriginsAction) -> Result<u8, Failure> {
    let path = OriginStore::default_path(data_dir);
    let io = |e: origins::Error| Failure::new("FILE_ERROR", e.to_string(), e.to_string());
    let mut store = OriginStore::load(&path).map_err(io)?;
    match action {
        OriginsAction::List { json } => {
            if *json {
                let list: Vec<_> = store
                    .list()
                    .map(|(o, p)| serde_json::json!({"origin": o, "paired_at": p.paired_at}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).expect("serialisable")
                );
            } else if store.is_empty() {
                println!("No paired websites. · Chưa có trang web nào được kết nối.");
            } else {
                for (o, p) in store.list() {
                    println!("{o}\tpaired {}", p.paired_at.format("%Y-%m-%d %H:%M UTC"));
                }
            }
            Ok(exit::OK)
        }
        OriginsAction::Revoke { origin } => {
            let normalized = origins::normalize(origin).unwrap_or_else(|| origin.clone());
            if store.revoke(&normalized).map_err(io)? {
                println!("Revoked {normalized}. · Đã huỷ kết nối {normalized}.");
                Ok(exit::OK)
            } else {
                Err(Failure::new(
                    "ORIGIN_NOT_PAIRED",
                    format!("{normalized} is not paired."),
                    format!("{normalized} chưa được kết nối."),
                ))
            }
        }
    }
}
