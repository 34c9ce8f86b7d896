//! Page geometry: turns positions "as the page is seen" (top-left origin, y
//! down, after `/Rotate` and the CropBox) into the default user space that
//! annotation rectangles use, and back.
//!
//! Annotations are drawn in user space and so turn with the page; a
//! rotated page therefore gets an appearance whose `/Matrix` turns the other
//! way, so that the picture is upright on screen.

use lopdf::{Object, ObjectId};

use super::Error;
use crate::pdf::Document;

/// Points per millimetre.
pub const PT_PER_MM: f32 = 72.0 / 25.4;

/// A rectangle as the page is seen: `x`, `y` from the top-left corner of the
/// visible page, `y` growing downwards, in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VRect {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl VRect {
    /// The smallest rectangle holding both.
    pub fn union(self, o: VRect) -> VRect {
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        VRect {
            x,
            y,
            w: (self.x + self.w).max(o.x + o.w) - x,
            h: (self.y + self.h).max(o.y + o.h) - y,
        }
    }

    /// The centre point.
    pub fn center(self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
}

/// The visible area of one page and how it is turned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageFrame {
    /// The CropBox (clipped to the MediaBox), normalised `[x0, y0, x1, y1]`.
    pub crop: [f32; 4],
    /// Clockwise display rotation: 0, 90, 180 or 270.
    pub rotate: u16,
}

impl PageFrame {
    /// Reads `/MediaBox`, `/CropBox` and `/Rotate`, which a page may inherit
    /// from its ancestors in the page tree.
    pub fn read(doc: &mut Document, page: ObjectId) -> Result<Self, Error> {
        let mut media = None;
        let mut crop = None;
        let mut rotate = None;
        let mut node = Some(page);
        for _ in 0..64 {
            let Some(id) = node else { break };
            let dict = doc.resolve_dict(&Object::Reference(id), "a page tree node")?;
            if media.is_none() {
                media = read_box(doc, dict.get(b"MediaBox").ok())?;
            }
            if crop.is_none() {
                crop = read_box(doc, dict.get(b"CropBox").ok())?;
            }
            if rotate.is_none() {
                if let Ok(r) = dict.get(b"Rotate") {
                    rotate = doc.resolve(r)?.as_i64().ok();
                }
            }
            node = dict.get(b"Parent").and_then(Object::as_reference).ok();
        }
        // A4 portrait when a broken file has no MediaBox at all.
        let media = media.unwrap_or([0.0, 0.0, 595.276, 841.89]);
        let crop = match crop {
            Some(c) => {
                let clipped = [
                    c[0].max(media[0]),
                    c[1].max(media[1]),
                    c[2].min(media[2]),
                    c[3].min(media[3]),
                ];
                if clipped[2] > clipped[0] && clipped[3] > clipped[1] {
                    clipped
                } else {
                    media
                }
            }
            None => media,
        };
        let rotate = rotate.unwrap_or(0).rem_euclid(360);
        if rotate % 90 != 0 {
            return Err(Error::BadPosition(format!(
                "the page has /Rotate {rotate}, not a multiple of 90"
            )));
        }
        Ok(PageFrame {
            crop,
            rotate: rotate as u16,
        })
    }

    /// The visible page's width and height as seen.
    pub fn visual_size(&self) -> (f32, f32) {
        let (w, h) = (self.crop[2] - self.crop[0], self.crop[3] - self.crop[1]);
        if self.rotate.is_multiple_of(180) {
            (w, h)
        } else {
            (h, w)
        }
    }

    /// A point as seen → default user space.
    pub fn to_user(&self, u: f32, v: f32) -> (f32, f32) {
        let [x0, y0, x1, y1] = self.crop;
        match self.rotate {
            90 => (x0 + v, y0 + u),
            180 => (x1 - u, y0 + v),
            270 => (x1 - v, y1 - u),
            _ => (x0 + u, y1 - v),
        }
    }

    /// A point in default user space → as seen.
    pub fn to_visual(&self, x: f32, y: f32) -> (f32, f32) {
        let [x0, y0, x1, y1] = self.crop;
        match self.rotate {
            90 => (y - y0, x - x0),
            180 => (x1 - x, y - y0),
            270 => (y1 - y, x1 - x),
            _ => (x - x0, y1 - y),
        }
    }

    /// A rectangle as seen → a normalised user-space `[x0, y0, x1, y1]`.
    pub fn rect_to_user(&self, r: VRect) -> [f32; 4] {
        let (ax, ay) = self.to_user(r.x, r.y);
        let (bx, by) = self.to_user(r.x + r.w, r.y + r.h);
        [ax.min(bx), ay.min(by), ax.max(bx), ay.max(by)]
    }

