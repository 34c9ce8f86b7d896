//! `GET /v1/log`: the usage log for the local user only.
//!
//! A pairing lets a website ask for signatures; it does not let it read the
//! office's record. So this route refuses any request a web page could make
//! (`Origin`, or `Sec-Fetch-Site` other than `none`), whatever its pairing,
//! and requires a bearer secret kept in a file only the user can read,
//! because every user of a terminal server can reach 127.0.0.1.

use std::path::Path;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::{Extension, Json};
use serde::Deserialize;

use super::error::ApiError;
use super::guard::Caller;
use super::state::AppState;
use crate::usage_log::{Filter, Outcome};

/// The file that holds the secret, in the data directory.
pub const SECRET_FILE: &str = "api-secret";

/// Reads the secret, creating it (32 random bytes, hex, mode 0600) on first use.
pub(crate) fn load_or_create_secret(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(SECRET_FILE);
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_owned();
        if s.len() >= 32 {
            return Ok(s);
        }
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = format!("{}{}", super::state::random_id(), super::state::random_id());
    write_private(&path, secret.as_bytes())?;
    Ok(secret)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?; // created 0600
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[derive(Debug, Deserialize)]
pub(crate) struct LogQuery {
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
    origin: Option<String>,
    result: Option<String>,
    limit: Option<u32>,
}

pub(crate) async fn get_log(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if caller != Caller::Local || fetch_site.is_some_and(|s| s != "none") {
        return Err(ApiError::log_forbidden());
    }
    let expected = format!("Bearer {}", state.inner.log_secret);
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let matches = super::state::constant_time_eq(given.as_bytes(), expected.as_bytes());
    if !matches {
        return Err(ApiError::log_unauthorized());
    }
    let outcome = match q.result.as_deref() {
        None => None,
        Some(r) => Some(Outcome::parse(r).ok_or_else(|| {
            ApiError::bad_request(
                "result must be ok or failed.",
                "result phải là ok hoặc failed.",
            )
        })?),
    };
    let filter = Filter {
        since: q.since,
        until: q.until,
        origin: q.origin,
        outcome,
        limit: Some(q.limit.unwrap_or(200).min(10_000)),
        ..Default::default()
    };
    let log = state.inner.usage_log.clone();
    let entries = tokio::task::spawn_blocking(move || log.query(&filter))
        .await
        .map_err(|e| ApiError::internal(&e.to_string()))?
        .map_err(|e| ApiError::from_problem((&e).into()))?;
    Ok(Json(serde_json::json!({ "entries": entries })))
}
