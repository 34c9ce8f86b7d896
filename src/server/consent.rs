//! The consent and pairing windows: HTML pages served on Kyso's own origin,
//! so the calling page can neither script nor frame them. They work without
//! JavaScript; the PIN travels from this form straight to the daemon.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::jobs::{self, RunResult};
use super::record;
use super::state::{AppState, JobState, PairState};
use crate::signing::worker::{Problem, TokenStatus};
use crate::token::Pin;
use crate::usage_log::{Operation, Outcome};

/// Headers that keep Kyso's windows out of frames and away from scripts.
pub(crate) fn window_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // With `no-referrer`, Chromium sends `Origin: null` on the window's own
    // form post, which the guard must refuse.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Vietnamese by default; `?lang=en` switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Vi,
    En,
}

impl Lang {
    fn parse(s: Option<&str>) -> Lang {
        if s == Some("en") {
            Lang::En
        } else {
            Lang::Vi
        }
    }
    fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
    fn t<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(lang: Lang, title: &str, body: &str, status: StatusCode) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>Kyso – {}</title>\
         <link rel=\"stylesheet\" href=\"/static/kyso.css\"></head><body><main>\
         <p class=\"brand\">Kyso</p>{}</main></body></html>",
        lang.code(),
        esc(title),
        body
    );
    window_headers((status, Html(html)).into_response())
}

fn problem_box(lang: Lang, p: &Problem) -> String {
    format!(
        "<p class=\"error\" role=\"alert\" data-code=\"{}\">{}</p>",
        esc(&p.code),
        esc(match lang {
            Lang::Vi => &p.vi,
            Lang::En => &p.en,
        })
    )
}

