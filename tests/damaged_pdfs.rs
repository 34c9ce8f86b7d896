//! Damaged PDFs get an error, never a panic: the daemon reads documents
//! from any web page, and a panic there would cost the user the job (or,
//! outside the worker threads, the daemon).
//!
//! Each source PDF (three committed ones, plus linearized, hybrid-reference
//! and incrementally updated files made here) is cut short at many lengths
//! (all of the last 3 KB, where the xref and trailer live, and spread over
//! the rest), has bytes overwritten with PDF delimiters and digits, and has
//! bytes inserted or deleted so that every later offset is wrong, at
//! pseudo-random places (half of them in the tail). Every damaged copy goes
//! through what signing does before the token is touched: open, count
//! pages, plan the incremental update and, for every fourth copy (the slow
//! step in a debug build), build a visible stamp found by an anchor text.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use chrono::{DateTime, FixedOffset, TimeZone};
use kyso::appearance::{self, Anchor, AnchorPlace, AppearanceRequest, Profile};
use kyso::describe::Describe;
use kyso::pdf::{self, Document, Placement, SigSpec};

/// What happened to one damaged copy.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Every step went through (the damage missed what Kyso reads).
    Planned,
    /// A step refused it with this code.
    Refused(&'static str),
}

/// Open, count pages, stamp (when `stamp`) and plan: the token-free part of
/// signing.
fn try_sign(path: &Path, stamp: bool) -> Outcome {
    let file = std::fs::File::open(path).expect("open the damaged copy");
    let mut doc = match Document::open(file) {
        Ok(d) => d,
        Err(e) => return code(&e),
    };
    if let Err(e) = pdf::page_count(&mut doc) {
        return code(&e);
    }
    let now = FixedOffset::east_opt(7 * 3600)
        .unwrap()
        .with_ymd_and_hms(2026, 11, 24, 9, 0, 0)
        .unwrap();
    if !stamp {
        return plan(&mut doc, now, Default::default());
    }
    let mut req = AppearanceRequest::new(Profile::Appendix);
    req.organization = Some("UBND TỈNH THỬ NGHIỆM".into());
    req.doc_number = Some("12/QĐ-UBND".into());
    req.page = Some(1);
    req.anchor = Some(Anchor {
        text: "a".into(),
        place: AnchorPlace::default(),
        offset_mm: [0.0, 0.0],
    });
    let placement = match appearance::build(&mut doc, &req, now) {
        Ok(p) => p,
        // The anchor text need not be on a damaged page: stamp by position.
        Err(e) if e.code() == "APPEARANCE_ANCHOR_NOT_FOUND" => {
            req.anchor = None;
            match appearance::build(&mut doc, &req, now) {
                Ok(p) => p,
                Err(e) => return code(&e),
            }
        }
        Err(e) => return code(&e),
    };
    plan(&mut doc, now, placement)
}

fn plan(doc: &mut Document, now: DateTime<FixedOffset>, placement: Placement) -> Outcome {
    let spec = SigSpec {
        field_name: None,
        reason: None,
        location: None,
        contact_info: None,
        signing_time: now,
        contents_len: 8192,
        placement,
    };
    match pdf::plan(doc, &spec) {
        Ok(_) => Outcome::Planned,
        Err(e) => code(&e),
    }
}

fn code(e: &dyn Describe) -> Outcome {
    let code = e.code();
    assert!(!code.is_empty() && !e.en().is_empty() && !e.vi().is_empty());
    Outcome::Refused(code)
}

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// A position in a file of `len` bytes: in the tail (from `tail`) for
    /// even `i`, anywhere for odd.
    fn place(&mut self, i: usize, len: usize, tail: usize) -> usize {
        if i.is_multiple_of(2) {
            tail + self.below(len - tail)
        } else {
            self.below(len)
        }
    }
}

