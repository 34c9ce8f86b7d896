//! PNG pictures as PDF image XObjects. The colour samples become the image
//! and the alpha channel a separate `/SMask`, so a transparent background
//! stays transparent (lopdf's own PNG import drops the alpha). Samples are
//! copied as decoded, 8 or 16 bits, and only deflated again: no loss.

use std::path::Path;

use base64ct::{Base64, Base64Unpadded, Encoding};
use lopdf::{Dictionary, Object, ObjectId, Stream};

use super::error::ImageRole;
use super::form::deflate;
use super::request::ImageSource;
use super::Error;
use crate::pdf::Document;

/// The largest picture accepted, in pixels: a signature or seal scanned at
/// 600 dpi is far below this.
const MAX_PIXELS: u64 = 16 << 20;

/// A decoded PNG, ready to be written.
pub struct Picture {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Pixels per metre from `pHYs`, when the file says.
    pub pixels_per_metre: Option<(u32, u32)>,
    gray: bool,
    depth: u8,
    color: Vec<u8>,
    alpha: Option<Vec<u8>>,
}

impl Picture {
    /// Reads and decodes the picture named by `src`.
    pub fn load(src: &ImageSource, role: ImageRole) -> Result<Picture, Error> {
        let bytes = match src {
            ImageSource::Path(p) => read_file(p)?,
            ImageSource::PngBase64(b64) => {
                let b64 = b64.trim();
                Base64::decode_vec(b64)
                    .or_else(|_| Base64Unpadded::decode_vec(b64))
                    .map_err(|e| Error::ImageDecode {
                        role,
                        why: format!("bad base64: {e}"),
                    })?
            }
        };
        Picture::decode(&bytes, role)
    }

    /// Decodes PNG bytes.
    pub fn decode(bytes: &[u8], role: ImageRole) -> Result<Picture, Error> {
        let bad = |why: String| Error::ImageDecode { role, why };
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        // Palettes and low bit depths become 8-bit samples; tRNS becomes alpha.
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
        let (width, height) = (reader.info().width, reader.info().height);
        if u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(bad(format!("{width}×{height} pixels is too large")));
        }
        let pixels_per_metre = reader
            .info()
            .pixel_dims
            .filter(|d| d.unit == png::Unit::Meter && d.xppu > 0 && d.yppu > 0)
            .map(|d| (d.xppu, d.yppu));
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| bad("image too large".into()))?;
        let mut buf = vec![0; size];
        let frame = reader
            .next_frame(&mut buf)
            .map_err(|e| bad(e.to_string()))?;
        buf.truncate(frame.buffer_size());
        let depth = match frame.bit_depth {
            png::BitDepth::Eight => 1usize,
            png::BitDepth::Sixteen => 2,
            other => {
                return Err(bad(format!(
                    "unexpected bit depth {other:?} after expansion"
                )))
            }
        };
        let (channels, gray, has_alpha) = match frame.color_type {
            png::ColorType::Grayscale => (1, true, false),
            png::ColorType::GrayscaleAlpha => (2, true, true),
            png::ColorType::Rgb => (3, false, false),
            png::ColorType::Rgba => (4, false, true),
            png::ColorType::Indexed => return Err(bad("palette was not expanded".into())),
        };
        let (color, alpha) = if has_alpha {
            let color_bytes = (channels - 1) * depth;
            let pixel = channels * depth;
            let mut color = Vec::with_capacity(buf.len() / channels * (channels - 1));
            let mut alpha = Vec::with_capacity(buf.len() / channels);
            for px in buf.chunks_exact(pixel) {
                color.extend_from_slice(&px[..color_bytes]);
                alpha.extend_from_slice(&px[color_bytes..]);
            }
            // A fully opaque alpha channel needs no mask.
            let opaque = if depth == 1 {
                alpha.iter().all(|&a| a == 255)
            } else {
                alpha.chunks_exact(2).all(|a| a == [255, 255])
            };
            (color, (!opaque).then_some(alpha))
        } else {
            (buf, None)
        };
        Ok(Picture {
            width,
            height,
            pixels_per_metre,
            gray,
            depth: (depth * 8) as u8,
            color,
            alpha,
        })
    }

    /// The picture's physical width in mm according to `pHYs`.
    pub fn width_mm(&self) -> Option<f32> {
        self.pixels_per_metre
            .map(|(x, _)| self.width as f32 * 1000.0 / x as f32)
    }

    /// Width over height.
    pub fn aspect(&self) -> f32 {
        self.width as f32 / self.height.max(1) as f32
    }

    /// Writes the image (and its soft mask) and returns the image's id.
    pub fn write(&self, doc: &mut Document, objects: &mut Vec<(ObjectId, Object)>) -> ObjectId {
        let image_id = doc.allocate();
        let mut dict = self.base_dict(if self.gray { "DeviceGray" } else { "DeviceRGB" });
        if let Some(alpha) = &self.alpha {
            let mask_id = doc.allocate();
            let mask = Stream::new(self.base_dict("DeviceGray"), deflate(alpha));
            objects.push((mask_id, Object::Stream(mask)));
            dict.set("SMask", Object::Reference(mask_id));
        }
        objects.push((
            image_id,
            Object::Stream(Stream::new(dict, deflate(&self.color))),
        ));
        image_id
    }

    fn base_dict(&self, space: &str) -> Dictionary {
        let mut d = Dictionary::new();
        d.set("Type", Object::Name(b"XObject".to_vec()));
        d.set("Subtype", Object::Name(b"Image".to_vec()));
        d.set("Width", i64::from(self.width));
        d.set("Height", i64::from(self.height));
        d.set("ColorSpace", Object::Name(space.as_bytes().to_vec()));
        d.set("BitsPerComponent", i64::from(self.depth));
        d.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        d
    }
}

fn read_file(p: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(p).map_err(|source| Error::ImageFile {
        path: p.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(
        width: u32,
        height: u32,
        color: png::ColorType,
        data: &[u8],
        ppm: Option<u32>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = png::Encoder::new(&mut out, width, height);
        e.set_color(color);
        e.set_depth(png::BitDepth::Eight);
        if let Some(p) = ppm {
            e.set_pixel_dims(Some(png::PixelDimensions {
                xppu: p,
                yppu: p,
                unit: png::Unit::Meter,
            }));
        }
        e.write_header().unwrap().write_image_data(data).unwrap();
        out
    }

    #[test]
    fn rgba_splits_into_colour_and_mask() {
        let data = [0, 0, 255, 255, 0, 0, 255, 0];
        let p = Picture::decode(
            &png(2, 1, png::ColorType::Rgba, &data, Some(11811)),
            ImageRole::Seal,
        )
        .unwrap();
        assert_eq!(p.color, vec![0, 0, 255, 0, 0, 255]);
        assert_eq!(p.alpha, Some(vec![255, 0]));
        // 11811 px/m = 300 dpi: 2 px = 0.169 mm.
        assert!((p.width_mm().unwrap() - 0.1693).abs() < 1e-3);
    }

    #[test]
    fn opaque_alpha_needs_no_mask_and_base64_works() {
        let bytes = png(1, 1, png::ColorType::Rgba, &[1, 2, 3, 255], None);
        let src = ImageSource::PngBase64(Base64::encode_string(&bytes));
        let p = Picture::load(&src, ImageRole::Signature).unwrap();
        assert!(p.alpha.is_none());
        assert!(p.width_mm().is_none());
        assert!(Picture::decode(b"not a png", ImageRole::Signature).is_err());
    }
}
