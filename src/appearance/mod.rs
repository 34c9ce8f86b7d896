//! Visible signatures as Decree 30/2020 Appendix I describes them, in the
//! four profiles users know from the government CA's tool: `approved` (the
//! signer's blue signature image), `issued` (the organization's red seal at
//! real size over the left third of that image, with its name and the
//! time), `appendix` (a text stamp at the top right of an attachment) and
//! `copy` (the electronic-copy stamp).
//!
//! ```text
//! AppearanceRequest ──► where: page + box as seen (rect, rect_mm, anchor,
//!                       earlier signature, profile default)
//!                   ──► layout: images and text lines in that frame
//!                   ──► form XObject + images/SMasks + subset CID font
//!                   ──► pdf::Placement { page, rect, appearance }
//! ```
//!
//! [`build`] runs against the same [`Document`] that `pdf::plan` then
//! writes, so every new object number comes from [`Document::allocate`].
//! Only the page, its fonts and content (for anchors) and the AcroForm (for
//! `issued`) are read.

mod error;
mod existing;
mod font;
mod form;
mod geometry;
mod image;
mod layout;
mod pagetext;
mod request;

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use lopdf::{Dictionary, Object};

pub use error::{Error, ImageRole};
pub use font::Font;
pub use geometry::{PageFrame, VRect, PT_PER_MM};
pub use request::{
    Anchor, AnchorPlace, AppearanceDefaults, AppearanceRequest, ImageSource, Profile,
};

use crate::pdf::{self, Appearance, Document, Placement};
use form::{FormBuilder, Rgb};
use image::Picture;

/// Vietnam's time zone (UTC+7, no daylight saving).
const VIETNAM: i32 = 7 * 3600;
/// Padding around text blocks, in points, so glyph edges are not clipped.
const PAD: f32 = 2.0;

/// The signing time as Decree 30 writes it: `2026-11-23T09:15:02+07:00`.
pub fn vietnam_time(t: &DateTime<FixedOffset>) -> String {
    let vn = FixedOffset::east_opt(VIETNAM).expect("valid offset");
    t.with_timezone(&vn)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The font used for every appearance: loaded once per process.
fn shared_font() -> Result<&'static Font, Error> {
    static FONT: OnceLock<Font> = OnceLock::new();
    if let Some(f) = FONT.get() {
        return Ok(f);
    }
    let f = Font::load()?;
    Ok(FONT.get_or_init(|| f))
}

/// Builds the visible signature `req` on `doc`, with the text showing
/// `signing_time` (the same instant as the signature's `/M`).
pub fn build(
    doc: &mut Document,
    req: &AppearanceRequest,
    signing_time: DateTime<FixedOffset>,
) -> Result<Placement, Error> {
    let font = shared_font()?;
    build_with_font(doc, req, signing_time, font)
}

/// [`build`] with a given font (tests use the bundled one).
pub fn build_with_font(
    doc: &mut Document,
    req: &AppearanceRequest,
    signing_time: DateTime<FixedOffset>,
    font: &Font,
) -> Result<Placement, Error> {
    let target = locate(doc, req)?;
    let time = vietnam_time(&signing_time);
    let mut stamp = Stamp::new(font);
    let widget = match req.profile {
        Profile::Approved => {
            let sig = load(&req.signature_image, ImageRole::Signature)?;
            let b = layout::fit(target.boxed, sig.aspect());
            stamp.image(sig, b);
            b
        }
        Profile::Issued => {
            let seal = load(&req.seal_image, ImageRole::Seal)?;
            let d = layout::seal_mm(req.seal_mm, seal.width_mm()) * PT_PER_MM;
            let seal_box = layout::seal_over(target.boxed, d);
            stamp.image(seal, seal_box);
            let org = required(&req.organization, "organization name")?;
            let lines = [format!("Ký bởi: {org}"), format!("Thời gian ký: {time}")];
            let text = stamp.text(
                &lines,
                8.0,
                Rgb::BLACK,
                seal_box.x,
                seal_box.y + seal_box.h + 1.0,
            )?;
            seal_box.union(text)
        }
        Profile::Appendix => {
            let number = required(&req.doc_number, "document number")?;
            let org = required(&req.organization, "organization name")?;
            let lines = [
                format!("Số: {number}"),
                format!("Thời gian ký: {time}"),
                format!("Cơ quan: {org}"),
            ];
            stamp.text_block(&lines, 10.0, &target)?
        }
        Profile::Copy => {
            let org = required(&req.organization, "organization name")?;
            // Three lines, like the appendix stamp, so it stays in the top
            // margin: the notation carries the copy's number when given.
            let notation = req.copy_notation.clone().unwrap_or_else(|| "SAO Y".into());
            let first = match &req.doc_number {
                Some(n) => format!("{notation}, Số: {n}"),
                None => notation,
            };
            let lines = [
                first,
                format!("Cơ quan: {org}"),
                format!("Thời gian ký: {time}"),
            ];
            let text = stamp.text_block(&lines, 10.0, &target)?;
            // The organization's signature includes its seal when one is set,
            // at real size, left of the text.
            match &req.seal_image {
                Some(src) => {
                    let seal = Picture::load(src, ImageRole::Seal)?;
                    let d = layout::seal_mm(req.seal_mm, seal.width_mm()) * PT_PER_MM;
                    let seal_box = VRect {
                        x: text.x - d - 2.0,
                        y: text.y,
                        w: d,
                        h: d,
                    };
                    stamp.image(seal, seal_box);
                    text.union(seal_box)
                }
                None => text,
            }
        }
    };
    target.frame.check(widget)?;
    let appearance = stamp.finish(doc, widget, &target.frame, req.profile)?;
    Ok(Placement {
        page: target.page_index,
        rect: target.frame.rect_to_user(widget),
        appearance: Some(appearance),
    })
}

