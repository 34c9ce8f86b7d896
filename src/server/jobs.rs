//! Job bookkeeping shared by the API and the consent window: queue limits,
//! the JSON view of a job, and running a job on the token worker.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ApiError;
use super::guard::Caller;
use super::state::{AppState, Job, JobState, OneTimeToken};
use crate::signing::worker::{Problem, SignDoc, SignOutcome, SignRequest};
use crate::token::Pin;

/// How long finished jobs and their files are kept for the page to fetch.
const KEEP_FINISHED: Duration = Duration::from_secs(15 * 60);

pub(crate) fn cancelled_problem() -> Problem {
    Problem {
        code: "CONSENT_REFUSED".into(),
        en: "The signing was refused or cancelled; nothing was signed.".into(),
        vi: "Yêu cầu ký đã bị từ chối hoặc huỷ; không có văn bản nào được ký.".into(),
    }
}

/// Refuses new work past the queue limit.
pub(crate) fn check_queue(state: &AppState) -> Result<(), ApiError> {
    let jobs = state.inner.jobs.lock().expect("jobs lock");
    let waiting = jobs.values().filter(|j| !j.state.is_finished()).count();
    if waiting >= state.inner.settings.queue_limit {
        return Err(ApiError::queue_full(5));
    }
    Ok(())
}

/// Adds a new job to the list: from then on it counts against the queue,
/// and its folder may be created.
pub(crate) fn list(state: &AppState, job: Job) {
    state
        .inner
        .jobs
        .lock()
        .expect("jobs lock")
        .insert(job.id.clone(), job);
}

/// Makes `received` the document at `index` of job `id`, if the job still
/// takes documents; true when the job now has all of them. The file moves
/// into place under the jobs lock, so it and its digest stay paired even if
/// the same document is uploaded twice at once.
pub(crate) fn attach(
    state: &AppState,
    id: &str,
    index: usize,
    received: super::upload::Upload,
) -> Result<bool, ApiError> {
    let mut jobs = state.inner.jobs.lock().expect("jobs lock");
    let job = jobs
        .get_mut(id)
        .filter(|j| j.state == JobState::Uploading)
        .ok_or_else(ApiError::unknown_job)?;
    let slot = job
        .documents
        .get_mut(index)
        .ok_or_else(ApiError::unknown_document)?;
    *slot = Some(received.commit(index)?);
    Ok(job.documents.iter().all(Option::is_some))
}

/// Forgets a job still uploading when dropped before [`ready`]: a failed
/// upload, or a handler dropped because its connection closed.
///
/// [`ready`]: ForgetUnlessReady::ready
pub(crate) struct ForgetUnlessReady<'a> {
    state: &'a AppState,
    id: &'a str,
    armed: bool,
}

impl<'a> ForgetUnlessReady<'a> {
    pub(crate) fn new(state: &'a AppState, id: &'a str) -> Self {
        Self::when(true, state, id)
    }

    /// A guard that does nothing unless `armed`.
    pub(crate) fn when(armed: bool, state: &'a AppState, id: &'a str) -> Self {
        ForgetUnlessReady { state, id, armed }
    }

    /// The job is in the page's hands now; keep it.
    pub(crate) fn ready(mut self) {
        self.armed = false;
    }
}

impl Drop for ForgetUnlessReady<'_> {
    fn drop(&mut self) {
        if self.armed {
            forget(self.state, self.id);
        }
    }
}

/// Opens the consent of a job whose last document just arrived.
pub(crate) fn mark_ready(state: &AppState, id: &str) {
    let mut jobs = state.inner.jobs.lock().expect("jobs lock");
    if let Some(job) = jobs.get_mut(id) {
        job.consent = Some(OneTimeToken::new(state.inner.settings.consent_ttl()));
        job.set_state(JobState::AwaitingConsent);
    }
}

/// The consent URL of a job waiting for the user.
pub(crate) fn consent_url(state: &AppState, job: &Job) -> Option<String> {
    let token = job
        .consent
        .as_ref()
        .filter(|_| job.state == JobState::AwaitingConsent)?;
    Some(format!(
        "{}/consent/{}?t={}",
        state.inner.base_url, job.id, token.value
    ))
}

/// The JSON view of a job, as `GET /v1/jobs/{id}` returns it.
pub(crate) fn job_json(state: &AppState, job: &Job) -> serde_json::Value {
    let documents: Vec<_> = job
        .names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let doc = job.documents.get(i).and_then(Option::as_ref);
            serde_json::json!({
                "name": name,
                "uploaded": doc.is_some(),
                "size": doc.map(|d| d.size),
                "pages": doc.map(|d| d.pages),
                "sha256": doc.map(|d| d.sha256.clone()),
                "signed_sha256": doc.and_then(|d| d.signed.as_ref()).map(|s| s.output_sha256.clone()),
                "result_url": (job.state == JobState::Done).then(|| format!("/v1/jobs/{}/documents/{i}", job.id)),
            })
        })
        .collect();
    serde_json::json!({
        "job_id": job.id,
        "state": job.state,
        "origin": job.origin,
        "documents": documents,
        "consent_url": consent_url(state, job),
        "error": job.problem.as_ref().map(|p| serde_json::json!({"code": p.code, "message": p.en, "message_vi": p.vi})),
    })
}

