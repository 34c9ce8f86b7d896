//! The text font: Times New Roman when the system has it (Decree 30 names
//! it), else the bundled Liberation Serif, which has the same metrics and
//! covers Vietnamese (SIL OFL 1.1, `assets/fonts/`).
//!
//! Text is NFC-normalised and mapped one character to one glyph through the
//! font's `cmap`: Vietnamese needs no shaping once its letters are
//! precomposed. The used glyphs are subset with `subsetter`, which drops the
//! `cmap`, so the font is written as a CID font (Type0 + CIDFontType2,
//! Identity-H, CID = the subset's glyph id) with `/W` widths and a
//! `/ToUnicode` map that gives text extraction the exact characters back.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use lopdf::{Dictionary, Object, ObjectId, Stream, StringFormat};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::prelude::NormalizedCoord;
use skrifa::raw::TableProvider;
use skrifa::string::StringId;
use skrifa::{FontRef, MetadataProvider};
use subsetter::GlyphRemapper;
use unicode_normalization::UnicodeNormalization;

use super::form::deflate;
use super::Error;
use crate::pdf::Document;

/// Liberation Serif 2.1.5 Regular from Debian's fonts-liberation2.
static BUNDLED: &[u8] = include_bytes!("../../assets/fonts/LiberationSerif-Regular.ttf");

/// Where Times New Roman usually lives (Windows, macOS, Debian's
/// ttf-mscorefonts-installer).
const SYSTEM_TIMES: &[&str] = &[
    "C:\\Windows\\Fonts\\times.ttf",
    "/Library/Fonts/Times New Roman.ttf",
    "/System/Library/Fonts/Supplemental/Times New Roman.ttf",
    "/usr/share/fonts/truetype/msttcorefonts/Times_New_Roman.ttf",
    "/usr/share/fonts/truetype/msttcorefonts/times.ttf",
];

/// A parsed TrueType font and the numbers its PDF descriptor needs.
pub struct Font {
    data: Cow<'static, [u8]>,
    ps_name: String,
    units_per_em: f32,
    ascent: f32,
    descent: f32,
    cap_height: f32,
    bbox: [f32; 4],
}

impl Font {
    /// Times New Roman if installed, else the bundled font.
    pub fn load() -> Result<Font, Error> {
        Self::load_preferring(SYSTEM_TIMES.iter().map(Path::new))
    }

    /// The first readable, usable file of `candidates`, else the bundled font.
    pub fn load_preferring<'p>(
        candidates: impl IntoIterator<Item = &'p Path>,
    ) -> Result<Font, Error> {
        for path in candidates {
            if let Ok(bytes) = std::fs::read(path) {
                match Font::from_bytes(Cow::Owned(bytes)) {
                    Ok(f) if f.covers_vietnamese() => return Ok(f),
                    Ok(_) => {
                        tracing::debug!("{} lacks Vietnamese letters; not used", path.display())
                    }
                    Err(e) => tracing::debug!("{} unusable: {e}", path.display()),
                }
            }
        }
        Font::bundled()
    }

    /// The bundled Liberation Serif.
    pub fn bundled() -> Result<Font, Error> {
        Font::from_bytes(Cow::Borrowed(BUNDLED))
    }

    fn from_bytes(data: Cow<'static, [u8]>) -> Result<Font, Error> {
        let face = FontRef::from_index(&data, 0).map_err(|e| Error::Font(e.to_string()))?;
        if face.glyf().is_err() {
            return Err(Error::Font("only TrueType outlines are supported".into()));
        }
        let m = face.metrics(Size::unscaled(), LocationRef::default());
        let ps_name = face
            .localized_strings(StringId::POSTSCRIPT_NAME)
            .english_or_first()
            .map(|s| {
                s.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect::<String>()
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "Serif".into());
        let bbox = m
            .bounds
            .map(|b| [b.x_min, b.y_min, b.x_max, b.y_max])
            .unwrap_or([0.0, m.descent, 1000.0, m.ascent]);
        Ok(Font {
            ps_name,
            units_per_em: f32::from(m.units_per_em.max(1)),
            ascent: m.ascent,
            descent: m.descent,
            cap_height: m.cap_height.unwrap_or(m.ascent * 0.7),
            bbox,
            data,
        })
    }

    fn face(&self) -> FontRef<'_> {
        FontRef::from_index(&self.data, 0).expect("parsed when loaded")
    }

    fn covers_vietnamese(&self) -> bool {
        let cmap = self.face().charmap();
        "ăâđêôơưĂÂĐÊÔƠƯệẫỹ".chars().all(|c| cmap.map(c).is_some())
    }

    /// The PostScript name, e.g. `LiberationSerif` or `TimesNewRomanPSMT`.
    pub fn name(&self) -> &str {
        &self.ps_name
    }

    /// The ascent in text-space units per point of font size.
    pub fn ascent(&self) -> f32 {
        self.ascent / self.units_per_em
    }

    /// The descent (negative) in text-space units per point of font size.
    pub fn descent(&self) -> f32 {
        self.descent / self.units_per_em
    }
}

