//! The token worker: one OS thread owns the PKCS#11 module and session
//! (`cryptoki::Session` is not `Sync`) and serves requests in order over a
//! channel. It also watches the slots, so a token that is pulled out or
//! plugged in is noticed without a restart, and it logs out after the PIN
//! cache's idle time.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use tokio::sync::oneshot;

use super::{DocOptions, KeyOptions, Signed, Signer};
use crate::certinfo::CertSummary;
use crate::cms::Cert;
use crate::describe::Describe;
use crate::token::{self, Module, Pin, PinState, TokenCert, TokenInfo, TokenSession};

/// How the worker chooses its token and key.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The PKCS#11 module.
    pub module: PathBuf,
    /// The token selector (label or serial).
    pub token: Option<String>,
    /// The certificate selector.
    pub cert: Option<String>,
    /// Extra issuer certificates to embed.
    pub chain: Vec<Cert>,
    /// Digest and mechanism options.
    pub key_options: KeyOptions,
    /// How long a login stays cached without use.
    pub pin_idle: Duration,
    /// How often the slots are polled for insertion and removal.
    pub poll: Duration,
}

/// A stable code with both messages, as the API and the consent window show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    /// The error code.
    pub code: String,
    /// English.
    pub en: String,
    /// Vietnamese.
    pub vi: String,
}

impl<E: Describe> From<&E> for Problem {
    fn from(e: &E) -> Self {
        Problem {
            code: e.code().to_owned(),
            en: e.en(),
            vi: e.vi(),
        }
    }
}

/// What the worker knows about the token right now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenStatus {
    /// Whether a usable token is present.
    pub present: bool,
    /// The token, when present.
    pub token: Option<TokenInfo>,
    /// The signing certificate, when one was chosen.
    pub certificate: Option<CertSummary>,
    /// Every certificate on the token.
    pub certificates: Vec<CertSummary>,
    /// Whether the session is logged in (the PIN is cached).
    pub logged_in: bool,
    /// Why the token cannot be used, if it cannot.
    pub problem: Option<Problem>,
}

/// One signing request: documents with their outputs, and maybe a PIN.
pub struct SignRequest {
    /// The documents, each signed in place.
    pub documents: Vec<SignDoc>,
    /// Per-document options.
    pub options: DocOptions,
    /// The PIN from the consent window, if the user typed one.
    pub pin: Option<Pin>,
    /// Log out right after this request ("ask PIN every time").
    pub logout_after: bool,
    /// The signing time.
    pub now: DateTime<FixedOffset>,
}

/// One document of a [`SignRequest`]: a file the caller owns, signed in
/// place (the update is appended to it).
pub struct SignDoc {
    /// The file.
    pub path: PathBuf,
    /// SHA-256 over the whole file, if the caller hashed it while receiving.
    pub prefix: Option<crate::types::Hasher>,
}

/// The outcome of a [`SignRequest`].
#[derive(Debug)]
pub enum SignOutcome {
    /// Every document was signed.
    Signed(Vec<Signed>),
    /// The session is not logged in and no PIN was given.
    NeedPin(PinState),
    /// Signing failed; nothing was written.
    Failed(Problem),
}

enum Command {
    Status(oneshot::Sender<TokenStatus>),
    Sign(Box<SignRequest>, oneshot::Sender<SignOutcome>),
    Logout,
}

