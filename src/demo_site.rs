//! `kyso serve --demo` also serves the demo document system
//! (examples/docsys) on the next port, a different origin from the daemon,
//! so a newcomer sees the real cross-origin flow: pairing, consent, PIN.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("../examples/docsys/index.html");
const APP: &str = include_str!("../examples/docsys/app.js");
const SDK: &str = include_str!("../sdk/kyso.js");

fn file(body: &'static str, ct: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r
}

/// Serves the demo site on 127.0.0.1:`port`; returns its URL, which points
/// the page at the daemon's `kyso_base`.
pub async fn serve(port: u16, kyso_base: &str) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let js = "text/javascript; charset=utf-8";
    let router = Router::new()
        .route(
            "/",
            get(|| async { file(INDEX, "text/html; charset=utf-8") }),
        )
        .route("/app.js", get(move || async move { file(APP, js) }))
        .route("/kyso.js", get(move || async move { file(SDK, js) }));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("demo site stopped: {e}");
        }
    });
    let query =
        percent_encoding::utf8_percent_encode(kyso_base, percent_encoding::NON_ALPHANUMERIC);
    Ok(format!("http://127.0.0.1:{port}/?kyso={query}"))
}
