//! Visible signatures per Decree 30/2020 Appendix I, end to end: the real
//! binary, SoftHSM2 tokens from the test PKI, pages rendered by poppler's
//! `pdftoppm` and checked pixel by pixel, text read back by `pdftotext`,
//! fonts by `pdffonts`, signatures validated by pyHanko and pdfsig.
//! See issue 5 ("Visible signatures … approved, issued, appendix, copy").

#[path = "../common/mod.rs"]
mod common;
mod pictures;
mod raster;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use raster::{bounds, is_blue, is_red, mm_to_px, px_to_mm, render, render_pdfjs, PxBox};

const ORG: &str = "Ủy ban nhân dân tỉnh Thử Nghiệm";
const DOC_NUMBER: &str = "123/QĐ-UBND";
const SIGNER_NAME: &str = "Nguyễn Văn An";
/// The configured seal diameter.
const SEAL_MM: f32 = 36.0;

/// The signer's box as seen, in mm from the top-left: x, y, width, height.
/// 50×20 mm has the signature picture's aspect, so the image fills it.
fn signature_box(rotate: u16) -> [f32; 4] {
    match rotate {
        // A4 portrait: in the right half, lower third.
        0 => [120.0, 200.0, 50.0, 20.0],
        // Turned: 297×210 mm as seen.
        _ => [200.0, 120.0, 50.0, 20.0],
    }
}

/// A temp dir with the pictures, a config file, and the input PDF (turned
/// by `rotate` degrees with qpdf when asked).
struct Desk {
    dir: tempfile::TempDir,
    input: PathBuf,
    sig_png: PathBuf,
    seal_png: PathBuf,
    config: PathBuf,
}

