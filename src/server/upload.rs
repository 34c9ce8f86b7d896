//! Receiving a document: the request body streams into a part file in the
//! job's folder while it is hashed, and nothing is buffered whole.
//!
//! A part file disappears unless it is committed: on a refused or cut-off
//! body, on a PDF Kyso cannot sign, and when the connection closes and the
//! handler is dropped half-way. Committing renames it into place under the
//! jobs lock, so a job's file and its digest always belong together, even
//! if a page uploads the same document twice at once.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use futures_util::StreamExt;

use super::error::ApiError;
use super::state::{AppState, Document};
use crate::types::{DigestAlg, Hasher};

/// A file that is removed when dropped, unless kept.
struct PartFile {
    path: PathBuf,
    keep: bool,
}

impl PartFile {
    fn new(path: PathBuf) -> Self {
        PartFile { path, keep: false }
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A checked upload, not yet part of its job.
pub(crate) struct Upload {
    part: PartFile,
    name: String,
    size: u64,
    pages: u64,
    hasher: Hasher,
}

impl Upload {
    /// Moves the upload into place as the document at `index` of its job.
    /// Call it while holding the jobs lock (see `jobs::attach`).
    pub(crate) fn commit(mut self, index: usize) -> Result<Document, ApiError> {
        let dir = self.part.path.parent().unwrap_or(Path::new("."));
        let input = dir.join(format!("{index}.in.pdf"));
        std::fs::rename(&self.part.path, &input).map_err(|e| ApiError::internal(&e.to_string()))?;
        self.part.keep = true;
        Ok(Document {
            name: std::mem::take(&mut self.name),
            // Signed in place: the update is appended to the upload itself.
            output: input.clone(),
            input,
            size: self.size,
            pages: self.pages,
            sha256: hex::encode_upper(self.hasher.clone().finish()),
            prefix: self.hasher.clone(),
            signed: None,
        })
    }
}

/// Streams `body` into a part file in the folder of job `job_id`, enforcing
/// the size limit and hashing as it goes, then checks that it is a PDF
/// Kyso can sign.
pub(crate) async fn receive(
    state: &AppState,
    job_id: &str,
    name: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Upload, ApiError> {
    let limit = state.inner.settings.max_body_bytes();
    let limit_mb = state.inner.settings.max_body_mb;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        if len > limit {
            return Err(ApiError::body_too_large(limit_mb));
        }
    }
    let started = std::time::Instant::now();
    let dir = state.inner.work_dir.join(job_id);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(&e.to_string()))?;
    let path = dir.join(format!("{}.part", crate::server::state::random_id()));

    // The network read runs here while one blocking thread hashes and
    // another writes, so the three overlap instead of adding up. Both get
    // the same chunks (`Bytes` clones share the buffer).
    let (hash_tx, mut hash_rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let (write_tx, mut write_rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let hashing = tokio::task::spawn_blocking(move || {
        let mut hasher = DigestAlg::Sha256.hasher();
        while let Some(chunk) = hash_rx.blocking_recv() {
            hasher.update(&chunk);
        }
        hasher
    });
    // The writer owns the part file's guard and hands it back once the file
    // is closed. If this handler is dropped mid-upload, the channel closes,
    // the writer finishes, and the guard it returns to nobody removes the
    // file: no path leaves a part file behind.
    let writing = tokio::task::spawn_blocking(move || -> std::io::Result<PartFile> {
        use std::io::Write;
        let part = PartFile::new(path);
        // hyper's chunks are up to ~400 KB already: a BufWriter would only
        // add a copy of every byte.
        let mut file = std::fs::File::create(&part.path)?;
        while let Some(chunk) = write_rx.blocking_recv() {
            file.write_all(&chunk)?;
        }
        drop(file);
        Ok(part)
    });
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    let received: Result<(), ApiError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| ApiError::body_incomplete())?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(ApiError::body_too_large(limit_mb));
            }
            let sent = hash_tx.send(chunk.clone()).await.is_ok();
            if !sent || write_tx.send(chunk).await.is_err() {
                // A thread stopped; its error is reported below.
                break;
            }
        }
        Ok(())
    }
    .await;
    drop((hash_tx, write_tx));
    let part = match writing.await {
        Ok(Ok(part)) => part,
        Ok(Err(e)) => return Err(received.err().unwrap_or(ApiError::internal(&e.to_string()))),
        Err(e) => return Err(ApiError::internal(&e.to_string())),
    };
    let hasher = hashing
        .await
        .map_err(|e| ApiError::internal(&e.to_string()))?;
    received?;
    tracing::debug!(job = job_id, size, elapsed = ?started.elapsed(), "document received");

    let check = part.path.clone();
    let pages = tokio::task::spawn_blocking(move || -> Result<u64, crate::pdf::Error> {
        let mut doc = crate::pdf::Document::open(std::fs::File::open(&check)?)?;
        crate::pdf::page_count(&mut doc)
    })
    .await
    .map_err(|e| ApiError::internal(&e.to_string()))?
    .map_err(|e| ApiError::from_problem((&e).into()))?;
    Ok(Upload {
        part,
        name: name.to_owned(),
        size,
        pages,
        hasher,
    })
}
