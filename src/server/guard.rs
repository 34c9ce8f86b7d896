//! The browser-facing security rules, applied to every request before any
//! handler runs:
//!
//! 1. `Host` must be this loopback listener (defeats DNS rebinding);
//! 2. the `Origin` decides what a request may do: paired or allow-listed
//!    origins use the API, unknown origins may only say hello and ask to be
//!    paired, Kyso's own origin may only submit its own windows;
//! 3. API calls need `X-Kyso-Request` and a JSON or PDF body type, which a
//!    cross-site form cannot send without a CORS preflight;
//! 4. CORS headers go only to origins allowed to read the answer.
//!
//! CORS alone does not stop a request from reaching a handler, so these are
//! refusals here, not just missing headers.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::origins;

/// The custom header every API call must carry.
pub const REQUEST_HEADER: &str = "x-kyso-request";

/// Who is calling, as the handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No `Origin`: a local program such as a script or `curl`.
    Local,
    /// Kyso's own pages (consent and pairing windows).
    SelfOrigin,
    /// A paired or allow-listed website.
    Trusted(String),
    /// Any other website.
    Unknown(String),
}

impl Caller {
    /// The origin recorded with a job: the website, or `local`.
    pub fn origin_label(&self) -> String {
        match self {
            Caller::Local => "local".into(),
            Caller::SelfOrigin => "kyso".into(),
            Caller::Trusted(o) | Caller::Unknown(o) => o.clone(),
        }
    }
}

/// API paths an unknown origin may use: discovery and pairing.
fn open_to_unknown(path: &str) -> bool {
    path == "/v1/hello" || path == "/v1/pair" || path.starts_with("/v1/pair/")
}

fn host_allowed(headers: &HeaderMap, port: u16) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|name| host == format!("{name}:{port}"))
}

pub(crate) fn classify(state: &AppState, headers: &HeaderMap) -> Caller {
    let Some(raw) = headers.get(header::ORIGIN) else {
        return Caller::Local;
    };
    let Some(origin) = raw.to_str().ok().and_then(origins::normalize) else {
        return Caller::Unknown(String::from_utf8_lossy(raw.as_bytes()).into_owned());
    };
    let inner = &state.inner;
    if inner.self_origins.contains(&origin) {
        return Caller::SelfOrigin;
    }
    let allowed = inner
        .settings
        .allowed_origins
        .iter()
        .any(|a| origins::normalize(a).as_deref() == Some(&origin));
    let paired = {
        let mut store = inner.origins.lock().expect("origins lock");
        store.refresh();
        store.contains(&origin)
    };
    if allowed || paired {
        Caller::Trusted(origin)
    } else {
        Caller::Unknown(origin)
    }
}

/// The middleware.
pub(crate) async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let port = state.inner.settings.port;
    if !host_allowed(req.headers(), port) {
        tracing::warn!(host = ?req.headers().get(header::HOST), "refused: Host header");
        return ApiError::host_not_allowed().into_response();
    }
    let caller = classify(&state, req.headers());
    let path = req.uri().path().to_owned();
    let api = path.starts_with("/v1/");
    let open = open_to_unknown(&path);
    // The origin allowed to read this answer, if any.
    let cors_origin = match &caller {
        Caller::Trusted(o) => Some(o.clone()),
        Caller::Unknown(o) if open && origins::normalize(o).is_some() => Some(o.clone()),
        _ => None,
    };

    if req.method() == Method::OPTIONS {
        return match &cors_origin {
            Some(o) if api => preflight(o, req.headers()),
            _ => {
                tracing::warn!(?caller, path, "refused: preflight");
                ApiError::origin_not_paired().into_response()
            }
        };
    }

    if api {
        if let Err(e) = check_api(&caller, open, &req) {
            tracing::warn!(?caller, path, code = e.code(), "refused");
            let mut r = e.into_response();
            // A page that may use /v1/pair sees why it was refused.
            if let (Some(o), true) = (&cors_origin, open) {
                add_cors(r.headers_mut(), o);
            }
            return r;
        }
    } else if req.method() != Method::GET && caller != Caller::SelfOrigin {
        // Kyso's own windows are the only forms that post outside /v1.
        tracing::warn!(?caller, path, "refused: form post from another origin");
        return ApiError::origin_required().into_response();
    }

    req.extensions_mut().insert(caller);
    let mut response = next.run(req).await;
    if let (Some(o), true) = (cors_origin, api) {
        add_cors(response.headers_mut(), &o);
    }
    response
}

fn check_api(caller: &Caller, open: bool, req: &Request) -> Result<(), ApiError> {
    match caller {
        Caller::Unknown(_) if !open => return Err(ApiError::origin_not_paired()),
        Caller::SelfOrigin => return Err(ApiError::origin_required()),
        _ => {}
    }
    if !req.headers().contains_key(REQUEST_HEADER) {
        return Err(ApiError::header_missing());
    }
    if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        match ct.as_deref() {
            Some("application/pdf" | "application/json") => {}
            _ => return Err(ApiError::content_type()),
        }
    }
    Ok(())
}

const ALLOW_HEADERS: &str = "content-type, x-kyso-request, x-kyso-options, x-kyso-filename";
const EXPOSE_HEADERS: &str = "x-kyso-job, content-disposition, retry-after";

fn add_cors(h: &mut HeaderMap, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

fn preflight(origin: &str, req: &HeaderMap) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    add_cors(h, origin);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    // Chrome's Private Network Access preflight, and its Local Network
    // Access successor, ask the server to opt in explicitly.
    if req.contains_key("access-control-request-private-network") {
        h.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
    }
    if req.contains_key("access-control-request-local-network") {
        h.insert(
            "access-control-allow-local-network",
            HeaderValue::from_static("true"),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_must_be_loopback_with_our_port() {
        let mut h = HeaderMap::new();
        for (host, ok) in [
            ("127.0.0.1:28770", true),
            ("localhost:28770", true),
            ("LOCALHOST:28770", true),
            ("[::1]:28770", true),
            ("127.0.0.1:80", false),
            ("evil.example:28770", false),
            ("127.0.0.1.nip.io:28770", false),
            ("127.0.0.1", false),
        ] {
            h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            assert_eq!(host_allowed(&h, 28770), ok, "{host}");
        }
        h.remove(header::HOST);
        assert!(!host_allowed(&h, 28770));
    }
}