fn link_problem(lang: Lang, code: &str) -> Response {
    let (vi, en) = match code {
        "CONSENT_TOKEN_EXPIRED" => (
            "Liên kết này đã hết hạn. Hãy thực hiện lại thao tác ký từ trang web.",
            "This link has expired. Start the signing again from the website.",
        ),
        _ => (
            "Liên kết này không hợp lệ hoặc đã được dùng. Hãy thực hiện lại thao tác ký từ trang web.",
            "This link is not valid or was already used. Start the signing again from the website.",
        ),
    };
    let p = Problem {
        code: code.into(),
        en: en.into(),
        vi: vi.into(),
    };
    page(
        lang,
        lang.t("Không hợp lệ", "Not valid"),
        &problem_box(lang, &p),
        StatusCode::FORBIDDEN,
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct LinkQuery {
    t: Option<String>,
    lang: Option<String>,
}

/// Checks a job's one-time token; `Err` carries the code to show.
fn check_job_token(state: &AppState, id: &str, t: &str) -> Result<(), &'static str> {
    let jobs = state.inner.jobs.lock().expect("jobs lock");
    let job = jobs.get(id).ok_or("CONSENT_TOKEN_INVALID")?;
    if job.state != JobState::AwaitingConsent {
        return Err("CONSENT_TOKEN_INVALID");
    }
    let token = job.consent.as_ref().ok_or("CONSENT_TOKEN_INVALID")?;
    if !token.matches(t) {
        return Err("CONSENT_TOKEN_INVALID");
    }
    if token.expires <= std::time::Instant::now() {
        return Err("CONSENT_TOKEN_EXPIRED");
    }
    Ok(())
}

/// `GET /consent/{id}?t=…`
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Response {
    let lang = Lang::parse(q.lang.as_deref());
    if let Err(code) = check_job_token(&state, &id, q.t.as_deref().unwrap_or("")) {
        return link_problem(lang, code);
    }
    let token = state.inner.worker.status().await;
    consent_form(&state, &id, lang, &token)
}

fn consent_form(state: &AppState, id: &str, lang: Lang, token: &TokenStatus) -> Response {
    let jobs = state.inner.jobs.lock().expect("jobs lock");
    let Some(job) = jobs.get(id) else {
        return link_problem(lang, "CONSENT_TOKEN_INVALID");
    };
    let Some(secret) = job.consent.as_ref() else {
        return link_problem(lang, "CONSENT_TOKEN_INVALID");
    };
    let serial = token
        .token
        .as_ref()
        .map(|t| t.serial.clone())
        .unwrap_or_default();
    let ask_every_time = state
        .inner
        .ask_every_time
        .lock()
        .expect("prefs lock")
        .contains(&serial);
    let need_pin = !token.logged_in || ask_every_time;
    let who = if job.origin == "local" {
        lang.t(
            "Một chương trình trên máy này",
            "A program on this computer",
        )
        .to_owned()
    } else {
        job.origin.clone()
    };

    let mut b = String::new();
    b.push_str(&format!(
        "<h1><span class=\"origin\">{}</span> {}</h1>",
        esc(&who),
        lang.t(
            "muốn ký văn bản bằng thiết bị ký số của bạn",
            "wants to sign with your signing token"
        )
    ));
    b.push_str(&format!(
        "<table class=\"docs\"><tr><th>{}</th><th>{}</th><th>{}</th><th>SHA-256</th></tr>",
        lang.t("Văn bản", "Document"),
        lang.t("Số trang", "Pages"),
        lang.t("Dung lượng", "Size")
    ));
    for d in job.documents.iter().flatten() {
        b.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"hash\">{}</td></tr>",
            esc(&d.name),
            d.pages,
            esc(&human_size(d.size)),
            esc(&d.sha256)
        ));
    }
    b.push_str("</table>");
    if let Some(req) = &job.options.appearance {
        let profile = serde_json::to_value(req.profile)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        b.push_str(&format!(
            "<p class=\"note\" id=\"appearance\">{} <strong>{}</strong></p>",
            lang.t(
                "Chữ ký hiển thị trên văn bản, mẫu:",
                "Visible signature, profile:"
            ),
            esc(&profile)
        ));
    }
    match &token.certificate {
        Some(c) => b.push_str(&format!(
            "<p class=\"cert\">{} <strong>{}</strong><br>{} {} · {} {}</p>",
            lang.t("Chứng thư số:", "Certificate:"),
            esc(&c.common_name),
            lang.t("Cấp bởi", "Issued by"),
            esc(&c.issuer),
            lang.t("hết hạn", "expires"),
            c.not_after.format("%d/%m/%Y")
        )),
        None => {
            if let Some(p) = &token.problem {
                b.push_str(&problem_box(lang, p));
            }
        }
    }
    if let Some(t) = &token.token {
        let pin_state = if t.pin.locked {
            lang.t("đã bị khoá", "locked")
        } else if t.pin.final_try {
            lang.t("còn một lần thử", "one try left")
        } else if t.pin.count_low {
            lang.t("đã có lần nhập sai", "a wrong PIN was entered recently")
        } else {
            lang.t("bình thường", "normal")
        };
        b.push_str(&format!(
            "<p class=\"pinstate\">{} <strong>{}</strong> ({}) · {} <strong id=\"pin-state\">{}</strong></p>",
            lang.t("Thiết bị ký:", "Token:"),
            esc(&t.label),
            esc(&t.serial),
            lang.t("Trạng thái PIN:", "PIN state:"),
            pin_state
        ));
        if let Some((en, vi)) = t.pin.warning() {
            b.push_str(&format!(
                "<p class=\"warning\" role=\"alert\">{}</p>",
                esc(lang.t(&vi, &en))
            ));
        }
        if t.pin.locked {
            b.push_str(&problem_box(
                lang,
                &(&crate::token::Error::PinLocked).into(),
            ));
        }
    }
    if let Some(p) = &job.window_problem {
        b.push_str(&problem_box(lang, p));
    }
    b.push_str(&format!(
        "<form method=\"post\" action=\"/consent/{}\">",
        esc(id)
    ));
    b.push_str(&format!(
        "<input type=\"hidden\" name=\"t\" value=\"{}\">",
        esc(&secret.value)
    ));
    b.push_str(&format!(
        "<input type=\"hidden\" name=\"lang\" value=\"{}\">",
        lang.code()
    ));
    if need_pin {
        b.push_str(&format!(
            "<label>{} <input type=\"password\" name=\"pin\" id=\"pin\" autocomplete=\"off\" autofocus required></label>",
            lang.t("Mã PIN", "PIN")
        ));
    } else {
        b.push_str(&format!(
            "<p class=\"note\">{}</p>",
            lang.t(
                "Thiết bị ký đang mở phiên; không cần nhập lại PIN.",
                "The token is unlocked; no PIN needed."
            )
        ));
    }
    b.push_str(&format!(
        "<label class=\"check\"><input type=\"checkbox\" name=\"ask_every_time\" value=\"1\"{}> {}</label>",
        if ask_every_time { " checked" } else { "" },
        lang.t("Luôn hỏi PIN mỗi lần ký với thiết bị này", "Ask for the PIN every time with this token")
    ));
    b.push_str(&format!(
        "<div class=\"buttons\"><button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">{}</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\" formnovalidate>{}</button></div></form>",
        lang.t("Ký", "Sign"),
        lang.t("Từ chối", "Refuse")
    ));
    b.push_str(&format!(
        "<p class=\"lang\"><a href=\"/consent/{}?t={}&amp;lang={}\">{}</a></p>",
        esc(id),
        esc(&secret.value),
        if lang == Lang::Vi { "en" } else { "vi" },
        if lang == Lang::Vi {
            "English"
        } else {
            "Tiếng Việt"
        }
    ));
    page(
        lang,
        lang.t("Xác nhận ký", "Confirm signing"),
        &b,
        StatusCode::OK,
    )
}

