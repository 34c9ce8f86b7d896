//! The appearance form XObject (`/AP /N`): a content stream drawn in a box
//! of the widget's size as seen, with `/BBox [0 0 w h]` and a `/Matrix` that
//! undoes the page's `/Rotate`.
//!
//! Callers position things in the box's own top-left, y-down coordinates;
//! this module turns them into PDF's bottom-left, y-up ones.

use std::fmt::Write as _;
use std::io::Write as _;

use lopdf::{Dictionary, Object, ObjectId, Stream};

use super::geometry::PageFrame;

/// zlib at the default level: level 9 costs several times more time for a
/// few percent on a font subset, and the appearance must stay cheap.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        flate2::Compression::default(),
    );
    e.write_all(data).expect("writing to a Vec cannot fail");
    e.finish().expect("writing to a Vec cannot fail")
}

/// An RGB colour, components in 0..=1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgb(pub f32, pub f32, pub f32);

impl Rgb {
    /// Black.
    pub const BLACK: Rgb = Rgb(0.0, 0.0, 0.0);
}

/// Builds one form XObject.
pub struct FormBuilder {
    w: f32,
    h: f32,
    content: String,
    fonts: Dictionary,
    xobjects: Dictionary,
}

impl FormBuilder {
    /// A form of `w`×`h` points as seen.
    pub fn new(w: f32, h: f32) -> Self {
        FormBuilder {
            w,
            h,
            content: String::with_capacity(512),
            fonts: Dictionary::new(),
            xobjects: Dictionary::new(),
        }
    }

    /// Draws image XObject `id` into the box at (`x`, `y`) (top-left, y down).
    pub fn image(&mut self, id: ObjectId, x: f32, y: f32, w: f32, h: f32) {
        let name = format!("Im{}", self.xobjects.len() + 1);
        self.xobjects.set(name.clone(), Object::Reference(id));
        let _ = writeln!(
            self.content,
            "q {} 0 0 {} {} {} cm /{name} Do Q",
            n(w),
            n(h),
            n(x),
            n(self.h - y - h)
        );
    }

    /// Uses Type0 font `id` for text as resource `/F1`.
    pub fn set_font(&mut self, id: ObjectId) {
        self.fonts.set("F1", Object::Reference(id));
    }

    /// Shows already-encoded text with its baseline at `baseline` (from the
    /// top, y down) starting at `x`.
    pub fn text(&mut self, encoded: &[u8], size: f32, color: Rgb, x: f32, baseline: f32) {
        let hex: String = encoded.iter().map(|b| format!("{b:02X}")).collect();
        let _ = writeln!(
            self.content,
            "BT /F1 {} Tf {} {} {} rg {} {} Td <{hex}> Tj ET",
            n(size),
            n(color.0),
            n(color.1),
            n(color.2),
            n(x),
            n(self.h - baseline)
        );
    }

    /// Writes the form and returns its id.
    pub fn finish(self, id: ObjectId, frame: &PageFrame) -> (ObjectId, Object) {
        let mut resources = Dictionary::new();
        if !self.fonts.is_empty() {
            resources.set("Font", self.fonts);
        }
        if !self.xobjects.is_empty() {
            resources.set("XObject", self.xobjects);
        }
        let mut dict = Dictionary::new();
        dict.set("Type", Object::Name(b"XObject".to_vec()));
        dict.set("Subtype", Object::Name(b"Form".to_vec()));
        dict.set("FormType", 1);
        dict.set(
            "BBox",
            vec![
                0.into(),
                0.into(),
                Object::Real(self.w),
                Object::Real(self.h),
            ],
        );
        dict.set(
            "Matrix",
            frame
                .form_matrix(self.w, self.h)
                .iter()
                .map(|&v| Object::Real(v))
                .collect::<Vec<_>>(),
        );
        dict.set("Resources", resources);
        (
            id,
            Object::Stream(Stream::new(dict, self.content.into_bytes())),
        )
    }
}

/// A number for a content stream: at most three decimals, no exponent.
fn n(v: f32) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        assert_eq!(n(1.0), "1");
        assert_eq!(n(0.5), "0.5");
        assert_eq!(n(-0.0001), "0");
        assert_eq!(n(12.3456), "12.346");
    }

    #[test]
    fn image_is_flipped_into_pdf_coordinates() {
        let mut f = FormBuilder::new(100.0, 50.0);
        f.image((7, 0), 10.0, 5.0, 20.0, 10.0);
        assert_eq!(f.content, "q 20 0 0 10 10 35 cm /Im1 Do Q\n");
        let (_, obj) = f.finish(
            (9, 0),
            &PageFrame {
                crop: [0.0, 0.0, 600.0, 800.0],
                rotate: 0,
            },
        );
        let s = obj.as_stream().unwrap();
        assert!(s
            .dict
            .get(b"Resources")
            .unwrap()
            .as_dict()
            .unwrap()
            .has(b"XObject"));
    }
}
