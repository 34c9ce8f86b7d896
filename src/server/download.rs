//! Sending a signed PDF: the file streams from a read-ahead thread in
//! chunks of at most 1 MiB, so neither the file nor a copy of it is ever
//! held whole.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use tokio::sync::mpsc;

use super::error::ApiError;

/// Chunks read ahead of the connection.
const CHUNK: u64 = 1 << 20;
const AHEAD: usize = 4;
/// A client that takes no data for this long has gone; the file is
/// closed and the connection dropped rather than held open.
const STALL: Duration = Duration::from_secs(60);

/// A signed PDF as the response body. `after` runs once the file is read
/// out and closed, or when the client went away or stalled, e.g. to
/// delete it.
pub(crate) async fn pdf_response(
    path: PathBuf,
    name: &str,
    after: impl FnOnce() + Send + 'static,
) -> Result<Response, ApiError> {
    let file = std::fs::File::open(&path).map_err(|e| ApiError::internal(&e.to_string()))?;
    let len = file
        .metadata()
        .map_err(|e| ApiError::internal(&e.to_string()))?
        .len();
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(AHEAD);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        read_ahead(file, len, &tx, &runtime);
        after();
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let disposition = format!(
        "attachment; filename=\"signed.pdf\"; filename*=UTF-8''{}",
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// Reads the `len` bytes of `file` into `tx` until done, the client is gone
/// (the channel closed) or stalled.
fn read_ahead(
    mut file: std::fs::File,
    len: u64,
    tx: &mpsc::Sender<std::io::Result<Vec<u8>>>,
    runtime: &tokio::runtime::Handle,
) {
    use std::io::Read;
    let mut left = len;
    while left > 0 {
        // A one-page document needs a few KB, not a 1 MiB buffer.
        let want = left.min(CHUNK);
        let mut buf = Vec::with_capacity(want as usize);
        // `read_to_end` fills the spare capacity without zeroing it first.
        let item = match Read::take(&mut file, want).read_to_end(&mut buf) {
            // The file is shorter than it was: hyper ends the connection
            // when the body falls short of its Content-Length.
            Ok(0) => return,
            Ok(n) => {
                left -= n as u64;
                Ok(buf)
            }
            Err(e) => Err(e),
        };
        let stop = item.is_err();
        let sent = runtime.block_on(tokio::time::timeout(STALL, tx.send(item)));
        if !matches!(sent, Ok(Ok(()))) || stop {
            return;
        }
    }
}
