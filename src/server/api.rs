//! The JSON/PDF API under `/v1`. One small function per route; every route
//! is listed in docs/openapi.yaml, which a test keeps in sync.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::StreamExt;
use serde::Deserialize;

use super::error::ApiError;
use super::guard::Caller;
use super::jobs::{self, job_json};
use super::state::{AppState, Job, JobState, OneTimeToken, PairRequest, PairState};
use crate::appearance::AppearanceRequest;
use crate::signing::DocOptions;
use crate::types::DigestAlg;
use crate::usage_log::reminders;

/// How long a long-poll may wait.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// How many pairing windows may wait for the user at once.
const MAX_PENDING_PAIRINGS: usize = 4;

/// Options a page may send with a document.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSignOptions {
    /// `/Reason`.
    pub reason: Option<String>,
    /// `/Location`.
    pub location: Option<String>,
    /// `/ContactInfo`.
    pub contact_info: Option<String>,
    /// The signature field's name.
    pub field_name: Option<String>,
    /// A visible signature (Decree 30 profile). Without it, the config's
    /// default profile for the signing certificate applies, if any.
    pub appearance: Option<AppearanceRequest>,
}

impl ApiSignOptions {
    /// Checks what a page may ask for and fills in the user's settings.
    async fn into_doc_options(self, state: &AppState) -> Result<DocOptions, ApiError> {
        let defaults = &state.inner.appearance;
        let appearance = match self.appearance {
            // A page must send its images; naming a path would let it stamp
            // any PNG on this computer into a document it gets back.
            Some(req) if req.names_local_files() => return Err(ApiError::local_image()),
            Some(req) => Some(req.with_defaults(defaults)),
            None => {
                let serial = state
                    .inner
                    .worker
                    .status()
                    .await
                    .certificate
                    .map(|c| c.serial);
                serial
                    .and_then(|s| defaults.profile_for(&s))
                    .map(|p| AppearanceRequest::new(p).with_defaults(defaults))
            }
        };
        Ok(DocOptions {
            reason: self.reason,
            location: self.location,
            contact_info: self.contact_info,
            field_name: self.field_name,
            placement: Default::default(),
            appearance,
        })
    }
}

/// `GET /v1/hello`: open to every origin, so a page can tell "Kyso is
/// running but this site is not paired" from "Kyso is not running".
pub(crate) async fn hello(Extension(caller): Extension<Caller>) -> Json<serde_json::Value> {
    let paired = matches!(caller, Caller::Trusted(_) | Caller::Local);
    Json(serde_json::json!({
        "service": "kyso",
        "version": env!("CARGO_PKG_VERSION"),
        "paired": paired,
    }))
}

/// `GET /v1/status`.
pub(crate) async fn status(State(state): State<AppState>) -> Json<serde_json::Value> {
    let token = state.inner.worker.status().await;
    let queue = state
        .inner
        .jobs
        .lock()
        .expect("jobs lock")
        .values()
        .filter(|j| !j.state.is_finished())
        .count();
    let paired = state.inner.origins.lock().expect("origins lock").len();
    let now = chrono::Utc::now();
    // The regulations ask for a PIN change every 6 months; the log knows
    // when Kyso last changed it.
    let pin_change_due = match token.token.as_ref().map(|t| t.serial.clone()) {
        Some(serial) => {
            let log = state.inner.usage_log.clone();
            let last = tokio::task::spawn_blocking(move || log.last_pin_change(&serial))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten();
            Some(reminders::pin_change_due(last, now))
        }
        None => None,
    };
    let cert_expiring = token
        .certificate
        .as_ref()
        .map(|c| reminders::cert_expiring(c.not_after, now, state.inner.cert_warning_days));
    Json(serde_json::json!({
        "service": "kyso",
        "version": env!("CARGO_PKG_VERSION"),
        "token_present": token.present,
        "token": token.token,
        "certificate": token.certificate,
        "pin": token.token.as_ref().map(|t| t.pin),
        "logged_in": token.logged_in,
        "problem": token.problem,
        "pin_change_due": pin_change_due,
        "cert_expiring": cert_expiring,
        "queue_length": queue,
        "queue_limit": state.inner.settings.queue_limit,
        "paired_origins": paired,
    }))
}

/// `GET /v1/certificates`.
pub(crate) async fn certificates(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let token = state.inner.worker.status().await;
    if !token.present {
        return Err(token
            .problem
            .map(ApiError::from_problem)
            .unwrap_or_else(|| ApiError::internal("no token")));
    }
    let signing = token.certificate.as_ref().map(|c| c.sha256.clone());
    let list: Vec<_> = token
        .certificates
        .iter()
        .map(|c| {
            serde_json::json!({
                "certificate": c,
                "signing": Some(&c.sha256) == signing.as_ref(),
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "token": token.token, "certificates": list }),
    ))
}