/// How the page learns about a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `POST /v1/sign`: the page learns the job's id only in a 202.
    Direct,
    /// A batch: the page has had the job's id since `POST /v1/jobs`.
    Job,
}

/// What the API answers once a job has all its documents: when the origin
/// may sign without a click and the PIN is cached, the signed PDF (a
/// `POST /v1/sign`) or the finished job (a batch) at once; otherwise 202
/// with the consent URL.
pub(crate) async fn respond_after_submit(
    state: &AppState,
    id: &str,
    caller: &Caller,
    reply: Reply,
) -> Result<Response, ApiError> {
    let auto = match caller {
        Caller::Trusted(o) => state
            .inner
            .settings
            .auto_sign_origins
            .iter()
            .any(|a| crate::origins::normalize(a).as_deref() == Some(o.as_str())),
        _ => false,
    };
    if auto {
        // Until the page is told the job's id (a 202 below), nobody else can
        // reach a direct job: if it fails, or this handler is dropped because
        // the connection closed, it is forgotten with its files.
        let unclaimed = ForgetUnlessReady::when(reply == Reply::Direct, state, id);
        match run(state, id, None, false).await {
            RunResult::Done if reply == Reply::Direct => {
                let (path, name) = {
                    let jobs = state.inner.jobs.lock().expect("jobs lock");
                    let job = jobs.get(id).ok_or_else(ApiError::unknown_job)?;
                    let doc = job.documents[0].as_ref().expect("uploaded");
                    (doc.output.clone(), doc.name.clone())
                };
                // The file goes as soon as it is sent (or the client goes),
                // instead of keeping a signed copy of the document on disk.
                let forget_after = {
                    let state = state.clone();
                    let id = id.to_owned();
                    move || forget(&state, &id)
                };
                let response = super::download::pdf_response(path, &name, forget_after).await?;
                unclaimed.ready();
                return Ok(response);
            }
            RunResult::Done => {
                let jobs = state.inner.jobs.lock().expect("jobs lock");
                let job = jobs.get(id).ok_or_else(ApiError::unknown_job)?;
                return Ok((StatusCode::OK, Json(job_json(state, job))).into_response());
            }
            RunResult::NeedPin | RunResult::WrongPin => {
                unclaimed.ready();
            }
            RunResult::Failed(p) => return Err(ApiError::from_problem(p)),
        }
    }
    let jobs = state.inner.jobs.lock().expect("jobs lock");
    let job = jobs.get(id).ok_or_else(ApiError::unknown_job)?;
    if let Some(url) = consent_url(state, job) {
        super::pages::maybe_open_browser(state, &url);
    }
    Ok((
        StatusCode::ACCEPTED,
        [("x-kyso-job", id.to_owned())],
        Json(job_json(state, job)),
    )
        .into_response())
}

/// The result of running a job on the token.
pub(crate) enum RunResult {
    Done,
    /// Not logged in and no PIN given; the job waits for consent again.
    NeedPin,
    /// The PIN was wrong; the job waits for consent again.
    WrongPin,
    /// The job failed for good.
    Failed(Problem),
}

/// Signs a job's documents. On a PIN problem the job goes back to waiting
/// for consent with a fresh one-time token; it is never retried here.
pub(crate) async fn run(
    state: &AppState,
    id: &str,
    pin: Option<Pin>,
    logout_after: bool,
) -> RunResult {
    // On a task of its own: a handler is dropped when its connection closes,
    // and a signing must not stop half-way (the token may already have
    // signed) without its usage-log entry and its job's final state.
    let task = tokio::spawn(run_to_end(state.clone(), id.to_owned(), pin, logout_after));
    task.await.unwrap_or_else(|e| {
        tracing::error!("signing task failed: {e}");
        RunResult::Failed(Problem {
            code: "INTERNAL".into(),
            en: "Kyso failed unexpectedly; nothing was signed.".into(),
            vi: "Kyso gặp lỗi không mong muốn; không có văn bản nào được ký.".into(),
        })
    })
}