fn human_size(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MB", n as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KB", (n as f64 / 1024.0).ceil())
    }
}

#[derive(Deserialize)]
pub(crate) struct ConsentForm {
    t: String,
    decision: String,
    pin: Option<String>,
    ask_every_time: Option<String>,
    lang: Option<String>,
}

/// `POST /consent/{id}`: consumes the one-time token, then signs or refuses.
pub(crate) async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<ConsentForm>,
) -> Response {
    let lang = Lang::parse(form.lang.as_deref());
    if let Err(code) = check_job_token(&state, &id, &form.t) {
        return link_problem(lang, code);
    }
    // One use only: a replayed form finds no token.
    if let Some(job) = state.inner.jobs.lock().expect("jobs lock").get_mut(&id) {
        job.consent = None;
    }
    let pin = form.pin.filter(|p| !p.is_empty()).map(Pin::from);
    if form.decision != "approve" {
        drop(pin);
        let origin = {
            let mut jobs = state.inner.jobs.lock().expect("jobs lock");
            jobs.get_mut(&id).map(|job| {
                job.problem = Some(jobs::cancelled_problem());
                job.set_state(JobState::Cancelled);
                job.origin.clone()
            })
        };
        if let Some(origin) = origin {
            let e = record::entry(Operation::ConsentRefused, Outcome::Ok, &origin, Some(&id));
            if let Err(p) = record::write(&state, vec![e]).await {
                tracing::error!(code = p.code, "cannot record the refusal: {}", p.en);
            }
        }
        let body = format!(
            "<h1>{}</h1>",
            lang.t(
                "Đã từ chối. Không có văn bản nào được ký.",
                "Refused. Nothing was signed."
            )
        );
        return page(lang, lang.t("Đã từ chối", "Refused"), &body, StatusCode::OK);
    }
    let token = state.inner.worker.status().await;
    let ask_every_time = form.ask_every_time.is_some();
    if let Some(t) = &token.token {
        state
            .inner
            .ask_every_time
            .lock()
            .expect("prefs lock")
            .set(&t.serial, ask_every_time);
    }
    match jobs::run(&state, &id, pin, ask_every_time).await {
        RunResult::Done => {
            let body = format!(
                "<h1 id=\"done\">{}</h1><p>{}</p>",
                lang.t("Đã ký xong.", "Signed."),
                lang.t("Bạn có thể đóng cửa sổ này.", "You can close this window.")
            );
            page(lang, lang.t("Đã ký", "Signed"), &body, StatusCode::OK)
        }
        RunResult::NeedPin | RunResult::WrongPin => {
            let token = state.inner.worker.status().await;
            consent_form(&state, &id, lang, &token)
        }
        RunResult::Failed(p) => page(
            lang,
            lang.t("Không ký được", "Not signed"),
            &problem_box(lang, &p),
            StatusCode::OK,
        ),
    }
}

