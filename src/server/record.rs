//! What the daemon writes to the usage log: every signing (one entry per
//! document), every login from the consent window, refused consents and
//! answered pairings. Entries are committed durably before a signed result
//! can be fetched, so every document a page received has its entry.

use std::sync::Arc;

use super::state::{AppState, Document};
use crate::signing::worker::{Problem, SignOutcome, TokenStatus};
use crate::signing::Signed;
use crate::usage_log::{CertRef, DocRef, NewEntry, Operation, Outcome, TokenRef, UsageLog};

/// Writes `entries` in one transaction, off the async threads.
pub(crate) async fn write(state: &AppState, entries: Vec<NewEntry>) -> Result<(), Problem> {
    if entries.is_empty() {
        return Ok(());
    }
    let log: Arc<UsageLog> = state.inner.usage_log.clone();
    match tokio::task::spawn_blocking(move || log.record_all(entries)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Problem::from(&e)),
        Err(e) => Err(Problem {
            code: "LOG_WRITE".into(),
            en: e.to_string(),
            vi: e.to_string(),
        }),
    }
}

/// An entry from the daemon: the origin and job filled in.
pub(crate) fn entry(
    operation: Operation,
    outcome: Outcome,
    origin: &str,
    job_id: Option<&str>,
) -> NewEntry {
    let mut e = NewEntry::now(operation, outcome);
    e.origin = origin.to_owned();
    e.job_id = job_id.map(str::to_owned);
    e
}

fn with_token(mut e: NewEntry, token: &TokenStatus) -> NewEntry {
    e.token = token.token.as_ref().map(|t| TokenRef {
        label: t.label.clone(),
        serial: t.serial.clone(),
    });
    e.cert = token.certificate.as_ref().map(CertRef::from_summary);
    e
}

fn doc_ref(d: &Document, signed: Option<&Signed>) -> DocRef {
    DocRef {
        name: d.name.clone(),
        input_sha256: Some(d.sha256.clone()),
        output_sha256: signed.map(|s| s.output_sha256.clone()),
        input_size: Some(d.size),
        output_size: signed.map(|s| s.output_len),
        pages: Some(d.pages),
    }
}

/// The entries for one run of a job on the token.
pub(crate) fn for_run(
    origin: &str,
    job_id: &str,
    documents: &[Document],
    outcome: &SignOutcome,
    pin_given: bool,
    token: &TokenStatus,
) -> Vec<NewEntry> {
    let op = if documents.len() > 1 {
        Operation::BatchSign
    } else {
        Operation::Sign
    };
    let mut out = Vec::new();
    let pin_problem = matches!(outcome, SignOutcome::Failed(p) if p.code.starts_with("PIN_"));
    if pin_given && !pin_problem && !matches!(outcome, SignOutcome::NeedPin(_)) {
        out.push(with_token(
            entry(Operation::Login, Outcome::Ok, origin, Some(job_id)),
            token,
        ));
    }
    match outcome {
        SignOutcome::Signed(signed) => {
            for (d, s) in documents.iter().zip(signed) {
                let mut e = with_token(entry(op, Outcome::Ok, origin, Some(job_id)), token);
                e.document = Some(doc_ref(d, Some(s)));
                out.push(e);
            }
        }
        SignOutcome::Failed(p) if pin_problem => {
            let mut e = with_token(
                entry(
                    Operation::LoginFailed,
                    Outcome::Failed,
                    origin,
                    Some(job_id),
                ),
                token,
            );
            e.error_code = Some(p.code.clone());
            e.pin_locked =
                p.code == "PIN_LOCKED" || token.token.as_ref().is_some_and(|t| t.pin.locked);
            out.push(e);
        }
        SignOutcome::Failed(p) => {
            for d in documents {
                let mut e = with_token(entry(op, Outcome::Failed, origin, Some(job_id)), token);
                e.error_code = Some(p.code.clone());
                e.document = Some(doc_ref(d, None));
                out.push(e);
            }
        }
        SignOutcome::NeedPin(_) => {}
    }
    out
}