/// The damaged copies of `original`, each with a description.
fn damaged_copies(original: &[u8], rng: &mut Rng) -> Vec<(String, Vec<u8>)> {
    let len = original.len();
    let mut out = Vec::new();
    let tail = len.saturating_sub(3072);
    let mut cuts: Vec<usize> = (tail..len).collect();
    cuts.extend((0..64).map(|i| i * tail / 64));
    for cut in cuts {
        out.push((format!("cut at {cut}"), original[..cut].to_vec()));
    }
    const NASTY: &[u8] = b"0 9-.<>[]()/R\nendobj";
    for i in 0..500 {
        let mut bytes = original.to_vec();
        let at = rng.place(i, len, tail);
        if i % 4 < 2 {
            let n = 1 + rng.below(3);
            let what: Vec<u8> = (0..n).map(|_| NASTY[rng.below(NASTY.len())]).collect();
            bytes.splice(at..at, what.iter().copied());
            out.push((
                format!("{:?} inserted at {at}", String::from_utf8_lossy(&what)),
                bytes,
            ));
        } else {
            let n = (1 + rng.below(8)).min(len - at);
            bytes.drain(at..at + n);
            out.push((format!("{n} bytes deleted at {at}"), bytes));
        }
    }
    for i in 0..1500 {
        let mut bytes = original.to_vec();
        let at = rng.place(i, len, tail);
        let n = 1 + rng.below(4);
        let mut what = Vec::with_capacity(n);
        for k in 0..n.min(len - at) {
            let b = NASTY[rng.below(NASTY.len())];
            bytes[at + k] = b;
            what.push(b);
        }
        out.push((
            format!("{:?} at {at}", String::from_utf8_lossy(&what)),
            bytes,
        ));
    }
    out
}

/// Damages `source` every way above.
fn check(source: &Path, seed: u64) {
    let name = source.file_name().unwrap().to_string_lossy().into_owned();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng(seed);
    let original = std::fs::read(source).expect("read the source PDF");
    // The undamaged file must go through, or the test proves nothing.
    assert_eq!(try_sign(source, true), Outcome::Planned, "{name}");
    let (mut planned, mut refused, mut panics) = (0, 0, Vec::new());
    for (i, (what, bytes)) in damaged_copies(&original, &mut rng).into_iter().enumerate() {
        let path = dir.path().join("damaged.pdf");
        std::fs::write(&path, &bytes).expect("write the damaged copy");
        match catch_unwind(AssertUnwindSafe(|| try_sign(&path, i % 4 == 0))) {
            Ok(Outcome::Planned) => planned += 1,
            Ok(Outcome::Refused(_)) => refused += 1,
            Err(_) => panics.push(what),
        }
    }
    eprintln!("{name}: {planned} damaged copies still signable, {refused} refused with a code");
    assert!(
        panics.is_empty(),
        "{name} panicked on:\n{}",
        panics.join("\n")
    );
    // Every cut of the tail loses the %%EOF or the xref, so many copies
    // must have been refused; otherwise nothing was damaged.
    assert!(refused > 1000, "{name}: only {refused} refused");
}

#[test]
fn damaged_libreoffice_pdfs_never_panic() {
    check(&common::fixture("libreoffice.pdf"), 0x6b79_736f_0001);
}

/// xref stream and object streams.
#[test]
fn damaged_pdftex_pdfs_never_panic() {
    check(&common::fixture("pdftex.pdf"), 0x6b79_736f_0002);
}

/// An AcroForm with fields.
#[test]
fn damaged_pdftex_form_pdfs_never_panic() {
    check(&common::fixture("pdftex-form.pdf"), 0x6b79_736f_0003);
}

/// Linearized: a first-page xref at the start and hint streams.
#[test]
fn damaged_linearized_pdfs_never_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("linearized.pdf");
    common::make_linearized(&common::fixture("libreoffice-2pages.pdf"), &path);
    check(&path, 0x6b79_736f_0004);
}

/// A hybrid-reference file (xref table plus `/XRefStm`).
#[test]
fn damaged_hybrid_pdfs_never_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hybrid.pdf");
    common::make_hybrid(&path);
    check(&path, 0x6b79_736f_0005);
}

/// An earlier incremental update over an xref stream: a `/Prev` chain.
#[test]
fn damaged_incremental_pdfs_never_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("incremental.pdf");
    common::make_incremental(&common::fixture("pdftex.pdf"), &path);
    check(&path, 0x6b79_736f_0006);
}