/// `POST /v1/sign`: one PDF in the body, options in `X-Kyso-Options`.
pub(crate) async fn sign(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let options = options_from_headers(&headers)?;
    let name = filename_from_headers(&headers);
    jobs::check_queue(&state)?;
    let options = options.into_doc_options(&state).await?;
    let mut job = Job::new(caller.origin_label(), vec![name.clone()], options);
    let doc = receive_document(&state, &job.id, 0, &name, &headers, body).await?;
    job.documents[0] = Some(doc);
    let id = job.id.clone();
    jobs::insert_ready(&state, job);
    jobs::respond_after_submit(&state, &id, &caller).await
}

/// The body of `POST /v1/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewBatch {
    documents: Vec<NewDocument>,
    #[serde(default)]
    options: ApiSignOptions,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDocument {
    name: String,
}

/// `POST /v1/jobs`: starts a batch; each document is then uploaded with
/// `PUT /v1/jobs/{id}/documents/{index}`. One consent and one PIN cover all.
pub(crate) async fn create_batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(batch): Json<NewBatch>,
) -> Result<Response, ApiError> {
    if batch.documents.is_empty() || batch.documents.len() > 500 {
        return Err(ApiError::bad_request(
            "A batch holds from 1 to 500 documents.",
            "Một lô có từ 1 đến 500 văn bản.",
        ));
    }
    jobs::check_queue(&state)?;
    let names: Vec<String> = batch
        .documents
        .into_iter()
        .map(|d| sanitize_name(&d.name))
        .collect();
    let options = batch.options.into_doc_options(&state).await?;
    let job = Job::new(caller.origin_label(), names, options);
    let id = job.id.clone();
    let mut json = job_json(&state, &job);
    json["upload_urls"] = (0..job.names.len())
        .map(|i| serde_json::Value::String(format!("/v1/jobs/{id}/documents/{i}")))
        .collect();
    state
        .inner
        .jobs
        .lock()
        .expect("jobs lock")
        .insert(id.clone(), job);
    Ok((StatusCode::CREATED, [("x-kyso-job", id)], Json(json)).into_response())
}

/// `PUT /v1/jobs/{id}/documents/{index}`.
pub(crate) async fn upload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, index)): Path<(String, usize)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let name = {
        let jobs = state.inner.jobs.lock().expect("jobs lock");
        let job = jobs
            .get(&id)
            .filter(|j| j.origin == caller.origin_label())
            .ok_or_else(ApiError::unknown_job)?;
        if job.state != JobState::Uploading {
            return Err(ApiError::bad_request(
                "This job takes no more documents.",
                "Yêu cầu ký này không nhận thêm văn bản.",
            ));
        }
        job.names
            .get(index)
            .cloned()
            .ok_or_else(ApiError::unknown_document)?
    };
    let doc = receive_document(&state, &id, index, &name, &headers, body).await?;
    let complete = {
        let mut jobs = state.inner.jobs.lock().expect("jobs lock");
        let job = jobs.get_mut(&id).ok_or_else(ApiError::unknown_job)?;
        job.documents[index] = Some(doc);
        job.documents.iter().all(Option::is_some)
    };
    if complete {
        jobs::mark_ready(&state, &id);
        return jobs::respond_after_submit(&state, &id, &caller).await;
    }
    let jobs = state.inner.jobs.lock().expect("jobs lock");
    let job = jobs.get(&id).ok_or_else(ApiError::unknown_job)?;
    Ok((StatusCode::ACCEPTED, Json(job_json(&state, job))).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct Wait {
    wait: Option<u64>,
}

/// `GET /v1/jobs/{id}`: the job's state; with `?wait=N` it answers as soon
/// as the state changes, or after N seconds (at most 30).
pub(crate) async fn get_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<Wait>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut rx = {
        let jobs = state.inner.jobs.lock().expect("jobs lock");
        let job = jobs
            .get(&id)
            .filter(|j| j.origin == caller.origin_label())
            .ok_or_else(ApiError::unknown_job)?;
        if job.state.is_finished() || q.wait.unwrap_or(0) == 0 {
            return Ok(Json(job_json(&state, job)));
        }
        job.changed.subscribe()
    };
    let wait = Duration::from_secs(q.wait.unwrap_or(0)).min(MAX_WAIT);
    let _ = tokio::time::timeout(wait, rx.changed()).await;
    let jobs = state.inner.jobs.lock().expect("jobs lock");
    let job = jobs.get(&id).ok_or_else(ApiError::unknown_job)?;
    Ok(Json(job_json(&state, job)))
}