/// Encodes text for one appearance and collects the glyphs it uses, then
/// writes the subset font.
pub struct TextWriter<'f> {
    font: &'f Font,
    charmap: Charmap<'f>,
    metrics: GlyphMetrics<'f>,
    remapper: GlyphRemapper,
    /// Subset glyph id → (the character it shows, its advance in 1/1000 em).
    used: BTreeMap<u16, (char, f32)>,
}

impl<'f> TextWriter<'f> {
    /// A writer with no glyphs used yet.
    pub fn new(font: &'f Font) -> Self {
        let face = font.face();
        let no_coords: &[NormalizedCoord] = &[];
        TextWriter {
            font,
            charmap: face.charmap(),
            metrics: face.glyph_metrics(Size::unscaled(), LocationRef::new(no_coords)),
            remapper: GlyphRemapper::new(),
            used: BTreeMap::new(),
        }
    }

    fn glyph(&self, c: char) -> Result<(u16, f32), Error> {
        let gid = self.charmap.map(c).ok_or(Error::MissingGlyph(c))?;
        let advance =
            self.metrics.advance_width(gid).unwrap_or(0.0) * 1000.0 / self.font.units_per_em;
        let gid =
            u16::try_from(gid.to_u32()).map_err(|_| Error::Font("glyph id out of range".into()))?;
        Ok((gid, advance))
    }

    /// The width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> Result<f32, Error> {
        let mut total = 0.0;
        for c in text.nfc() {
            total += self.glyph(c)?.1;
        }
        Ok(total * size / 1000.0)
    }

    /// The content-stream string for `text`: two-byte CIDs.
    pub fn encode(&mut self, text: &str) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(2 * text.len());
        for c in text.nfc() {
            let (gid, advance) = self.glyph(c)?;
            let cid = self.remapper.remap(gid);
            self.used.entry(cid).or_insert((c, advance));
            out.extend_from_slice(&cid.to_be_bytes());
        }
        Ok(out)
    }

    /// Whether any text was encoded.
    pub fn is_empty(&self) -> bool {
        self.used.is_empty()
    }

    /// Subsets the font and returns the Type0 font's id and every new object.
    pub fn finish(self, doc: &mut Document) -> Result<(ObjectId, Vec<(ObjectId, Object)>), Error> {
        let subset = subsetter::subset(&self.font.data, 0, &self.remapper)
            .map_err(|e| Error::Font(e.to_string()))?;
        let base_font = format!("{}+{}", subset_tag(&self.used), self.font.ps_name);

        let type0_id = doc.allocate();
        let cid_id = doc.allocate();
        let descriptor_id = doc.allocate();
        let file_id = doc.allocate();
        let to_unicode_id = doc.allocate();

        let mut file_dict = Dictionary::new();
        file_dict.set("Length1", subset.len() as i64);
        file_dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let file = Stream::new(file_dict, deflate(&subset));

        let scale = 1000.0 / self.font.units_per_em;
        let mut descriptor = Dictionary::new();
        descriptor.set("Type", name("FontDescriptor"));
        descriptor.set("FontName", name(&base_font));
        // Serif (2) + Nonsymbolic (32).
        descriptor.set("Flags", 34);
        descriptor.set(
            "FontBBox",
            self.font
                .bbox
                .iter()
                .map(|v| Object::Real(round(v * scale)))
                .collect::<Vec<_>>(),
        );
        descriptor.set("ItalicAngle", 0);
        descriptor.set("Ascent", Object::Real(round(self.font.ascent * scale)));
        descriptor.set("Descent", Object::Real(round(self.font.descent * scale)));
        descriptor.set(
            "CapHeight",
            Object::Real(round(self.font.cap_height * scale)),
        );
        descriptor.set("StemV", 80);
        descriptor.set("FontFile2", Object::Reference(file_id));

        let mut system_info = Dictionary::new();
        system_info.set(
            "Registry",
            Object::String(b"Adobe".to_vec(), StringFormat::Literal),
        );
        system_info.set(
            "Ordering",
            Object::String(b"Identity".to_vec(), StringFormat::Literal),
        );
        system_info.set("Supplement", 0);

        let mut cid_font = Dictionary::new();
        cid_font.set("Type", name("Font"));
        cid_font.set("Subtype", name("CIDFontType2"));
        cid_font.set("BaseFont", name(&base_font));
        cid_font.set("CIDSystemInfo", system_info);
        cid_font.set("FontDescriptor", Object::Reference(descriptor_id));
        cid_font.set("CIDToGIDMap", name("Identity"));
        cid_font.set("DW", 1000);
        cid_font.set("W", widths(&self.used));

        let mut type0 = Dictionary::new();
        type0.set("Type", name("Font"));
        type0.set("Subtype", name("Type0"));
        type0.set("BaseFont", name(&base_font));
        type0.set("Encoding", name("Identity-H"));
        type0.set("DescendantFonts", vec![Object::Reference(cid_id)]);
        type0.set("ToUnicode", Object::Reference(to_unicode_id));

        let cmap = to_unicode(&self.used);
        let mut cmap_dict = Dictionary::new();
        cmap_dict.set("Filter", name("FlateDecode"));
        let cmap = Stream::new(cmap_dict, deflate(cmap.as_bytes()));

        Ok((
            type0_id,
            vec![
                (type0_id, Object::Dictionary(type0)),
                (cid_id, Object::Dictionary(cid_font)),
                (descriptor_id, Object::Dictionary(descriptor)),
                (file_id, Object::Stream(file)),
                (to_unicode_id, Object::Stream(cmap)),
            ],
        ))
    }
}

