//! Kyso's own pages and static files: the status page at `/`, the window
//! style sheet, and the JS SDK that web document systems import.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::consent::{esc, window_headers};
use super::state::AppState;

const CSS: &str = include_str!("kyso.css");
const SDK_JS: &str = include_str!("../../sdk/kyso.js");
const SDK_DTS: &str = include_str!("../../sdk/kyso.d.ts");

/// `GET /`: a status page a non-expert can read.
pub(crate) async fn index(State(state): State<AppState>) -> Response {
    let s = state.inner.worker.status().await;
    let paired: Vec<String> = state
        .inner
        .origins
        .lock()
        .expect("origins lock")
        .list()
        .map(|(o, _)| o.clone())
        .collect();
    let mut b = String::from("<h1>Kyso đang chạy · Kyso is running</h1>");
    match (&s.token, &s.certificate) {
        (Some(t), Some(c)) => b.push_str(&format!(
            "<p class=\"ok\">Thiết bị ký / Token: <strong>{}</strong> ({})<br>Chứng thư số / Certificate: <strong>{}</strong>, hết hạn / expires {}</p>",
            esc(&t.label),
            esc(&t.serial),
            esc(&c.common_name),
            c.not_after.format("%d/%m/%Y")
        )),
        _ => {
            let p = s.problem.as_ref();
            b.push_str(&format!(
                "<p class=\"error\">{} · {}</p>",
                esc(p.map(|p| p.vi.as_str()).unwrap_or("Chưa có thiết bị ký.")),
                esc(p.map(|p| p.en.as_str()).unwrap_or("No token."))
            ));
        }
    }
    b.push_str(&format!(
        "<p>Phiên bản / Version {}</p>",
        env!("CARGO_PKG_VERSION")
    ));
    b.push_str("<h2>Trang web đã kết nối · Paired websites</h2><ul>");
    for o in &paired {
        b.push_str(&format!("<li>{}</li>", esc(o)));
    }
    if paired.is_empty() {
        b.push_str("<li>—</li>");
    }
    b.push_str("</ul>");
    if let Some(url) = &state.inner.demo_url {
        b.push_str(&format!(
            "<p><a id=\"demo\" href=\"{0}\">Thử hệ thống văn bản mẫu · Try the demo document system</a> ({0})</p>",
            esc(url)
        ));
    }
    let html = format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>Kyso</title>\
         <link rel=\"stylesheet\" href=\"/static/kyso.css\"></head><body><main><p class=\"brand\">Kyso</p>{b}</main></body></html>"
    );
    window_headers((StatusCode::OK, Html(html)).into_response())
}

pub(crate) async fn css() -> Response {
    static_file(CSS, "text/css; charset=utf-8")
}

/// The SDK is public code; any page may load it.
pub(crate) async fn sdk_js() -> Response {
    let mut r = static_file(SDK_JS, "text/javascript; charset=utf-8");
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

pub(crate) async fn sdk_dts() -> Response {
    let mut r = static_file(SDK_DTS, "text/plain; charset=utf-8");
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

fn static_file(body: &'static str, ct: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Opens `url` in the default browser when the config asks for it, for
/// callers (scripts, old plugins) that cannot open Kyso's window themselves.
pub(crate) fn maybe_open_browser(state: &AppState, url: &str) {
    if !state.inner.settings.open_browser || url.is_empty() {
        return;
    }
    let url = url.to_owned();
    std::thread::spawn(move || {
        let result = if cfg!(windows) {
            std::process::Command::new("cmd")
                .args(["/C", "start", "", &url])
                .status()
        } else if cfg!(target_os = "macos") {
            std::process::Command::new("open").arg(&url).status()
        } else {
            std::process::Command::new("xdg-open").arg(&url).status()
        };
        if let Err(e) = result {
            tracing::warn!("cannot open the browser: {e}");
        }
    });
}