fn load(src: &Option<ImageSource>, role: ImageRole) -> Result<Picture, Error> {
    Picture::load(src.as_ref().ok_or(Error::MissingImage(role))?, role)
}

fn required<'a>(v: &'a Option<String>, what: &'static str) -> Result<&'a str, Error> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(Error::MissingText(what))
}

/// The page and the reference box a profile lays itself out against.
struct Target {
    page_index: usize,
    frame: PageFrame,
    /// For `approved`, the box the image is fitted in; for `issued`, the
    /// signature image the seal goes on; for text stamps, where the block's
    /// top-left goes (`explicit`) or nothing (top-right default).
    boxed: VRect,
    explicit: bool,
}

fn locate(doc: &mut Document, req: &AppearanceRequest) -> Result<Target, Error> {
    let (_, catalog) = doc.catalog()?;
    let pages = usize::try_from(pdf::page_count(doc)?).unwrap_or(0);
    if pages == 0 {
        return Err(pdf::Error::Unsupported("the document has no pages".into()).into());
    }
    let explicit_page = req.page.map(|p| page_from_request(p, pages)).transpose()?;
    let size = req.size_mm.map(|[w, h]| (w * PT_PER_MM, h * PT_PER_MM));

    if let Some(anchor) = &req.anchor {
        let candidates: Vec<usize> = match explicit_page {
            Some(p) => vec![p],
            None => (0..pages).rev().collect(),
        };
        for index in candidates {
            let page = pdf::find_page(doc, &catalog, index)?;
            let chars = pagetext::page_chars(doc, page)?;
            if let Some(hit) = pagetext::find(&chars, &anchor.text) {
                let frame = PageFrame::read(doc, page)?;
                let text = frame.rect_to_visual(hit);
                let (w, h) = size.unwrap_or_else(|| default_size(req.profile));
                let boxed = layout::near_anchor(text, w, h, anchor.place, anchor.offset_mm);
                return Ok(Target {
                    page_index: index,
                    frame,
                    boxed,
                    explicit: true,
                });
            }
        }
        return Err(Error::AnchorNotFound(anchor.text.clone()));
    }

    let explicit_box = req.rect.is_some() || req.rect_mm.is_some();
    if req.profile == Profile::Issued && !explicit_box {
        let sig = existing::last_visible_signature(doc)?.ok_or(Error::NoEarlierSignature)?;
        let frame = PageFrame::read(doc, sig.page)?;
        return Ok(Target {
            page_index: sig.page_index,
            frame,
            boxed: frame.rect_to_visual(sig.rect),
            explicit: true,
        });
    }

    let page_index = explicit_page.unwrap_or(match req.profile {
        Profile::Approved => pages - 1,
        _ => 0,
    });
    let page = pdf::find_page(doc, &catalog, page_index)?;
    let frame = PageFrame::read(doc, page)?;
    let (pw, ph) = frame.visual_size();
    let boxed = if let Some(r) = req.rect {
        frame.rect_to_visual(r)
    } else if let Some([x, y, w, h]) = req.rect_mm {
        VRect {
            x: x * PT_PER_MM,
            y: y * PT_PER_MM,
            w: w * PT_PER_MM,
            h: h * PT_PER_MM,
        }
    } else {
        let mut b = layout::approved_default(pw, ph);
        if let Some((w, h)) = size {
            (b.w, b.h) = (w, h);
        }
        b
    };
    if explicit_box {
        frame.check(boxed)?;
    }
    Ok(Target {
        page_index,
        frame,
        boxed,
        explicit: explicit_box,
    })
}

fn default_size(profile: Profile) -> (f32, f32) {
    match profile {
        // For `issued` the anchored box stands for the signature image.
        Profile::Approved | Profile::Issued => (
            layout::APPROVED_SIZE_MM[0] * PT_PER_MM,
            layout::APPROVED_SIZE_MM[1] * PT_PER_MM,
        ),
        Profile::Appendix | Profile::Copy => (60.0 * PT_PER_MM, 20.0 * PT_PER_MM),
    }
}