/// `DELETE /v1/jobs/{id}`.
pub(crate) async fn delete_job(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut jobs = state.inner.jobs.lock().expect("jobs lock");
    let job = jobs
        .get_mut(&id)
        .filter(|j| j.origin == caller.origin_label())
        .ok_or_else(ApiError::unknown_job)?;
    match job.state {
        JobState::Signing => Err(ApiError::job_running()),
        JobState::Uploading | JobState::AwaitingConsent => {
            job.problem = Some(jobs::cancelled_problem());
            job.set_state(JobState::Cancelled);
            Ok(StatusCode::NO_CONTENT)
        }
        _ => {
            let job = jobs.remove(&id).expect("present");
            jobs::remove_files(&state, &job);
            Ok(StatusCode::NO_CONTENT)
        }
    }
}

/// `GET /v1/jobs/{id}/documents/{index}`: the signed PDF.
pub(crate) async fn get_result(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((id, index)): Path<(String, usize)>,
) -> Result<Response, ApiError> {
    let (path, name) = {
        let jobs = state.inner.jobs.lock().expect("jobs lock");
        let job = jobs
            .get(&id)
            .filter(|j| j.origin == caller.origin_label())
            .ok_or_else(ApiError::unknown_job)?;
        if job.state != JobState::Done {
            return Err(ApiError::job_not_ready());
        }
        let doc = job
            .documents
            .get(index)
            .and_then(Option::as_ref)
            .ok_or_else(ApiError::unknown_document)?;
        (doc.output.clone(), doc.name.clone())
    };
    // The page may fetch the result again until the job is pruned.
    pdf_response(path, &name, || ()).await
}

/// A signed PDF as the response body. `after` runs once the file is read
/// out and closed (or the client went away), e.g. to delete it.
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
    let stream = file_stream(file, after);
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

/// Streams a file in 1 MiB chunks without reading it whole: a blocking
/// thread reads ahead while the connection sends, a few chunks at most.
/// `after` runs on that thread once the file is closed.
fn file_stream(
    file: std::fs::File,
    after: impl FnOnce() + Send + 'static,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || {
        read_ahead(file, &tx);
        after();
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

fn read_ahead(mut file: std::fs::File, tx: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>) {
    use std::io::Read;
    const CHUNK: u64 = 1 << 20;
    // A one-page document needs a few KB, not a 1 MiB buffer.
    let size = file.metadata().map_or(CHUNK, |m| m.len());
    loop {
        let want = size.clamp(1, CHUNK);
        let mut buf = Vec::with_capacity(want as usize);
        // `read_to_end` fills the spare capacity without zeroing it first.
        let item = match Read::take(&mut file, want).read_to_end(&mut buf) {
            Ok(0) => return,
            Ok(_) => Ok(buf),
            Err(e) => Err(e),
        };
        let stop = item.is_err();
        // A closed channel means the client went away.
        if tx.blocking_send(item).is_err() || stop {
            return;
        }
    }
}

/// `POST /v1/pair`: asks the user to pair the calling website.
pub(crate) async fn pair(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let origin = match caller {
        Caller::Trusted(_) | Caller::Local => {
            return Ok(
                Json(serde_json::json!({ "state": "approved", "paired": true })).into_response(),
            );
        }
        Caller::Unknown(o) => {
            crate::origins::normalize(&o).ok_or_else(ApiError::origin_required)?
        }
        Caller::SelfOrigin => return Err(ApiError::origin_required()),
    };
    let ttl = state.inner.settings.consent_ttl();
    let mut pairings = state.inner.pairings.lock().expect("pairings lock");
    pairings.retain(|_, p| {
        p.state == PairState::Pending && p.token.expires > std::time::Instant::now()
    });
    if pairings.len() >= MAX_PENDING_PAIRINGS {
        return Err(ApiError::too_many_pairings());
    }
    let (changed, _) = tokio::sync::watch::channel(0);
    let request = PairRequest {
        id: super::state::random_id(),
        origin,
        state: PairState::Pending,
        token: OneTimeToken::new(ttl),
        used: false,
        changed,
    };
    let body = serde_json::json!({
        "pair_id": request.id,
        "state": request.state,
        "paired": false,
        "consent_url": format!("{}/pair/{}?t={}", state.inner.base_url, request.id, request.token.value),
        "status_url": format!("/v1/pair/{}", request.id),
    });
    super::pages::maybe_open_browser(&state, body["consent_url"].as_str().unwrap_or_default());
    pairings.insert(request.id.clone(), request);
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `GET /v1/pair/{id}`: the pairing's state, long-polled like jobs.
pub(crate) async fn pair_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<Wait>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let origin = caller.origin_label();
    let mut rx = {
        let pairings = state.inner.pairings.lock().expect("pairings lock");
        let p = pairings
            .get(&id)
            .filter(|p| p.origin == origin)
            .ok_or_else(ApiError::unknown_pairing)?;
        if p.state != PairState::Pending || q.wait.unwrap_or(0) == 0 {
            return Ok(Json(pair_json(p)));
        }
        p.changed.subscribe()
    };
    let wait = Duration::from_secs(q.wait.unwrap_or(0)).min(MAX_WAIT);
    let _ = tokio::time::timeout(wait, rx.changed()).await;
    let mut pairings = state.inner.pairings.lock().expect("pairings lock");
    let p = pairings
        .get_mut(&id)
        .ok_or_else(ApiError::unknown_pairing)?;
    if p.state == PairState::Pending && p.token.expires <= std::time::Instant::now() {
        p.state = PairState::Expired;
    }
    Ok(Json(pair_json(p)))
}

fn pair_json(p: &PairRequest) -> serde_json::Value {
    serde_json::json!({ "pair_id": p.id, "state": p.state, "paired": p.state == PairState::Approved })
}

fn options_from_headers(headers: &HeaderMap) -> Result<ApiSignOptions, ApiError> {
    let Some(raw) = headers.get("x-kyso-options") else {
        return Ok(ApiSignOptions::default());
    };
    let bad = || {
        ApiError::bad_request(
            "X-Kyso-Options must be percent-encoded JSON with known keys.",
            "X-Kyso-Options phải là JSON được mã hoá phần trăm, chỉ gồm các khoá đã biết.",
        )
    };
    let text = percent_encoding::percent_decode(raw.as_bytes())
        .decode_utf8()
        .map_err(|_| bad())?;
    serde_json::from_str(&text).map_err(|_| bad())
}

fn filename_from_headers(headers: &HeaderMap) -> String {
    headers
        .get("x-kyso-filename")
        .and_then(|v| {
            percent_encoding::percent_decode(v.as_bytes())
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        })
        .map(|s| sanitize_name(&s))
        .unwrap_or_else(|| "document.pdf".into())
}

/// Keeps a display name printable and short; it is only ever shown.
fn sanitize_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() {
        "document.pdf".into()
    } else {
        clean
    }
}