async fn run_to_end(
    state: AppState,
    id: String,
    pin: Option<Pin>,
    logout_after: bool,
) -> RunResult {
    let (state, id) = (&state, id.as_str());
    let pin_given = pin.is_some();
    let (request, origin, documents) = {
        let mut jobs = state.inner.jobs.lock().expect("jobs lock");
        let Some(job) = jobs.get_mut(id) else {
            return RunResult::Failed(Problem {
                code: "JOB_NOT_FOUND".into(),
                en: "No such signing job.".into(),
                vi: "Không có yêu cầu ký này.".into(),
            });
        };
        let documents = job
            .documents
            .iter()
            .flatten()
            .map(|d| SignDoc {
                path: d.input.clone(),
                prefix: Some(d.prefix.clone()),
            })
            .collect();
        job.set_state(JobState::Signing);
        let request = SignRequest {
            documents,
            options: job.options.clone(),
            pin,
            logout_after,
            now: chrono::Local::now().fixed_offset(),
        };
        let docs: Vec<_> = job.documents.iter().flatten().cloned().collect();
        (request, job.origin.clone(), docs)
    };
    let mut outcome = state.inner.worker.sign(request).await;
    // The record is durable before the page can fetch anything: a document
    // that cannot be recorded is not released.
    let token = state.inner.worker.status().await;
    let entries = super::record::for_run(&origin, id, &documents, &outcome, pin_given, &token);
    if let Err(p) = super::record::write(state, entries).await {
        tracing::error!(code = p.code, "cannot write the usage log: {}", p.en);
        if let SignOutcome::Signed(signed) = &outcome {
            for s in signed {
                let _ = std::fs::remove_file(&s.output);
            }
        }
        outcome = SignOutcome::Failed(p);
    }
    let mut jobs = state.inner.jobs.lock().expect("jobs lock");
    let Some(job) = jobs.get_mut(id) else {
        return RunResult::Failed(cancelled_problem());
    };
    match outcome {
        SignOutcome::Signed(signed) => {
            for (doc, s) in job.documents.iter_mut().flatten().zip(signed) {
                doc.signed = Some(s);
            }
            job.window_problem = None;
            job.set_state(JobState::Done);
            RunResult::Done
        }
        SignOutcome::NeedPin(_) => {
            job.consent = Some(OneTimeToken::new(state.inner.settings.consent_ttl()));
            job.set_state(JobState::AwaitingConsent);
            RunResult::NeedPin
        }
        SignOutcome::Failed(p) if p.code == "PIN_INCORRECT" => {
            job.consent = Some(OneTimeToken::new(state.inner.settings.consent_ttl()));
            job.window_problem = Some(p);
            job.set_state(JobState::AwaitingConsent);
            RunResult::WrongPin
        }
        SignOutcome::Failed(p) => {
            job.problem = Some(p.clone());
            job.set_state(JobState::Failed);
            RunResult::Failed(p)
        }
    }
}

/// Removes a job and its files.
pub(crate) fn forget(state: &AppState, id: &str) {
    let job = state.inner.jobs.lock().expect("jobs lock").remove(id);
    if let Some(job) = job {
        remove_files(state, &job);
    }
}

pub(crate) fn remove_files(state: &AppState, job: &Job) {
    remove_dir(&state.inner.work_dir.join(&job.id));
}

fn remove_dir(dir: &std::path::Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // Another program (an antivirus, an indexer) may hold a file open
        // for a moment; `prune` tries again.
        Err(e) => tracing::warn!(dir = %dir.display(), "cannot remove a job's files yet: {e}"),
    }
}

/// Drops finished jobs after a while, and expires consent links nobody used.
pub(crate) fn prune(state: &AppState) {
    let now = Instant::now();
    let mut jobs = state.inner.jobs.lock().expect("jobs lock");
    for job in jobs.values_mut() {
        let consent_expired = job.state == JobState::AwaitingConsent
            && job.consent.as_ref().is_some_and(|t| t.expires <= now);
        let upload_abandoned =
            job.state == JobState::Uploading && now.duration_since(job.created) > KEEP_FINISHED;
        if consent_expired || upload_abandoned {
            job.problem = Some(Problem {
                code: "CONSENT_EXPIRED".into(),
                en: "Nobody answered the signing window in time; nothing was signed.".into(),
                vi: "Không có ai trả lời cửa sổ ký kịp thời; không có văn bản nào được ký.".into(),
            });
            job.set_state(JobState::Cancelled);
        }
    }
    let old: Vec<String> = jobs
        .values()
        .filter(|j| {
            j.finished_at
                .is_some_and(|t| now.duration_since(t) > KEEP_FINISHED)
        })
        .map(|j| j.id.clone())
        .collect();
    for id in old {
        if let Some(job) = jobs.remove(&id) {
            remove_files(state, &job);
        }
    }
    // Every job folder belongs to a listed job from before its first byte
    // is written, so a folder without one is left over (its removal failed
    // earlier) and goes now.
    let Ok(entries) = std::fs::read_dir(&state.inner.work_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(|n| jobs.contains_key(n)) {
            remove_dir(&entry.path());
        }
    }
}