impl Desk {
    fn new(fixture_name: &str, rotate: u16) -> Desk {
        let dir = temp_dir();
        let original = copy_fixture(fixture_name, dir.path());
        let input = if rotate == 0 {
            original
        } else {
            let turned = dir.path().join(format!("rotated-{rotate}.pdf"));
            run_ok(
                Command::new("qpdf")
                    .arg(format!("--rotate=+{rotate}"))
                    .arg(&original)
                    .arg(&turned),
            );
            turned
        };
        let sig_png = dir.path().join("signature.png");
        let seal_png = dir.path().join("seal.png");
        pictures::signature(&sig_png);
        pictures::seal(&seal_png);
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[appearance]\nsignature_image = {:?}\nseal_image = {:?}\nseal_mm = {SEAL_MM}\norganization = \"{ORG}\"\n",
                sig_png, seal_png
            ),
        )
        .expect("write config");
        Desk {
            dir,
            input,
            sig_png,
            seal_png,
            config,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `kyso sign` with the environment's token and the desk's config;
/// returns the output.
fn sign(env: &TestEnv, desk: &Desk, input: &Path, output: &Path, extra: &[&str]) -> Output {
    env.sign(input, output, USER_PIN, &desk_args(desk, extra))
}

fn sign_ok(env: &TestEnv, desk: &Desk, input: &Path, output: &Path, extra: &[&str]) {
    env.sign_ok(input, output, &desk_args(desk, extra));
}

fn desk_args<'a>(desk: &'a Desk, extra: &[&'a str]) -> Vec<&'a std::ffi::OsStr> {
    let mut args = vec![std::ffi::OsStr::new("--config"), desk.config.as_os_str()];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    args
}

/// Gives page 1 a CropBox offset from the MediaBox on every side, by editing
/// qpdf's QDF form as text and letting fix-qdf repair the offsets.
fn crop_page(src: &Path, dst: &Path) {
    let qdf = dst.with_extension("qdf");
    run_ok(
        Command::new("qpdf")
            .args(["--qdf", "--object-streams=disable"])
            .arg(src)
            .arg(&qdf),
    );
    let text = std::fs::read(&qdf).unwrap();
    let at = find_bytes(&text, b"  /Type /Page\n").expect("a page object");
    let mut edited = text[..at].to_vec();
    edited.extend_from_slice(b"  /CropBox [ 40 60 560 800 ]\n");
    edited.extend_from_slice(&text[at..]);
    std::fs::write(&qdf, edited).unwrap();
    let out = run_ok(Command::new("fix-qdf").arg(&qdf));
    std::fs::write(dst, out.stdout).unwrap();
}

fn mm_arg(b: [f32; 4]) -> String {
    format!("{},{},{},{}", b[0], b[1], b[2], b[3])
}

/// The text of page 1 inside `area` (pixels at [`raster::DPI`]).
fn pdftotext_in(pdf: &Path, area: PxBox) -> String {
    let n = |v: f32| (v.round().max(0.0) as i64).to_string();
    let out = run_ok(
        Command::new("pdftotext")
            .args(["-f", "1", "-l", "1", "-r", &raster::DPI.to_string()])
            .args(["-x", &n(area.x0 - 2.0), "-y", &n(area.y0 - 2.0)])
            .args(["-W", &n(area.width() + 4.0), "-H", &n(area.height() + 4.0)])
            .arg(pdf)
            .arg("-"),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pdftotext_all(pdf: &Path) -> String {
    let out = run_ok(Command::new("pdftotext").arg(pdf).arg("-"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `2026-11-23T09:15:02+07:00` on a line of its own after "Thời gian ký: ".
fn assert_has_vietnam_time(text: &str) {
    let ok = text.lines().any(|l| {
        let Some(t) = l.trim().strip_prefix("Thời gian ký: ") else {
            return false;
        };
        let b = t.as_bytes();
        t.len() == 25
            && t.ends_with("+07:00")
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && chrono::DateTime::parse_from_rfc3339(t).is_ok()
    });
    assert!(ok, "no ISO 8601 +07:00 signing time in:\n{text}");
}

fn assert_both_validators(env: &TestEnv, pdf: &Path, count: usize) {
    assert_qpdf_ok(pdf);
    assert_pdfsig_all_valid(pdf, count);
    assert_pyhanko_all_valid(pdf, &env.pki, count);
}

// ---------------------------------------------------------------- approved

fn approved_inside_box(rotate: u16, cropped: bool) {
    let env = TestEnv::new(Signer::Personal);
    let mut desk = Desk::new("libreoffice.pdf", 0);
    if cropped {
        let c = desk.path("cropped.pdf");
        crop_page(&desk.input, &c);
        desk.input = c;
    }
    if rotate != 0 {
        let turned = desk.path("turned.pdf");
        run_ok(
            Command::new("qpdf")
                .arg(format!("--rotate=+{rotate}"))
                .arg(&desk.input)
                .arg(&turned),
        );
        desk.input = turned;
    }
    let out = desk.path("approved.pdf");
    let b = signature_box(rotate);
    sign_ok(
        &env,
        &desk,
        &desk.input,
        &out,
        &["--profile", "approved", "--rect-mm", &mm_arg(b)],
    );

    let page = render(&out, 1);
    let blue = page.find(is_blue);
    let expected = PxBox::from_mm(b[0], b[1], b[2], b[3]);
    assert!(blue.len() > 300, "only {} blue pixels", blue.len());
    let outside: Vec<_> = blue
        .iter()
        .filter(|p| !expected.contains(p.0, p.1, 1.5))
        .collect();
    assert!(
        outside.is_empty(),
        "{} blue pixels outside {expected:?}, e.g. {:?}",
        outside.len(),
        outside.first()
    );
    // The picture is scaled to the box, not drawn small inside it.
    let got = bounds(&blue);
    assert!(
        got.width() > 0.9 * expected.width(),
        "{got:?} vs {expected:?}"
    );
    assert!(
        got.height() > 0.8 * expected.height(),
        "{got:?} vs {expected:?}"
    );
    assert_both_validators(&env, &out, 1);
}

#[test]
fn approved_signature_image_lies_inside_its_box() {
    approved_inside_box(0, false);
}

#[test]
fn approved_signature_image_lies_inside_its_box_on_rotated_page() {
    approved_inside_box(90, false);
}

/// The CropBox starts 40 pt right of and 41.9 pt below the MediaBox's
/// corner: the box is measured from what the reader sees.
#[test]
fn approved_signature_image_lies_inside_its_box_on_cropped_page() {
    approved_inside_box(0, true);
}

#[test]
fn approved_signature_image_lies_inside_its_box_on_cropped_rotated_page() {
    approved_inside_box(270, true);
}

#[test]
fn approved_goes_above_the_printed_name_found_as_anchor() {
    let env = TestEnv::new(Signer::Personal);
    let desk = Desk::new("libreoffice.pdf", 0);
    let out = desk.path("anchored.pdf");
    sign_ok(
        &env,
        &desk,
        &desk.input,
        &out,
        &["--profile", "approved", "--anchor", SIGNER_NAME],
    );

    // Where poppler itself sees the name (points → pixels).
    let bbox = run_ok(
        Command::new("pdftotext")
            .arg("-bbox")
            .arg(&desk.input)
            .arg("-"),
    );
    let html = String::from_utf8_lossy(&bbox.stdout);
    let line = html
        .lines()
        .find(|l| l.contains(">Nguyễn<"))
        .expect("name on the page");
    let attr = |name: &str| -> f32 {
        let at = line.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
        line[at..].split('"').next().unwrap().parse().unwrap()
    };
    let pt = raster::DPI / 72.0;
    let (name_x, name_top) = (attr("xMin") * pt, attr("yMin") * pt);

    let blue = bounds(&render(&out, 1).find(is_blue));
    assert!(
        blue.y1 <= name_top + 2.0,
        "signature {blue:?} not above the name (top {name_top})"
    );
    assert!(
        blue.y1 > name_top - mm_to_px(10.0),
        "signature {blue:?} far above the name (top {name_top})"
    );
    assert!(
        blue.x0 < name_x + mm_to_px(30.0) && blue.x1 > name_x,
        "signature {blue:?} not over the name at x {name_x}"
    );
    assert_both_validators(&env, &out, 1);
}

// ------------------------------------------------------------------ issued

fn approved_then_issued(fixture_name: &str, rotate: u16) {
    let personal = TestEnv::new(Signer::Personal);
    let org = TestEnv::new(Signer::Org);
    let desk = Desk::new(fixture_name, rotate);
    let approved = desk.path("approved.pdf");
    let issued = desk.path("issued.pdf");
    let b = signature_box(rotate);
    let pages = if fixture_name.contains("2pages") {
        2
    } else {
        1
    };
    sign_ok(
        &personal,
        &desk,
        &desk.input,
        &approved,
        &[
            "--profile",
            "approved",
            "--page",
            "-1",
            "--rect-mm",
            &mm_arg(b),
        ],
    );
    // The clerk's run: seal, organization and size all come from the config.
    sign_ok(&org, &desk, &approved, &issued, &["--profile", "issued"]);

    let page = render(&issued, pages);
    let red = page.find(is_red);
    let sig = PxBox::from_mm(b[0], b[1], b[2], b[3]);
    let third = sig.x0 + sig.width() / 3.0;
    let in_band = |p: &&(u32, u32)| (p.1 as f32) >= sig.y0 && (p.1 as f32) < sig.y1;
    let left = red
        .iter()
        .filter(in_band)
        .filter(|p| (p.0 as f32) >= sig.x0 && (p.0 as f32) < third)
        .count();
    let right: Vec<_> = red
        .iter()
        .filter(in_band)
        .filter(|p| (p.0 as f32) >= third && (p.0 as f32) < sig.x1)
        .collect();
    assert!(
        left > 50,
        "the seal hardly overlaps the left third ({left} red pixels)"
    );
    assert!(
        right.is_empty(),
        "{} red pixels in the right two-thirds, e.g. {:?}",
        right.len(),
        right.first()
    );

    let seal = bounds(&red);
    for (what, px) in [("width", seal.width()), ("height", seal.height())] {
        let mm = px_to_mm(px);
        assert!(
            (mm - SEAL_MM).abs() <= 1.0,
            "seal {what} is {mm:.2} mm, configured {SEAL_MM} mm"
        );
    }
    // The signer's image is still there, under the seal.
    assert!(page.find(is_blue).len() > 300);

    let text = pdftotext_all(&issued);
    assert!(
        text.contains(&format!("Ký bởi: {ORG}")),
        "organization missing:\n{text}"
    );
    assert_has_vietnam_time(&text);

    assert_both_validators(&org, &issued, 2);
}

#[test]
fn issued_seal_covers_the_left_third_at_real_size_and_both_signatures_validate() {
    approved_then_issued("libreoffice.pdf", 0);
}

#[test]
fn issued_seal_on_rotated_page() {
    approved_then_issued("libreoffice.pdf", 90);
}

#[test]
fn approved_then_issued_on_the_last_page_of_a_two_page_document() {
    approved_then_issued("libreoffice-2pages.pdf", 0);
}

#[test]
fn issued_without_an_earlier_visible_signature_is_refused() {
    let org = TestEnv::new(Signer::Org);
    let desk = Desk::new("libreoffice.pdf", 0);
    let out = sign(
        &org,
        &desk,
        &desk.input,
        &desk.path("x.pdf"),
        &["--profile", "issued"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("APPEARANCE_NO_EARLIER_SIGNATURE"), "{err}");
    assert!(!desk.path("x.pdf").exists());
}

#[test]
fn missing_anchor_text_is_refused() {
    let env = TestEnv::new(Signer::Personal);
    let desk = Desk::new("libreoffice.pdf", 0);
    let out = sign(
        &env,
        &desk,
        &desk.input,
        &desk.path("x.pdf"),
        &["--profile", "approved", "--anchor", "Trần Thị B"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("APPEARANCE_ANCHOR_NOT_FOUND"));
}

// ------------------------------------------------------- appendix and copy

fn text_stamp_top_right(profile: &str, rotate: u16) {
    let org = TestEnv::new(Signer::Org);
    let desk = Desk::new("libreoffice.pdf", rotate);
    let out = desk.path(&format!("{profile}.pdf"));
    // No seal picture for the copy here: the text block alone is checked.
    std::fs::write(
        &desk.config,
        format!("[appearance]\norganization = \"{ORG}\"\n"),
    )
    .unwrap();
    sign_ok(
        &org,
        &desk,
        &desk.input,
        &out,
        &["--profile", profile, "--doc-number", DOC_NUMBER],
    );

    let before = render(&desk.input, 1);
    let after = render(&out, 1);
    let stamp = bounds(&after.diff(&before));
    let (w, h) = (after.width as f32, after.height as f32);
    assert!(
        stamp.x0 > 0.5 * w,
        "{profile}: stamp {stamp:?} not in the right half of {w}×{h}"
    );
    assert!(stamp.x1 < w, "{profile}: stamp {stamp:?} runs off the page");
    assert!(
        stamp.y1 < 0.2 * h,
        "{profile}: stamp {stamp:?} not at the top of {w}×{h}"
    );
    // 10 pt text: several lines, each well under 1 cm.
    assert!(
        stamp.height() > mm_to_px(8.0) && stamp.height() < mm_to_px(25.0),
        "{stamp:?}"
    );

    // Only the stamp's own text, so the page's lines cannot interleave.
    let text = pdftotext_in(&out, stamp);
    assert!(
        text.contains(&format!("Cơ quan: {ORG}")),
        "{profile}: organization missing:\n{text}"
    );
    assert!(
        text.contains(&format!("Số: {DOC_NUMBER}")),
        "{profile}: number missing:\n{text}"
    );
    assert_has_vietnam_time(&text);
    if profile == "copy" {
        assert!(
            text.lines()
                .any(|l| l.trim() == format!("SAO Y, Số: {DOC_NUMBER}")),
            "copy notation missing:\n{text}"
        );
    }
    assert_both_validators(&org, &out, 1);
}

#[test]
fn appendix_text_sits_top_right_of_page_one() {
    text_stamp_top_right("appendix", 0);
}

#[test]
fn appendix_text_sits_top_right_of_page_one_on_rotated_page() {
    text_stamp_top_right("appendix", 90);
}

#[test]
fn copy_text_sits_top_right_of_page_one() {
    text_stamp_top_right("copy", 0);
}

#[test]
fn copy_text_sits_top_right_of_page_one_on_rotated_page() {
    text_stamp_top_right("copy", 90);
}

// ------------------------------------------------------------ font and size

#[test]
fn stamp_font_is_embedded_subset_and_the_stamp_is_small() {
    let org = TestEnv::new(Signer::Org);
    let desk = Desk::new("libreoffice.pdf", 0);
    let invisible = desk.path("invisible.pdf");
    let stamped = desk.path("appendix.pdf");
    sign_ok(&org, &desk, &desk.input, &invisible, &["--profile", "none"]);
    sign_ok(
        &org,
        &desk,
        &desk.input,
        &stamped,
        &[
            "--profile",
            "appendix",
            "--doc-number",
            DOC_NUMBER,
            "--org-name",
            ORG,
        ],
    );

    let fonts = run_ok(Command::new("pdffonts").arg(&stamped));
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    let line = fonts
        .lines()
        .find(|l| l.contains("CID TrueType"))
        .unwrap_or_else(|| panic!("no CID font:\n{fonts}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    // name type type encoding emb sub uni object gen
    let n = cols.len();
    assert_eq!(
        &cols[n - 5..n - 2],
        ["yes", "yes", "yes"],
        "emb/sub/uni not all yes:\n{fonts}"
    );
    let tag = cols[0].split('+').next().unwrap();
    assert!(
        tag.len() == 6 && tag.bytes().all(|b| b.is_ascii_uppercase()),
        "no subset tag: {line}"
    );

    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let added = size(&stamped) - size(&invisible);
    assert!(added < 60 * 1024, "the stamp adds {added} bytes");
    assert_both_validators(&org, &stamped, 1);
}

// ------------------------------------------------------------- docs pictures

/// Writes `docs/appearance/*.png`: each profile on the LibreOffice-made
/// decision. Run with `cargo test --test appearance -- --ignored`.
#[test]
#[ignore = "regenerates docs/appearance/*.png"]
fn write_docs_pictures() {
    let personal = TestEnv::new(Signer::Personal);
    let org = TestEnv::new(Signer::Org);
    let desk = Desk::new("libreoffice.pdf", 0);
    let approved = desk.path("approved.pdf");
    let issued = desk.path("issued.pdf");
    let appendix = desk.path("appendix.pdf");
    let copy = desk.path("copy.pdf");
    sign_ok(
        &personal,
        &desk,
        &desk.input,
        &approved,
        &["--profile", "approved", "--anchor", SIGNER_NAME],
    );
    sign_ok(&org, &desk, &approved, &issued, &["--profile", "issued"]);
    sign_ok(
        &org,
        &desk,
        &desk.input,
        &appendix,
        &["--profile", "appendix", "--doc-number", DOC_NUMBER],
    );
    sign_ok(
        &org,
        &desk,
        &desk.input,
        &copy,
        &["--profile", "copy", "--doc-number", DOC_NUMBER],
    );
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/appearance");
    std::fs::create_dir_all(&docs).unwrap();
    for (name, pdf) in [
        ("approved", &approved),
        ("issued", &issued),
        ("appendix", &appendix),
        ("copy", &copy),
    ] {
        run_ok(
            Command::new("pdftoppm")
                .args(["-r", "60", "-png", "-singlefile", "-f", "1", "-l", "1"])
                .arg(pdf)
                .arg(docs.join(name)),
        );
    }
    let _ = (&desk.sig_png, &desk.seal_png);
}

/// The dark (text) pixels of `page` inside `area`.
fn ink_in(page: &raster::Raster, area: PxBox) -> Vec<(u32, u32)> {
    page.find(|p| p.iter().all(|&c| c < 110))
        .into_iter()
        .filter(|&(x, y)| area.contains(x, y, 0.0))
        .collect()
}

#[test]
fn visible_signatures_display_the_same_in_pdfjs() {
    let env = TestEnv::new(Signer::Personal);
    let desk = Desk::new("libreoffice.pdf", 0);
    let approved = desk.path("approved.pdf");
    let b = signature_box(0);
    sign_ok(
        &env,
        &desk,
        &desk.input,
        &approved,
        &["--profile", "approved", "--rect-mm", &mm_arg(b)],
    );
    let appendix = desk.path("appendix.pdf");
    sign_ok(
        &env,
        &desk,
        &desk.input,
        &appendix,
        &["--profile", "appendix", "--doc-number", "123/QĐ-UBND"],
    );

    // The blue signature image: inside its box in pdf.js too.
    let js = render_pdfjs(&approved, 1);
    let expected = PxBox::from_mm(b[0], b[1], b[2], b[3]);
    let blue = js.find(is_blue);
    assert!(
        blue.len() > 300,
        "pdf.js shows only {} blue pixels",
        blue.len()
    );
    let outside = blue
        .iter()
        .filter(|p| !expected.contains(p.0, p.1, 1.5))
        .count();
    assert_eq!(outside, 0, "blue pixels outside {expected:?} in pdf.js");
    let (got_js, got_poppler) = (bounds(&blue), bounds(&render(&approved, 1).find(is_blue)));
    for (a, b) in [
        (got_js.x0, got_poppler.x0),
        (got_js.y0, got_poppler.y0),
        (got_js.x1, got_poppler.x1),
        (got_js.y1, got_poppler.y1),
    ] {
        assert!(
            px_to_mm((a - b).abs()) < 1.0,
            "pdf.js {got_js:?} vs poppler {got_poppler:?}"
        );
    }

    // The text stamp: the same ink, in the same place, top right of page 1.
    let top_right = PxBox::from_mm(105.0, 0.0, 105.0, 60.0);
    let before = ink_in(&render(&desk.input, 1), top_right).len();
    let (js, poppler) = (render_pdfjs(&appendix, 1), render(&appendix, 1));
    let (ink_js, ink_poppler) = (ink_in(&js, top_right), ink_in(&poppler, top_right));
    assert!(
        ink_js.len() > before + 200,
        "pdf.js draws no stamp: {} vs {before} before",
        ink_js.len()
    );
    let (bj, bp) = (bounds(&ink_js), bounds(&ink_poppler));
    for (a, b) in [
        (bj.x0, bp.x0),
        (bj.y0, bp.y0),
        (bj.x1, bp.x1),
        (bj.y1, bp.y1),
    ] {
        assert!(
            px_to_mm((a - b).abs()) < 2.0,
            "pdf.js {bj:?} vs poppler {bp:?}"
        );
    }
}