    /// A user-space rectangle (any corner order) → as seen.
    pub fn rect_to_visual(&self, r: [f32; 4]) -> VRect {
        let (au, av) = self.to_visual(r[0], r[1]);
        let (bu, bv) = self.to_visual(r[2], r[3]);
        VRect {
            x: au.min(bu),
            y: av.min(bv),
            w: (au - bu).abs(),
            h: (av - bv).abs(),
        }
    }

    /// The appearance's `/Matrix` for a `w`×`h` (as seen) form: it turns the
    /// form against the page's rotation so that it is upright on screen.
    pub fn form_matrix(&self, w: f32, h: f32) -> [f32; 6] {
        match self.rotate {
            90 => [0.0, 1.0, -1.0, 0.0, h, 0.0],
            180 => [-1.0, 0.0, 0.0, -1.0, w, h],
            270 => [0.0, -1.0, 1.0, 0.0, 0.0, w],
            _ => [1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        }
    }

    /// Refuses a box that is empty or lies wholly off the visible page.
    pub fn check(&self, r: VRect) -> Result<(), Error> {
        let (pw, ph) = self.visual_size();
        if !(r.w > 0.5 && r.h > 0.5 && r.x.is_finite() && r.y.is_finite()) {
            return Err(Error::BadPosition("the box is empty".into()));
        }
        if r.x >= pw || r.y >= ph || r.x + r.w <= 0.0 || r.y + r.h <= 0.0 {
            return Err(Error::BadPosition(format!(
                "the box ({:.0}, {:.0}, {:.0}×{:.0} pt) lies outside the page ({pw:.0}×{ph:.0} pt)",
                r.x, r.y, r.w, r.h
            )));
        }
        Ok(())
    }
}

fn read_box(doc: &mut Document, obj: Option<&Object>) -> Result<Option<[f32; 4]>, Error> {
    let Some(obj) = obj else { return Ok(None) };
    let Object::Array(a) = doc.resolve(obj)? else {
        return Ok(None);
    };
    if a.len() != 4 {
        return Ok(None);
    }
    let mut v = [0f32; 4];
    for (slot, o) in v.iter_mut().zip(&a) {
        *slot = match doc.resolve(o)? {
            Object::Integer(i) => i as f32,
            Object::Real(r) => r,
            _ => return Ok(None),
        };
    }
    Ok(Some([
        v[0].min(v[2]),
        v[1].min(v[3]),
        v[0].max(v[2]),
        v[1].max(v[3]),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rotate: u16) -> PageFrame {
        PageFrame {
            crop: [10.0, 20.0, 610.0, 820.0],
            rotate,
        }
    }

    #[test]
    fn round_trips_for_every_rotation() {
        for rot in [0, 90, 180, 270] {
            let f = frame(rot);
            let r = VRect {
                x: 30.0,
                y: 40.0,
                w: 100.0,
                h: 50.0,
            };
            let back = f.rect_to_visual(f.rect_to_user(r));
            assert!(
                (back.x - r.x).abs() < 1e-3 && (back.w - r.w).abs() < 1e-3,
                "{rot}: {back:?}"
            );
            assert!(
                (back.y - r.y).abs() < 1e-3 && (back.h - r.h).abs() < 1e-3,
                "{rot}: {back:?}"
            );
        }
    }

    #[test]
    fn top_left_as_seen() {
        // Unrotated: the top-left corner is (x0, y1).
        assert_eq!(frame(0).to_user(0.0, 0.0), (10.0, 820.0));
        // Turned clockwise by 90°: the bottom-left corner comes to the top left.
        assert_eq!(frame(90).to_user(0.0, 0.0), (10.0, 20.0));
        assert_eq!(frame(180).to_user(0.0, 0.0), (610.0, 20.0));
        assert_eq!(frame(270).to_user(0.0, 0.0), (610.0, 820.0));
        assert_eq!(frame(90).visual_size(), (800.0, 600.0));
    }

    #[test]
    fn matrix_maps_the_bbox_onto_the_user_rect_shape() {
        let (w, h) = (100.0, 40.0);
        for rot in [0u16, 90, 180, 270] {
            let m = frame(rot).form_matrix(w, h);
            let corners = [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)];
            let pts: Vec<(f32, f32)> = corners
                .iter()
                .map(|&(x, y)| (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]))
                .collect();
            let minx = pts.iter().map(|p| p.0).fold(f32::MAX, f32::min);
            let miny = pts.iter().map(|p| p.1).fold(f32::MAX, f32::min);
            assert!(minx.abs() < 1e-3 && miny.abs() < 1e-3, "{rot}");
            let r = frame(rot).rect_to_user(VRect {
                x: 0.0,
                y: 0.0,
                w,
                h,
            });
            let maxx = pts.iter().map(|p| p.0).fold(f32::MIN, f32::max);
            assert!((maxx - (r[2] - r[0])).abs() < 1e-3, "{rot}");
        }
    }
}