/// Streams a request body to a file in the job's directory, enforcing the
/// size limit, hashing as it goes, then checks that it is a PDF Kyso can
/// sign. Nothing is buffered whole.
async fn receive_document(
    state: &AppState,
    job_id: &str,
    index: usize,
    name: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<super::state::Document, ApiError> {
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
    let input = dir.join(format!("{index}.in.pdf"));
    // Signed in place: the update is appended to the upload itself.
    let output = input.clone();
    // The network read runs here while one blocking thread hashes and
    // another writes, so the three overlap instead of adding up. Both get
    // the same chunks (`Bytes` clones share the buffer).
    let (hash_tx, mut hash_rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(8);
    let (write_tx, mut write_rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(8);
    let hashing = tokio::task::spawn_blocking(move || {
        let mut hasher = DigestAlg::Sha256.hasher();
        while let Some(chunk) = hash_rx.blocking_recv() {
            hasher.update(&chunk);
        }
        hasher
    });
    let path = input.clone();
    let writing = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        // hyper's chunks are up to ~400 KB already: a BufWriter would only
        // add a copy of every byte.
        let mut file = std::fs::File::create(&path)?;
        while let Some(chunk) = write_rx.blocking_recv() {
            file.write_all(&chunk)?;
        }
        Ok(())
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
    let written = match writing.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ApiError::internal(&e.to_string())),
        Err(e) => Err(ApiError::internal(&e.to_string())),
    };
    let hashed = hashing
        .await
        .map_err(|e| ApiError::internal(&e.to_string()));
    let hasher = match (received, written, hashed) {
        (Ok(()), Ok(()), Ok(h)) => h,
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            let _ = tokio::fs::remove_file(&input).await;
            return Err(e);
        }
    };
    tracing::debug!(job = job_id, size, elapsed = ?started.elapsed(), "document received");
    let check = input.clone();
    let pages = tokio::task::spawn_blocking(move || -> Result<u64, crate::pdf::Error> {
        let mut doc = crate::pdf::Document::open(std::fs::File::open(&check)?)?;
        crate::pdf::page_count(&mut doc)
    })
    .await
    .map_err(|e| ApiError::internal(&e.to_string()))?;
    let pages = match pages {
        Ok(p) => p,
        Err(e) => {
            let _ = tokio::fs::remove_file(&input).await;
            return Err(ApiError::from_problem((&e).into()));
        }
    };
    Ok(super::state::Document {
        name: name.to_owned(),
        input,
        output,
        size,
        pages,
        sha256: hex::encode_upper(hasher.clone().finish()),
        prefix: hasher,
        signed: None,
    })
}
