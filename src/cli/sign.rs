//! `kyso sign`: one PIN entry for any number of documents.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use super::args::{RsaMechanismArg, SignArgs};
use super::log::{locked_by, signed_doc, unsigned_doc, Recorder};
use super::output::{interactive, print_failure, report};
use super::{exit, exit_code_for, Failure};
use crate::cms::Cert;
use crate::config::Config;
use crate::signing::{DocOptions, KeyOptions, Signer, Unreleased};
use crate::token::{self, Module, Pin, RsaMechanism};
use crate::usage_log::{Operation, Outcome};

pub(super) fn run(
    module: &Module,
    config: &Config,
    a: SignArgs,
    demo: bool,
) -> Result<u8, Failure> {
    let jobs = plan_outputs(&a)?;
    // Before the token is touched: a log that cannot be written stops here.
    let mut rec = Recorder::open(config)?;
    let token = module.select(a.token.as_deref().or(config.token.as_deref()))?;
    rec.set_token(&token);
    let session = module.open(&token)?;
    let cert = session.select_cert(a.cert.as_deref().or(config.cert.as_deref()))?;
    rec.set_cert(&cert.summary);
    let chain = match a.chain.as_ref().or(config.chain.as_ref()) {
        Some(p) => load_chain(p)?,
        None => Vec::new(),
    };
    let s = &cert.summary;
    eprintln!("Token:       {}", token.display_name());
    eprintln!(
        "Certificate: {} [{}], {}, valid until {}",
        s.common_name,
        s.serial,
        s.key,
        s.not_after.format("%Y-%m-%d")
    );
    crate::signing::check_validity(&cert, chrono::Utc::now())?;

    let state = module.pin_state(&token)?;
    if state.locked {
        let e = token::Error::PinLocked;
        rec.record(rec.login_failure(&e))?;
        return Err(e.into());
    }
    if let Some((en, vi)) = state.warning() {
        report(&en, &vi);
    }
    let pin = if token.pin_pad {
        report(
            "Enter the PIN on the reader's PIN pad.",
            "Hãy nhập mã PIN trên bàn phím của đầu đọc.",
        );
        None
    } else {
        Some(read_pin(a.pin_stdin, demo)?)
    };
    let login = session.login(pin.as_ref());
    drop(pin);
    if let Err(e) = login {
        rec.record(rec.login_failure(&e))?;
        return Err(e.into());
    }
    // Committed with the first document's entry, one flush for both.
    rec.defer(rec.entry(Operation::Login, Outcome::Ok));

    let key_options = KeyOptions {
        digest: a.digest.or(config.digest).unwrap_or_default(),
        pss: a.pss,
        rsa_mechanism: match a.rsa_mechanism {
            RsaMechanismArg::Auto => RsaMechanism::Auto,
            RsaMechanismArg::Combined => RsaMechanism::Combined,
            RsaMechanismArg::Raw => RsaMechanism::Raw,
        },
    };
    let cert_serial = cert.summary.serial.clone();
    let signer = Signer::new(&session, cert, chain, key_options)?;
    let doc = DocOptions {
        reason: a.reason.clone().or_else(|| config.reason.clone()),
        location: a.location.clone().or_else(|| config.location.clone()),
        contact_info: a.contact.clone().or_else(|| config.contact_info.clone()),
        field_name: a.field.clone(),
        placement: Default::default(),
        appearance: a.appearance.request(&config.appearance, &cert_serial),
    };

    let bar = (jobs.len() > 1 && interactive()).then(|| {
        let bar = ProgressBar::new(jobs.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} {wide_msg}")
                .expect("valid template"),
        );
        bar
    });
    let operation = if jobs.len() > 1 {
        Operation::BatchSign
    } else {
        Operation::Sign
    };
    let failed: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let signed_count = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let say = |line: String| match &bar {
        Some(b) => b.println(line),
        None => println!("{line}"),
    };
    let fail = |f: Failure, input: &Path| {
        match &bar {
            Some(b) => b.suspend(|| print_failure(&f, Some(input))),
            None => print_failure(&f, Some(input)),
        }
        // A token or log problem will fail every remaining document too.
        if f.code.starts_with("TOKEN_") || f.code.starts_with("PIN_") || f.code.starts_with("LOG_")
        {
            stop.store(true, Ordering::SeqCst);
        }
        failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(f.code);
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    // A failed attempt gets its entry too; if even that cannot be written,
    // the log's error is the one to show.
    let record_failure = |e: &crate::signing::Error, input: &Path, detail: Option<String>| {
        use crate::describe::Describe;
        let locked = matches!(e, crate::signing::Error::Token(t) if locked_by(t));
        let mut entry = rec.failure(operation, e.code(), locked);
        entry.document = Some(unsigned_doc(input));
        entry.detail = detail;
        rec.record(entry).err().map(Failure::from)
    };

    // Signing and releasing overlap. This thread signs each document into a
    // temp file and queues it; the releaser takes everything queued, commits
    // those entries in one transaction (a group commit) while the files are
    // fsynced, and only then renames each file into place. So an entry is
    // always durable before its file appears, and a batch pays about one
    // log fsync per group instead of one per document.
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(&PathBuf, Unreleased)>(16);
        let (fail, say, record_failure) = (&fail, &say, &record_failure);
        let (rec, bar, signed_count) = (&rec, &bar, &signed_count);
        s.spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut group = vec![first];
                group.extend(rx.try_iter());
                let entries = group
                    .iter()
                    .map(|(input, u)| {
                        let mut e = rec.entry(operation, Outcome::Ok);
                        e.document = Some(signed_doc(input, u.signed()));
                        e
                    })
                    .collect();
                let (committed, synced) = std::thread::scope(|s2| {
                    let commit = s2.spawn(|| rec.record_all(entries));
                    let synced: Vec<_> = group.iter().map(|(_, u)| u.sync()).collect();
                    (
                        commit
                            .join()
                            .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                        synced,
                    )
                });
                let ids = match committed {
                    Ok(ids) => ids,
                    Err(e) => {
                        // Nothing of this group is released; the temp files
                        // are deleted on drop.
                        use crate::describe::Describe;
                        for (input, _) in &group {
                            fail(Failure::new(e.code(), e.en(), e.vi()), input);
                        }
                        return;
                    }
                };
                for (((input, u), sync), id) in group.into_iter().zip(synced).zip(ids) {
                    match sync.and_then(|()| u.rename()) {
                        Ok(signed) => {
                            signed_count.fetch_add(1, Ordering::SeqCst);
                            say(format!(
                                "signed {} -> {} ({})",
                                input.display(),
                                signed.output.display(),
                                signed.field_name
                            ));
                            if let Some(b) = &bar {
                                b.inc(1);
                            }
                        }
                        Err(e) => {
                            let detail = id.map(|id| {
                                format!(
                                    "the signed output recorded in entry #{id} was not released"
                                )
                            });
                            let f = record_failure(&e, input, detail)
                                .unwrap_or_else(|| Failure::from(e));
                            fail(f, input);
                        }
                    }
                }
            }
        });
        for (input, output) in &jobs {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if let Some(b) = &bar {
                b.set_message(input.display().to_string());
            }
            let now = chrono::Local::now().fixed_offset();
            match signer.sign_to_temp(input, output, &doc, now) {
                Ok(unreleased) => {
                    if tx.send((input, unreleased)).is_err() {
                        break; // the releaser stopped on a log failure
                    }
                }
                Err(e) => {
                    let f = record_failure(&e, input, None).unwrap_or_else(|| Failure::from(e));
                    fail(f, input);
                }
            }
        }
        drop(tx);
    });
    let failed = failed.into_inner().unwrap_or_else(|p| p.into_inner());
    let signed_count = signed_count.into_inner();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(match (failed.len(), jobs.len()) {
        (0, _) => exit::OK,
        (_, 1) => exit_code_for(failed[0]),
        // A fatal error stops the batch: the documents not tried count too.
        (_, total) => {
            let n = total - signed_count;
            report(
                &format!("{} of {total} documents were not signed.", n),
                &format!("{} trên {total} văn bản chưa được ký.", n),
            );
            exit::PARTIAL
        }
    })
}