/// 1-based, negative from the end → 0-based.
fn page_from_request(p: i64, pages: usize) -> Result<usize, Error> {
    let n = pages as i64;
    let index = if p > 0 { p - 1 } else { n + p };
    if p == 0 || index < 0 || index >= n {
        return Err(Error::BadPosition(format!(
            "page {p} does not exist; the document has {pages} page(s)"
        )));
    }
    Ok(index as usize)
}

/// The parts of one stamp, collected in page coordinates as seen.
struct Stamp<'f> {
    text: font::TextWriter<'f>,
    font: &'f Font,
    images: Vec<(Picture, VRect)>,
    lines: Vec<(Vec<u8>, f32, Rgb, f32, f32)>,
}

impl<'f> Stamp<'f> {
    fn new(font: &'f Font) -> Self {
        Stamp {
            text: font::TextWriter::new(font),
            font,
            images: Vec::new(),
            lines: Vec::new(),
        }
    }

    fn image(&mut self, p: Picture, at: VRect) {
        self.images.push((p, at));
    }

    /// Left-aligned lines from (`x`, `top`); returns the block's box.
    fn text(
        &mut self,
        lines: &[String],
        size: f32,
        color: Rgb,
        x: f32,
        top: f32,
    ) -> Result<VRect, Error> {
        let step = size * layout::LINE_SPACING;
        let mut width: f32 = 0.0;
        for (i, line) in lines.iter().enumerate() {
            width = width.max(self.text.width(line, size)?);
            let encoded = self.text.encode(line)?;
            let baseline = top + PAD + self.font.ascent() * size + i as f32 * step;
            self.lines.push((encoded, size, color, x + PAD, baseline));
        }
        let height = (lines.len().max(1) - 1) as f32 * step
            + (self.font.ascent() - self.font.descent()) * size;
        Ok(VRect {
            x,
            y: top,
            w: width + 2.0 * PAD,
            h: height + 2.0 * PAD,
        })
    }

    /// A black text block at the top right of the page, or at the explicit
    /// box's top-left.
    fn text_block(&mut self, lines: &[String], size: f32, target: &Target) -> Result<VRect, Error> {
        let mut width: f32 = 0.0;
        for line in lines {
            width = width.max(self.text.width(line, size)?);
        }
        let (x, y) = if target.explicit {
            (target.boxed.x, target.boxed.y)
        } else {
            let (pw, _) = target.frame.visual_size();
            let b = layout::top_right(pw, width + 2.0 * PAD, 0.0);
            (b.x, b.y)
        };
        self.text(lines, size, Rgb::BLACK, x, y)
    }

    fn finish(
        self,
        doc: &mut Document,
        widget: VRect,
        frame: &PageFrame,
        profile: Profile,
    ) -> Result<Appearance, Error> {
        let mut objects = Vec::new();
        let form_id = doc.allocate();
        let mut form = FormBuilder::new(widget.w, widget.h);
        for (picture, at) in &self.images {
            let id = picture.write(doc, &mut objects);
            form.image(id, at.x - widget.x, at.y - widget.y, at.w, at.h);
        }
        if !self.text.is_empty() {
            let (font_id, font_objects) = self.text.finish(doc)?;
            objects.extend(font_objects);
            form.set_font(font_id);
        }
        for (encoded, size, color, x, baseline) in &self.lines {
            form.text(encoded, *size, *color, x - widget.x, baseline - widget.y);
        }
        objects.push(form.finish(form_id, frame));
        Ok(Appearance {
            normal: form_id,
            objects,
            field_entries: field_entries(profile),
        })
    }
}

/// The organization's signature closes the document: its field locks every
/// field (`/Lock /All`), as Acrobat does for a final signature. The
/// signer's `approved` signature leaves the fields open for the seal.
fn field_entries(profile: Profile) -> Dictionary {
    let mut d = Dictionary::new();
    if profile != Profile::Approved {
        let mut lock = Dictionary::new();
        lock.set("Type", Object::Name(b"SigFieldLock".to_vec()));
        lock.set("Action", Object::Name(b"All".to_vec()));
        d.set("Lock", lock);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnam_time_format() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T02:15:02Z").unwrap();
        assert_eq!(vietnam_time(&t), "2026-11-23T09:15:02+07:00");
    }

    #[test]
    fn pages_from_the_end() {
        assert_eq!(page_from_request(1, 3).unwrap(), 0);
        assert_eq!(page_from_request(-1, 3).unwrap(), 2);
        assert!(page_from_request(0, 3).is_err());
        assert!(page_from_request(4, 3).is_err());
    }
}
