//! The test pictures, drawn here so no binary test data is committed: a blue
//! signature stroke and a red round seal, both PNG with a transparent
//! background, the seal with a pHYs of 300 dpi so its real size is known.

use std::path::Path;

/// The signature picture: 300×120 px, aspect 2.5 (a 50×20 mm box fits it
/// exactly, so the widget is the box).
pub const SIG_PX: (u32, u32) = (300, 120);
/// The seal picture: 425 px at 300 dpi = 35.98 mm, the circle touching the
/// edges.
pub const SEAL_PX: u32 = 425;
pub const SEAL_DPI: f32 = 300.0;

pub const BLUE: [u8; 4] = [20, 40, 200, 255];
pub const RED: [u8; 4] = [220, 0, 0, 255];

fn write_rgba(path: &Path, w: u32, h: u32, dpi: Option<f32>, pixel: impl Fn(u32, u32) -> [u8; 4]) {
    let mut data = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&pixel(x, y));
        }
    }
    let file = std::fs::File::create(path).expect("create png");
    let mut e = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    e.set_color(png::ColorType::Rgba);
    e.set_depth(png::BitDepth::Eight);
    if let Some(dpi) = dpi {
        let ppm = (dpi / 0.0254).round() as u32;
        e.set_pixel_dims(Some(png::PixelDimensions {
            xppu: ppm,
            yppu: ppm,
            unit: png::Unit::Meter,
        }));
    }
    e.write_header()
        .and_then(|mut w| w.write_image_data(&data))
        .expect("write png");
}

/// A wavy blue stroke across the whole width and a bar down the left edge
/// (so the ink spans the whole picture), transparent elsewhere.
pub fn signature(path: &Path) {
    let (w, h) = SIG_PX;
    write_rgba(path, w, h, None, |x, y| {
        let mid = h as f32 / 2.0 + (h as f32 / 3.0) * (x as f32 / 24.0).sin();
        if (y as f32 - mid).abs() < 6.0 || (x < 8 && y >= 2 && y < h - 2) {
            BLUE
        } else {
            [0, 0, 0, 0]
        }
    });
}

/// A red ring touching the picture's edges with a red star-ish centre.
pub fn seal(path: &Path) {
    let n = SEAL_PX;
    let c = n as f32 / 2.0;
    write_rgba(path, n, n, Some(SEAL_DPI), |x, y| {
        let r = ((x as f32 + 0.5 - c).powi(2) + (y as f32 + 0.5 - c).powi(2)).sqrt();
        if (c - 14.0..=c).contains(&r) || (c - 30.0..=c - 24.0).contains(&r) || r < c / 4.0 {
            RED
        } else {
            [0, 0, 0, 0]
        }
    });
}