fn name(s: &str) -> Object {
    Object::Name(s.as_bytes().to_vec())
}

fn round(v: f32) -> f32 {
    v.round()
}

/// `/W` as runs of consecutive CIDs: `[first [w1 w2 …] …]`.
fn widths(used: &BTreeMap<u16, (char, f32)>) -> Vec<Object> {
    let mut out = Vec::new();
    let mut run: Vec<Object> = Vec::new();
    let mut start = 0u16;
    let mut prev: Option<u16> = None;
    for (&cid, &(_, w)) in used {
        if prev.is_some_and(|p| p + 1 != cid) {
            out.push(Object::Integer(i64::from(start)));
            out.push(Object::Array(std::mem::take(&mut run)));
        }
        if run.is_empty() {
            start = cid;
        }
        run.push(Object::Real(w.round()));
        prev = Some(cid);
    }
    if !run.is_empty() {
        out.push(Object::Integer(i64::from(start)));
        out.push(Object::Array(run));
    }
    out
}

/// A ToUnicode CMap with one `bfchar` line per used CID.
fn to_unicode(used: &BTreeMap<u16, (char, f32)>) -> String {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<_> = used.iter().collect();
    // A bfchar block holds at most 100 entries.
    for chunk in entries.chunks(100) {
        let _ = writeln!(s, "{} beginbfchar", chunk.len());
        for (cid, (c, _)) in chunk {
            let mut units = [0u16; 2];
            let hex: String = c
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            let _ = writeln!(s, "<{cid:04X}> <{hex}>");
        }
        s.push_str("endbfchar\n");
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s
}

/// Six capital letters derived from the glyph set, as PDF asks for subsets.
fn subset_tag(used: &BTreeMap<u16, (char, f32)>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (cid, (c, _)) in used {
        for b in cid
            .to_be_bytes()
            .into_iter()
            .chain(u32::from(*c).to_be_bytes())
        {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (0..6)
        .map(|i| char::from(b'A' + ((h >> (i * 8)) % 26) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_covers_vietnamese_and_nfc() {
        let f = Font::bundled().unwrap();
        assert!(f.covers_vietnamese());
        let mut w = TextWriter::new(&f);
        // "ệ" written decomposed (e + dot below + circumflex) becomes one glyph.
        let cids = w.encode("Vie\u{0323}\u{0302}t").unwrap();
        assert_eq!(cids.len(), 8);
        assert!(w.used.values().any(|(c, _)| *c == 'ệ'));
        assert!(w.width("Việt", 10.0).unwrap() > 10.0);
        assert!(matches!(
            w.encode("\u{4E2D}"),
            Err(Error::MissingGlyph('\u{4E2D}'))
        ));
    }

    #[test]
    fn to_unicode_and_widths() {
        let mut used = BTreeMap::new();
        used.insert(1u16, ('Đ', 722.0));
        used.insert(2u16, ('ồ', 500.0));
        used.insert(5u16, ('𝐀', 600.0));
        let cmap = to_unicode(&used);
        assert!(cmap.contains("<0001> <0110>"));
        assert!(cmap.contains("<0002> <1ED3>"));
        assert!(cmap.contains("<0005> <D835DC00>"));
        let w = widths(&used);
        assert_eq!(w.len(), 4);
        assert_eq!(subset_tag(&used).len(), 6);
    }
}