fn plan_outputs(a: &SignArgs) -> Result<Vec<(PathBuf, PathBuf)>, Failure> {
    match (&a.output, &a.out_dir) {
        (Some(out), None) if a.inputs.len() == 1 => Ok(vec![(a.inputs[0].clone(), out.clone())]),
        (Some(_), None) => Err(Failure::new(
            "OPTION_OUTPUT",
            "-o names one output file; use --out-dir DIR to sign several files.",
            "-o chỉ dùng cho một tệp; hãy dùng --out-dir THƯ-MỤC để ký nhiều tệp.",
        )),
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                Failure::new(
                    "FILE_ERROR",
                    format!("Cannot create {}: {e}.", dir.display()),
                    format!("Không tạo được thư mục {}: {e}.", dir.display()),
                )
            })?;
            a.inputs
                .iter()
                .map(|input| {
                    let name = input.file_name().ok_or_else(|| {
                        Failure::new(
                            "OPTION_OUTPUT",
                            format!("{} is not a file.", input.display()),
                            format!("{} không phải là tệp.", input.display()),
                        )
                    })?;
                    let out = dir.join(name);
                    if same_file(input, &out) {
                        return Err(Failure::new(
                            "OPTION_OUTPUT",
                            format!("--out-dir would overwrite the original {}; choose another directory.", input.display()),
                            format!("--out-dir sẽ ghi đè lên tệp gốc {}; hãy chọn thư mục khác.", input.display()),
                        ));
                    }
                    Ok((input.clone(), out))
                })
                .collect()
        }
        _ => Err(Failure::new(
            "OPTION_OUTPUT",
            "Say where to write the signed file: -o OUT or --out-dir DIR.",
            "Hãy cho biết nơi ghi tệp đã ký: -o TỆP hoặc --out-dir THƯ-MỤC.",
        )),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn load_chain(path: &Path) -> Result<Vec<Cert>, Failure> {
    let bad = |why: String| {
        Failure::new(
            "OPTION_CHAIN",
            format!("Cannot use the chain file {}: {why}.", path.display()),
            format!(
                "Không dùng được tệp chuỗi chứng thư {}: {why}.",
                path.display()
            ),
        )
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut certs = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let end_marker = "-----END CERTIFICATE-----";
        let end = rest[start..]
            .find(end_marker)
            .ok_or_else(|| bad("unterminated PEM block".into()))?
            + start;
        let block = &rest[start..end + end_marker.len()];
        let (_, der) = der::pem::decode_vec(block.as_bytes()).map_err(|e| bad(e.to_string()))?;
        certs.push(Cert::from_der(der).map_err(|e| bad(e.to_string()))?);
        rest = &rest[end + end_marker.len()..];
    }
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(certs)
}

fn read_pin(from_stdin: bool, demo: bool) -> Result<Pin, Failure> {
    let pin = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|_| token::Error::PinCancelled)?;
        while line.ends_with('\n') || line.ends_with('\r') {
            line.pop();
        }
        line
    } else if std::io::stdin().is_terminal() {
        if demo {
            report(
                &format!("Demo token: the PIN is {}.", crate::demo::PIN),
                &format!("Thiết bị ký thử nghiệm: mã PIN là {}.", crate::demo::PIN),
            );
        }
        rpassword::prompt_password("PIN (mã PIN): ").map_err(|_| token::Error::PinCancelled)?
    } else {
        return Err(Failure::new(
            "PIN_NO_INPUT",
            "There is no terminal to ask for the PIN. Use --pin-stdin to pass it on standard input.",
            "Không có cửa sổ dòng lệnh để hỏi mã PIN. Hãy dùng --pin-stdin để nhập PIN qua đầu vào chuẩn.",
        ));
    };
    if pin.is_empty() {
        return Err(token::Error::PinCancelled.into());
    }
    Ok(Pin::from(pin))
}