/// A handle to the worker thread. Cloneable; the thread stops when the last
/// handle is dropped.
#[derive(Clone)]
pub struct Worker {
    tx: mpsc::Sender<Command>,
    thread: std::sync::Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl Worker {
    /// Starts the worker thread. Fails when the module cannot be loaded.
    pub fn start(config: WorkerConfig) -> Result<Worker, token::Error> {
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("kyso-token".into())
            .spawn(move || match Module::load(&config.module) {
                Ok(module) => {
                    let _ = ready_tx.send(Ok(()));
                    run(&module, &config, &rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| token::Error::Pkcs11(e.to_string()))?;
        ready_rx
            .recv()
            .map_err(|_| token::Error::Pkcs11("the token worker did not start".into()))??;
        Ok(Worker {
            tx,
            thread: std::sync::Arc::new(std::sync::Mutex::new(Some(thread))),
        })
    }

    /// Stops the thread and waits for it to log out and finalise the
    /// module. Call before the process exits: a PKCS#11 library finalised
    /// while the process tears down its own globals can crash (SoftHSM2 does).
    /// Other clones of this handle keep the thread alive until they are
    /// dropped; this waits for that too.
    pub fn shutdown(self) {
        let thread = self.thread.clone();
        drop(self);
        let handle = thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// The token's current state.
    pub async fn status(&self) -> TokenStatus {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Status(reply)).is_err() {
            return gone_status();
        }
        rx.await.unwrap_or_else(|_| gone_status())
    }

    /// Signs, waiting for the request's turn.
    pub async fn sign(&self, request: SignRequest) -> SignOutcome {
        let (reply, rx) = oneshot::channel();
        let gone = || {
            SignOutcome::Failed(Problem::from(&token::Error::Pkcs11(
                "the token worker stopped".into(),
            )))
        };
        if self
            .tx
            .send(Command::Sign(Box::new(request), reply))
            .is_err()
        {
            return gone();
        }
        rx.await.unwrap_or_else(|_| gone())
    }

    /// Forgets the cached login.
    pub fn logout(&self) {
        let _ = self.tx.send(Command::Logout);
    }
}

fn gone_status() -> TokenStatus {
    TokenStatus {
        present: false,
        token: None,
        certificate: None,
        certificates: Vec::new(),
        logged_in: false,
        problem: Some(Problem::from(&token::Error::Pkcs11(
            "the token worker stopped".into(),
        ))),
    }
}

/// The worker's state between requests.
struct Current<'m> {
    token: TokenInfo,
    session: TokenSession<'m>,
    logged_in: bool,
    last_used: Instant,
    /// The token's certificates, read once per session: they do not change
    /// while the token stays plugged in, and reading them costs SoftHSM
    /// dozens of file opens.
    certs: Vec<TokenCert>,
}

fn run(module: &Module, config: &WorkerConfig, rx: &mpsc::Receiver<Command>) {
    let mut current: Option<Current<'_>> = None;
    let mut last_problem: Option<Problem> = None;
    refresh(module, config, &mut current, &mut last_problem);
    loop {
        match rx.recv_timeout(config.poll) {
            Ok(Command::Status(reply)) => {
                refresh(module, config, &mut current, &mut last_problem);
                let _ = reply.send(status(config, current.as_ref(), last_problem.clone()));
            }
            Ok(Command::Sign(request, reply)) => {
                refresh(module, config, &mut current, &mut last_problem);
                let outcome = sign(module, config, &mut current, &last_problem, *request);
                let _ = reply.send(outcome);
            }
            Ok(Command::Logout) => {
                if let Some(c) = current.as_mut() {
                    logout(c);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                refresh(module, config, &mut current, &mut last_problem);
                if let Some(c) = current.as_mut() {
                    if c.logged_in && c.last_used.elapsed() >= config.pin_idle {
                        tracing::info!("PIN cache idle time reached; logging out");
                        logout(c);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Some(mut c) = current.take() {
        logout(&mut c);
    }
}

fn logout(c: &mut Current<'_>) {
    if c.logged_in {
        c.session.logout();
        c.logged_in = false;
    }
}

/// Notices a pulled or newly plugged token and (re)opens the session.
fn refresh<'m>(
    module: &'m Module,
    config: &WorkerConfig,
    current: &mut Option<Current<'m>>,
    problem: &mut Option<Problem>,
) {
    let chosen = module.select(config.token.as_deref());
    match (chosen, current.as_ref()) {
        (Ok(t), Some(c)) if t.serial == c.token.serial && t.label == c.token.label => {
            if let Some(c) = current.as_mut() {
                c.token = t;
            }
            *problem = None;
        }
        (Ok(t), _) => {
            if current.is_some() {
                tracing::info!("a different token was plugged in");
            }
            *current = None;
            match module.open(&t) {
                Ok(session) => {
                    tracing::info!(token = %t.display_name(), "token session opened");
                    match session.certificates() {
                        Ok(certs) => {
                            *current = Some(Current {
                                token: t,
                                session,
                                logged_in: false,
                                last_used: Instant::now(),
                                certs,
                            });
                            *problem = None;
                        }
                        Err(e) => *problem = Some(Problem::from(&e)),
                    }
                }
                Err(e) => *problem = Some(Problem::from(&e)),
            }
        }
        (Err(e), _) => {
            if current.take().is_some() {
                tracing::info!("the token was removed");
            }
            *problem = Some(Problem::from(&e));
        }
    }
}

fn status(
    config: &WorkerConfig,
    current: Option<&Current<'_>>,
    problem: Option<Problem>,
) -> TokenStatus {
    let Some(c) = current else {
        return TokenStatus {
            present: false,
            token: None,
            certificate: None,
            certificates: Vec::new(),
            logged_in: false,
            problem,
        };
    };
    let certificates = c.certs.clone();
    let chosen = token::select_cert(&c.certs, config.cert.as_deref());
    let (certificate, problem) = match chosen {
        Ok(cert) => (Some(cert.summary), problem),
        Err(e) => (None, Some(Problem::from(&e))),
    };
    TokenStatus {
        present: true,
        token: Some(c.token.clone()),
        certificate,
        certificates: certificates.into_iter().map(|c| c.summary).collect(),
        logged_in: c.logged_in,
        problem,
    }
}

fn sign(
    module: &Module,
    config: &WorkerConfig,
    current: &mut Option<Current<'_>>,
    problem: &Option<Problem>,
    request: SignRequest,
) -> SignOutcome {
    let Some(c) = current.as_mut() else {
        let p = problem
            .clone()
            .unwrap_or_else(|| Problem::from(&token::Error::NoToken));
        return SignOutcome::Failed(p);
    };
    let outcome = sign_with(module, config, c, request.pin.as_ref(), &request);
    drop(request.pin);
    if let SignOutcome::Failed(p) = &outcome {
        if p.code == "TOKEN_REMOVED" {
            *current = None;
            return outcome;
        }
    }
    if request.logout_after {
        logout(c);
    }
    outcome
}

fn sign_with(
    module: &Module,
    config: &WorkerConfig,
    c: &mut Current<'_>,
    pin: Option<&Pin>,
    request: &SignRequest,
) -> SignOutcome {
    let fail = |e: &dyn Describe| {
        SignOutcome::Failed(Problem {
            code: e.code().into(),
            en: e.en(),
            vi: e.vi(),
        })
    };
    let cert = match token::select_cert(&c.certs, config.cert.as_deref()) {
        Ok(cert) => cert,
        Err(e) => return fail(&e),
    };
    if let Err(e) = super::check_validity(&cert, chrono::Utc::now()) {
        return fail(&e);
    }
    if !c.logged_in {
        let state = match module.pin_state(&c.token) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        if state.locked {
            return fail(&token::Error::PinLocked);
        }
        if pin.is_none() && !c.token.pin_pad {
            return SignOutcome::NeedPin(state);
        }
        if let Err(e) = c.session.login(pin) {
            return fail(&e);
        }
        c.logged_in = true;
    }
    c.last_used = Instant::now();
    let mut chain = token::issuer_chain(&c.certs, &cert);
    for extra in &config.chain {
        if !chain.iter().any(|x| x.der() == extra.der()) {
            chain.push(extra.clone());
        }
    }
    // Job outputs are streamed to the page and deleted; syncing them to
    // disk would only slow every signing down.
    let signer = match Signer::with_chain(&c.session, cert, chain, config.key_options) {
        Ok(s) => s.temporary_outputs(),
        Err(e) => return fail(&e),
    };
    let mut signed = Vec::with_capacity(request.documents.len());
    for d in &request.documents {
        match signer.sign_in_place(&d.path, d.prefix.clone(), &request.options, request.now) {
            Ok(s) => signed.push(s),
            // The job's files belong to this job only; the caller discards
            // the whole job on failure.
            Err(e) => return fail(&e),
        }
    }
    c.last_used = Instant::now();
    SignOutcome::Signed(signed)
}