/// Checks a pairing's one-time token.
fn check_pair_token(state: &AppState, id: &str, t: &str) -> Result<String, &'static str> {
    let pairings = state.inner.pairings.lock().expect("pairings lock");
    let p = pairings.get(id).ok_or("CONSENT_TOKEN_INVALID")?;
    if p.used || p.state != PairState::Pending || !p.token.matches(t) {
        return Err("CONSENT_TOKEN_INVALID");
    }
    if p.token.expires <= std::time::Instant::now() {
        return Err("CONSENT_TOKEN_EXPIRED");
    }
    Ok(p.origin.clone())
}

/// `GET /pair/{id}?t=…`
pub(crate) async fn show_pair(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LinkQuery>,
) -> Response {
    let lang = Lang::parse(q.lang.as_deref());
    let t = q.t.unwrap_or_default();
    let origin = match check_pair_token(&state, &id, &t) {
        Ok(o) => o,
        Err(code) => return link_problem(lang, code),
    };
    let body = format!(
        "<h1><span class=\"origin\">{}</span> {}</h1><p>{}</p>\
         <form method=\"post\" action=\"/pair/{}\"><input type=\"hidden\" name=\"t\" value=\"{}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{}\"><div class=\"buttons\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">{}</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">{}</button></div></form>\
         <p class=\"lang\"><a href=\"/pair/{}?t={}&amp;lang={}\">{}</a></p>",
        esc(&origin),
        lang.t("muốn dùng thiết bị ký số của bạn", "wants to use your signing token"),
        lang.t(
            "Chỉ đồng ý nếu đây là phần mềm quản lý văn bản của cơ quan bạn. Mỗi lần ký, Kyso vẫn hỏi bạn.",
            "Allow this only if it is your office's document system. Kyso will still ask you before every signing."
        ),
        esc(&id),
        esc(&t),
        lang.code(),
        lang.t("Đồng ý", "Allow"),
        lang.t("Từ chối", "Deny"),
        esc(&id),
        esc(&t),
        if lang == Lang::Vi { "en" } else { "vi" },
        if lang == Lang::Vi { "English" } else { "Tiếng Việt" }
    );
    page(
        lang,
        lang.t("Kết nối trang web", "Pair website"),
        &body,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub(crate) struct PairForm {
    t: String,
    decision: String,
    lang: Option<String>,
}

/// `POST /pair/{id}`
pub(crate) async fn submit_pair(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<PairForm>,
) -> Response {
    let lang = Lang::parse(form.lang.as_deref());
    let origin = match check_pair_token(&state, &id, &form.t) {
        Ok(o) => o,
        Err(code) => return link_problem(lang, code),
    };
    let approve = form.decision == "approve";
    if approve {
        if let Err(e) = state
            .inner
            .origins
            .lock()
            .expect("origins lock")
            .add(&origin)
        {
            tracing::error!("cannot save the pairing: {e}");
            let p = Problem {
                code: "INTERNAL".into(),
                en: e.to_string(),
                vi: e.to_string(),
            };
            return page(
                lang,
                "Kyso",
                &problem_box(lang, &p),
                StatusCode::INTERNAL_SERVER_ERROR,
            );
        }
    }
    if let Some(p) = state
        .inner
        .pairings
        .lock()
        .expect("pairings lock")
        .get_mut(&id)
    {
        p.used = true;
        p.state = if approve {
            PairState::Approved
        } else {
            PairState::Denied
        };
        p.changed.send_modify(|v| *v += 1);
    }
    tracing::info!(origin, approve, "pairing answered");
    let op = if approve {
        Operation::PairingApproved
    } else {
        Operation::PairingDenied
    };
    if let Err(p) = record::write(&state, vec![record::entry(op, Outcome::Ok, &origin, None)]).await
    {
        tracing::error!(code = p.code, "cannot record the pairing: {}", p.en);
    }
    let body = if approve {
        format!(
            "<h1 id=\"done\">{} {}</h1>",
            esc(&origin),
            lang.t("đã được kết nối.", "is now paired.")
        )
    } else {
        format!(
            "<h1 id=\"done\">{}</h1>",
            lang.t("Đã từ chối kết nối.", "Pairing refused.")
        )
    };
    page(lang, "Kyso", &body, StatusCode::OK)
}
