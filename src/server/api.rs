//! The JSON/PDF API under `/v1`. One small function per route; every route
//! is listed in docs/openapi.yaml, which a test keeps in sync.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use super::error::ApiError;
use super::guard::Caller;
use super::jobs::{self, job_json};
use super::state::{AppState, Job, JobState, OneTimeToken, PairRequest, PairState};
use super::{download, upload};
use crate::appearance::AppearanceRequest;
use crate::signing::DocOptions;
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
    let job = Job::new(caller.origin_label(), vec![name.clone()], options);
    let id = job.id.clone();
    // The job is listed while it uploads, so it counts against the queue
    // and its folder always belongs to a listed job. It is forgotten if
    // anything below fails or the connection closes before it is ready.
    jobs::list(&state, job);
    let pending = jobs::ForgetUnlessReady::new(&state, &id);
    let received = upload::receive(&state, &id, &name, &headers, body).await?;
    jobs::attach(&state, &id, 0, received)?;
    jobs::mark_ready(&state, &id);
    pending.ready();
    jobs::respond_after_submit(&state, &id, &caller, jobs::Reply::Direct).await
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
    jobs::list(&state, job);
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
    let received = upload::receive(&state, &id, &name, &headers, body).await?;
    if jobs::attach(&state, &id, index, received)? {
        jobs::mark_ready(&state, &id);
        return jobs::respond_after_submit(&state, &id, &caller, jobs::Reply::Job).await;
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
    download::pdf_response(path, &name, || ()).await
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
