//! Renders a page with poppler's `pdftoppm` at a fixed resolution and finds
//! coloured pixels, so tests check what a reader would see.

use std::path::Path;
use std::process::Command;

/// The rendering resolution: 1 mm is 100/25.4 ≈ 3.94 px.
pub const DPI: f32 = 100.0;

pub fn mm_to_px(mm: f32) -> f32 {
    mm / 25.4 * DPI
}

pub fn px_to_mm(px: f32) -> f32 {
    px * 25.4 / DPI
}

/// An RGB page image.
pub struct Raster {
    pub width: u32,
    pub height: u32,
    rgb: Vec<u8>,
}

/// A box in pixels, inclusive-exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PxBox {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl PxBox {
    /// From a box in mm from the top-left corner: x, y, width, height.
    pub fn from_mm(x: f32, y: f32, w: f32, h: f32) -> PxBox {
        PxBox {
            x0: mm_to_px(x),
            y0: mm_to_px(y),
            x1: mm_to_px(x + w),
            y1: mm_to_px(y + h),
        }
    }

    pub fn contains(&self, x: u32, y: u32, slack: f32) -> bool {
        let (x, y) = (x as f32 + 0.5, y as f32 + 0.5);
        x >= self.x0 - slack && x <= self.x1 + slack && y >= self.y0 - slack && y <= self.y1 + slack
    }

    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }
}

/// Renders page `page` (1-based) of `pdf` as a viewer shows it.
pub fn render(pdf: &Path, page: u32) -> Raster {
    let dir = tempfile::tempdir().expect("temp dir");
    let prefix = dir.path().join("page");
    let out = Command::new("pdftoppm")
        // Viewers show the CropBox; pdftoppm shows the MediaBox unless told.
        .args(["-r", &DPI.to_string(), "-png", "-singlefile", "-cropbox"])
        .args(["-f", &page.to_string(), "-l", &page.to_string()])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .expect("run pdftoppm");
    assert!(
        out.status.success(),
        "pdftoppm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    decode(&dir.path().join("page.png"))
}

fn decode(path: &Path) -> Raster {
    let mut d = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("open render"),
    ));
    d.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut r = d.read_info().expect("png header");
    let mut buf = vec![0; r.output_buffer_size().expect("size")];
    let info = r.next_frame(&mut buf).expect("png frame");
    let channels = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|p| {
            if channels >= 3 {
                [p[0], p[1], p[2]]
            } else {
                [p[0], p[0], p[0]]
            }
        })
        .collect();
    Raster {
        width: info.width,
        height: info.height,
        rgb,
    }
}

impl Raster {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = 3 * (y * self.width + x) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Every pixel for which `pred` holds.
    pub fn find(&self, pred: impl Fn([u8; 3]) -> bool) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for y in 0..self.height {
            for x in 0..self.width {
                if pred(self.pixel(x, y)) {
                    out.push((x, y));
                }
            }
        }
        out
    }

    /// The pixels that differ clearly from `other` (same size).
    pub fn diff(&self, other: &Raster) -> Vec<(u32, u32)> {
        assert_eq!(
            (self.width, self.height),
            (other.width, other.height),
            "page sizes differ"
        );
        self.find_xy(|x, y| {
            let (a, b) = (self.pixel(x, y), other.pixel(x, y));
            a.iter().zip(b).any(|(p, q)| p.abs_diff(q) > 60)
        })
    }

    fn find_xy(&self, pred: impl Fn(u32, u32) -> bool) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for y in 0..self.height {
            for x in 0..self.width {
                if pred(x, y) {
                    out.push((x, y));
                }
            }
        }
        out
    }
}

pub fn is_blue(p: [u8; 3]) -> bool {
    p[2] > 150 && p[0] < 100 && p[1] < 120
}

pub fn is_red(p: [u8; 3]) -> bool {
    p[0] > 150 && p[1] < 90 && p[2] < 90
}

/// The bounding box of some pixels.
pub fn bounds(px: &[(u32, u32)]) -> PxBox {
    assert!(!px.is_empty(), "no pixels");
    let x0 = px.iter().map(|p| p.0).min().unwrap() as f32;
    let x1 = px.iter().map(|p| p.0).max().unwrap() as f32 + 1.0;
    let y0 = px.iter().map(|p| p.1).min().unwrap() as f32;
    let y1 = px.iter().map(|p| p.1).max().unwrap() as f32 + 1.0;
    PxBox { x0, y0, x1, y1 }
}

/// Renders page `page` (1-based) with pdf.js in Debian's chromium
/// (tests/browser/pdfjs-render.mjs), at the same resolution as [`render`].
pub fn render_pdfjs(pdf: &Path, page: u32) -> Raster {
    static NPM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    {
        let _once = NPM.lock().unwrap_or_else(|e| e.into_inner());
        if !browser.join("node_modules/pdfjs-dist").exists() {
            let out = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund"])
                .current_dir(&browser)
                .output()
                .expect("run npm");
            assert!(
                out.status.success(),
                "npm install: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("page.png");
    let out = Command::new("node")
        .arg(browser.join("pdfjs-render.mjs"))
        .arg(pdf)
        .arg(&png)
        .arg(page.to_string())
        .arg(DPI.to_string())
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "pdf.js render failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    decode(&png)
}
