//! Where each part of a stamp goes, in page coordinates as seen (top-left
//! origin, y down, points). Pure arithmetic: the Decree 30 rules in one
//! place, testable without a PDF.

use super::geometry::{VRect, PT_PER_MM};
use super::request::AnchorPlace;

/// The default box of an `approved` signature image, in mm.
pub const APPROVED_SIZE_MM: [f32; 2] = [50.0, 22.0];
/// The seal's diameter when nothing says otherwise (the usual office seal).
pub const DEFAULT_SEAL_MM: f32 = 36.0;
/// pHYs-derived diameters outside this range are taken as a paint program's
/// default DPI, not a real size.
pub const PLAUSIBLE_SEAL_MM: std::ops::RangeInclusive<f32> = 20.0..=60.0;
/// Text-only stamps keep this far from the top and right edges, so that a
/// three-line 10 pt block ends above the 20 mm top margin Decree 30 gives
/// every page.
pub const TOP_RIGHT_MARGIN_MM: [f32; 2] = [4.0, 10.0];
/// The fraction of the signature's width, from its left edge, that the seal's
/// right edge reaches: "about one third", kept just under it so the seal
/// never reaches into the right two-thirds.
pub const SEAL_REACH: f32 = 0.3;
/// Space between lines as a multiple of the font size.
pub const LINE_SPACING: f32 = 1.15;

/// The largest box of the picture's aspect ratio that fits in `b`, centred.
pub fn fit(b: VRect, aspect: f32) -> VRect {
    let (w, h) = if b.w / b.h > aspect {
        (b.h * aspect, b.h)
    } else {
        (b.w, b.w / aspect)
    };
    VRect {
        x: b.x + (b.w - w) / 2.0,
        y: b.y + (b.h - h) / 2.0,
        w,
        h,
    }
}

/// The seal (diameter `d` points) over the left third of signature box `sig`,
/// centred on it vertically.
pub fn seal_over(sig: VRect, d: f32) -> VRect {
    let right = sig.x + SEAL_REACH * sig.w;
    VRect {
        x: right - d,
        y: sig.y + sig.h / 2.0 - d / 2.0,
        w: d,
        h: d,
    }
}

/// A `w`×`h` block at the top right of a page `page_w` wide.
pub fn top_right(page_w: f32, w: f32, h: f32) -> VRect {
    let [top, right] = TOP_RIGHT_MARGIN_MM;
    VRect {
        x: page_w - right * PT_PER_MM - w,
        y: top * PT_PER_MM,
        w,
        h,
    }
}

/// A `w`×`h` box placed relative to the anchor text's box, then shifted.
pub fn near_anchor(text: VRect, w: f32, h: f32, place: AnchorPlace, offset_mm: [f32; 2]) -> VRect {
    let (cx, _) = text.center();
    let gap = 1.0 * PT_PER_MM;
    let y = match place {
        AnchorPlace::Above => text.y - gap - h,
        AnchorPlace::Over => text.y + text.h / 2.0 - h / 2.0,
        AnchorPlace::Below => text.y + text.h + gap,
    };
    VRect {
        x: cx - w / 2.0 + offset_mm[0] * PT_PER_MM,
        y: y + offset_mm[1] * PT_PER_MM,
        w,
        h,
    }
}

/// The default `approved` box on a `pw`×`ph` page: centred in the right half,
/// a little below the middle, where the signature block of a one-page
/// decision usually is. Anchors or explicit boxes are better; this only
/// keeps a bare `--profile approved` from failing.
pub fn approved_default(pw: f32, ph: f32) -> VRect {
    let [w, h] = APPROVED_SIZE_MM.map(|v| v * PT_PER_MM);
    VRect {
        x: pw * 0.72 - w / 2.0,
        y: ph * 0.6,
        w,
        h,
    }
}

/// The seal's diameter in mm: the request's, else the picture's pHYs when
/// plausible, else 36 mm.
pub fn seal_mm(requested: Option<f32>, from_png: Option<f32>) -> f32 {
    requested
        .filter(|v| v.is_finite() && *v > 0.0)
        .or(from_png.filter(|v| PLAUSIBLE_SEAL_MM.contains(v)))
        .unwrap_or(DEFAULT_SEAL_MM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_covers_only_the_left_third() {
        let sig = VRect {
            x: 300.0,
            y: 500.0,
            w: 150.0,
            h: 60.0,
        };
        let seal = seal_over(sig, 102.0);
        assert!(seal.x + seal.w > sig.x && seal.x + seal.w <= sig.x + sig.w / 3.0);
        assert_eq!(seal.center().1, sig.center().1);
    }

    #[test]
    fn fit_keeps_aspect() {
        let b = fit(
            VRect {
                x: 0.0,
                y: 0.0,
                w: 100.0,
                h: 100.0,
            },
            2.0,
        );
        assert_eq!((b.w, b.h, b.y), (100.0, 50.0, 25.0));
    }

    #[test]
    fn seal_size_rules() {
        assert_eq!(seal_mm(Some(40.0), Some(30.0)), 40.0);
        assert_eq!(seal_mm(None, Some(30.0)), 30.0);
        // 1000 px at 72 dpi would be 352 mm: a default DPI, not a size.
        assert_eq!(seal_mm(None, Some(352.0)), 36.0);
    }
}
