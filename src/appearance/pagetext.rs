//! A page's text with positions, for anchors: "put the signature above the
//! signer's printed name".
//!
//! Only what finding a string needs is interpreted: the text operators
//! (`BT Tf Td TD Tm T* Tj TJ ' " Tc Tw Tz TL`), `cm` with `q`/`Q`, and each
//! font's code length, widths and `/ToUnicode` map. Text inside form
//! XObjects, Type3 font matrices and vertical writing are not followed;
//! office suites (LibreOffice, Word) put body text straight in the page
//! content with Identity-H or single-byte fonts, which this covers.

use std::collections::HashMap;

use lopdf::content::Content;
use lopdf::{Dictionary, Object, ObjectId};
use unicode_normalization::UnicodeNormalization;

use super::Error;
use crate::pdf::Document;

/// The most decoded content read for one page.
const MAX_CONTENT: usize = 32 << 20;

/// One character on the page and its box in default user space.
#[derive(Debug, Clone, PartialEq)]
pub struct PageChar {
    /// The character (NFC, never whitespace).
    pub ch: char,
    /// `[x0, y0, x1, y1]`.
    pub bbox: [f32; 4],
}

/// Reads the characters of page `page` in content order.
pub fn page_chars(doc: &mut Document, page: ObjectId) -> Result<Vec<PageChar>, Error> {
    let page_dict = doc.resolve_dict(&Object::Reference(page), "the page")?;
    let resources = inherited(doc, page, b"Resources")?
        .map(|r| doc.resolve_dict(&r, "the page resources"))
        .transpose()?
        .unwrap_or_default();
    let fonts = match resources.get(b"Font") {
        Ok(f) => doc.resolve_dict(f, "the font resources")?,
        Err(_) => Dictionary::new(),
    };
    let content = page_content(doc, &page_dict)?;
    let ops = Content::decode(&content)
        .map_err(|e| crate::pdf::Error::Unsupported(format!("unreadable page content: {e}")))?;

    let mut cache: HashMap<Vec<u8>, FontInfo> = HashMap::new();
    let mut st = State::default();
    let mut stack: Vec<Matrix> = Vec::new();
    let mut out = Vec::new();
    for op in &ops.operations {
        let nums = || {
            op.operands
                .iter()
                .map(num)
                .collect::<Option<Vec<f32>>>()
                .unwrap_or_default()
        };
        match op.operator.as_str() {
            "q" => stack.push(st.ctm),
            "Q" => st.ctm = stack.pop().unwrap_or(Matrix::IDENTITY),
            "cm" => {
                if let [a, b, c, d, e, f] = nums()[..] {
                    st.ctm = Matrix([a, b, c, d, e, f]).then(&st.ctm);
                }
            }
            "BT" => {
                st.tm = Matrix::IDENTITY;
                st.tlm = Matrix::IDENTITY;
            }
            "Tf" => {
                if let [Object::Name(name), size] = &op.operands[..] {
                    if !cache.contains_key(name) {
                        let info = match fonts.get(name) {
                            Ok(f) => FontInfo::read(doc, f).unwrap_or_default(),
                            Err(_) => FontInfo::default(),
                        };
                        cache.insert(name.clone(), info);
                    }
                    st.font = Some(name.clone());
                    st.size = num(size).unwrap_or(0.0);
                }
            }
            "Tc" => st.tc = nums().first().copied().unwrap_or(0.0),
            "Tw" => st.tw = nums().first().copied().unwrap_or(0.0),
            "Tz" => st.th = nums().first().copied().unwrap_or(100.0) / 100.0,
            "TL" => st.tl = nums().first().copied().unwrap_or(0.0),
            "Td" => {
                if let [x, y] = nums()[..] {
                    st.next_line(x, y);
                }
            }
            "TD" => {
                if let [x, y] = nums()[..] {
                    st.tl = -y;
                    st.next_line(x, y);
                }
            }
            "Tm" => {
                if let [a, b, c, d, e, f] = nums()[..] {
                    st.tm = Matrix([a, b, c, d, e, f]);
                    st.tlm = st.tm;
                }
            }
            "T*" => st.next_line(0.0, -st.tl),
            "Tj" | "'" | "\"" => {
                if op.operator == "\"" {
                    if let [aw, ac, _] = &op.operands[..] {
                        st.tw = num(aw).unwrap_or(0.0);
                        st.tc = num(ac).unwrap_or(0.0);
                    }
                }
                if op.operator != "Tj" {
                    st.next_line(0.0, -st.tl);
                }
                if let Some(Object::String(bytes, _)) = op.operands.last() {
                    st.show(bytes, &cache, &mut out);
                }
            }
            "TJ" => {
                if let Some(Object::Array(items)) = op.operands.first() {
                    for item in items {
                        match item {
                            Object::String(bytes, _) => st.show(bytes, &cache, &mut out),
                            other => {
                                if let Some(adj) = num(other) {
                                    st.advance(-adj / 1000.0 * st.size * st.th);
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The box of the last occurrence of `needle`, compared after NFC and with
/// whitespace ignored. The last one, because the printed name under a
/// signature comes after any mention of the same name in the body.
pub fn find(chars: &[PageChar], needle: &str) -> Option<[f32; 4]> {
    let needle: Vec<char> = needle.nfc().filter(|c| !c.is_whitespace()).collect();
    if needle.is_empty() || needle.len() > chars.len() {
        return None;
    }
    let start = (0..=chars.len() - needle.len()).rev().find(|&i| {
        chars[i..i + needle.len()]
            .iter()
            .zip(&needle)
            .all(|(a, b)| a.ch == *b)
    })?;
    let hit = &chars[start..start + needle.len()];
    Some(hit.iter().skip(1).fold(hit[0].bbox, |b, c| {
        [
            b[0].min(c.bbox[0]),
            b[1].min(c.bbox[1]),
            b[2].max(c.bbox[2]),
            b[3].max(c.bbox[3]),
        ]
    }))
}

/// A page attribute, looked up through `/Parent` when the page inherits it.
pub fn inherited(doc: &mut Document, page: ObjectId, key: &[u8]) -> Result<Option<Object>, Error> {
    let mut node = Some(page);
    for _ in 0..64 {
        let Some(id) = node else { break };
        let dict = doc.resolve_dict(&Object::Reference(id), "a page tree node")?;
        if let Ok(v) = dict.get(key) {
            return Ok(Some(v.clone()));
        }
        node = dict.get(b"Parent").and_then(Object::as_reference).ok();
    }
    Ok(None)
}

fn page_content(doc: &mut Document, page: &Dictionary) -> Result<Vec<u8>, Error> {
    let refs = match page.get(b"Contents") {
        Ok(Object::Reference(r)) => match doc.object(r.0)? {
            Object::Array(a) => a,
            _ => vec![Object::Reference(*r)],
        },
        Ok(Object::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let mut data = Vec::new();
    for r in refs {
        let Ok((id, _)) = r.as_reference() else {
            continue;
        };
        let stream = doc.stream(id)?;
        let bytes = stream
            .decompressed_content_with_limit(MAX_CONTENT.saturating_sub(data.len()))
            .map_err(|e| {
                crate::pdf::Error::Unsupported(format!("page content stream {id}: {e}"))
            })?;
        data.extend_from_slice(&bytes);
        data.push(b'\n');
    }
    Ok(data)
}

fn num(o: &Object) -> Option<f32> {
    match o {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

/// An affine matrix `[a b c d e f]` in PDF's row-vector convention.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Matrix([f32; 6]);

impl Matrix {
    const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    /// `self` applied first, then `o`.
    fn then(&self, o: &Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = o.0;
        Matrix([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }
}

#[derive(Debug, Clone)]
struct State {
    ctm: Matrix,
    tm: Matrix,
    tlm: Matrix,
    font: Option<Vec<u8>>,
    size: f32,
    tc: f32,
    tw: f32,
    th: f32,
    tl: f32,
}

impl Default for State {
    fn default() -> Self {
        State {
            ctm: Matrix::IDENTITY,
            tm: Matrix::IDENTITY,
            tlm: Matrix::IDENTITY,
            font: None,
            size: 0.0,
            tc: 0.0,
            tw: 0.0,
            th: 1.0,
            tl: 0.0,
        }
    }
}

impl State {
    fn next_line(&mut self, x: f32, y: f32) {
        self.tlm = Matrix([1.0, 0.0, 0.0, 1.0, x, y]).then(&self.tlm);
        self.tm = self.tlm;
    }

    fn advance(&mut self, tx: f32) {
        self.tm = Matrix([1.0, 0.0, 0.0, 1.0, tx, 0.0]).then(&self.tm);
    }

    fn show(&mut self, bytes: &[u8], fonts: &HashMap<Vec<u8>, FontInfo>, out: &mut Vec<PageChar>) {
        let fallback = FontInfo::default();
        let font = self
            .font
            .as_ref()
            .and_then(|f| fonts.get(f))
            .unwrap_or(&fallback);
        let step = if font.two_byte { 2 } else { 1 };
        for code in bytes.chunks(step) {
            let code = code.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
            let w0 = font.width(code) / 1000.0;
            let word_space = if step == 1 && code == 32 {
                self.tw
            } else {
                0.0
            };
            let tx = (w0 * self.size + self.tc + word_space) * self.th;
            let m = self.tm.then(&self.ctm);
            let (x0, y0) = m.apply(0.0, -0.2 * self.size);
            let (x1, y1) = m.apply(w0 * self.size * self.th, 0.8 * self.size);
            let bbox = [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)];
            for ch in font.text(code).nfc().filter(|c| !c.is_whitespace()) {
                out.push(PageChar { ch, bbox });
            }
            self.advance(tx);
        }
    }
}

/// What finding text needs from a font: code length, widths, Unicode.
#[derive(Debug, Clone, Default)]
struct FontInfo {
    two_byte: bool,
    widths: HashMap<u32, f32>,
    default_width: f32,
    unicode: HashMap<u32, String>,
}

impl FontInfo {
    fn read(doc: &mut Document, font: &Object) -> Result<FontInfo, Error> {
        let dict = doc.resolve_dict(font, "a font")?;
        let mut info = FontInfo {
            default_width: 500.0,
            ..FontInfo::default()
        };
        if dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Type0") {
            info.two_byte = true;
            info.default_width = 1000.0;
            if let Ok(d) = dict.get(b"DescendantFonts") {
                if let Object::Array(a) = doc.resolve(d)? {
                    if let Some(cid) = a.first() {
                        let cid = doc.resolve_dict(cid, "a CID font")?;
                        if let Some(dw) = cid.get(b"DW").ok().and_then(num) {
                            info.default_width = dw;
                        }
                        if let Ok(w) = cid.get(b"W") {
                            if let Object::Array(w) = doc.resolve(w)? {
                                info.widths = cid_widths(doc, &w)?;
                            }
                        }
                    }
                }
            }
        } else {
            let first = dict.get(b"FirstChar").ok().and_then(num).unwrap_or(0.0) as u32;
            if let Ok(w) = dict.get(b"Widths") {
                if let Object::Array(w) = doc.resolve(w)? {
                    for (i, v) in w.iter().enumerate() {
                        if let Some(v) = num(&doc.resolve(v)?) {
                            info.widths.insert(first + i as u32, v);
                        }
                    }
                }
            }
        }
        if let Ok(Object::Reference((id, _))) = dict.get(b"ToUnicode") {
            let id = *id;
            if let Ok(s) = doc.stream(id) {
                if let Ok(bytes) = s.decompressed_content_with_limit(4 << 20) {
                    info.unicode = parse_to_unicode(&bytes);
                }
            }
        }
        Ok(info)
    }

    fn width(&self, code: u32) -> f32 {
        self.widths
            .get(&code)
            .copied()
            .unwrap_or(self.default_width)
    }

    fn text(&self, code: u32) -> String {
        match self.unicode.get(&code) {
            Some(s) => s.clone(),
            // Without a map, a one-byte code is taken as Latin-1, which is
            // right for the ASCII range of the usual encodings.
            None if !self.two_byte => char::from_u32(code).map(String::from).unwrap_or_default(),
            None => String::new(),
        }
    }
}

/// `/W` of a CID font: `c [w1 w2 …]` and `c_first c_last w` entries.
fn cid_widths(doc: &mut Document, w: &[Object]) -> Result<HashMap<u32, f32>, Error> {
    let mut out = HashMap::new();
    let mut i = 0;
    while i < w.len() {
        let Some(first) = num(&w[i]) else { break };
        match w.get(i + 1).map(|o| doc.resolve(o)).transpose()? {
            Some(Object::Array(list)) => {
                for (k, v) in list.iter().enumerate() {
                    if let Some(v) = num(v) {
                        out.insert(first as u32 + k as u32, v);
                    }
                }
                i += 2;
            }
            Some(last) => {
                let (Some(last), Some(v)) = (num(&last), w.get(i + 2).and_then(num)) else {
                    break;
                };
                for c in first as u32..=(last as u32).min(first as u32 + 0xFFFF) {
                    out.insert(c, v);
                }
                i += 3;
            }
            None => break,
        }
    }
    Ok(out)
}

/// The `bfchar` and `bfrange` entries of a ToUnicode CMap.
fn parse_to_unicode(data: &[u8]) -> HashMap<u32, String> {
    let text = String::from_utf8_lossy(data);
    let tokens = cmap_tokens(&text);
    let mut map = HashMap::new();
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            CmapToken::Word("beginbfchar") => {
                i += 1;
                while let (Some(CmapToken::Hex(src)), Some(CmapToken::Hex(dst))) =
                    (tokens.get(i), tokens.get(i + 1))
                {
                    map.insert(code(src), utf16(dst));
                    i += 2;
                }
            }
            CmapToken::Word("beginbfrange") => {
                i += 1;
                while let (Some(CmapToken::Hex(lo)), Some(CmapToken::Hex(hi))) =
                    (tokens.get(i), tokens.get(i + 1))
                {
                    let (lo, hi) = (code(lo), code(hi).min(code(lo) + 0xFFFF));
                    match tokens.get(i + 2) {
                        Some(CmapToken::Hex(dst)) => {
                            let mut units: Vec<u16> = dst
                                .chunks(2)
                                .map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]))
                                .collect();
                            for c in lo..=hi {
                                map.insert(c, String::from_utf16_lossy(&units));
                                if let Some(last) = units.last_mut() {
                                    *last = last.wrapping_add(1);
                                }
                            }
                            i += 3;
                        }
                        Some(CmapToken::ArrayStart) => {
                            let mut c = lo;
                            i += 3;
                            while let Some(CmapToken::Hex(dst)) = tokens.get(i) {
                                if c <= hi {
                                    map.insert(c, utf16(dst));
                                }
                                c += 1;
                                i += 1;
                            }
                            i += 1;
                        }
                        _ => break,
                    }
                }
            }
            _ => i += 1,
        }
    }
    map
}

#[derive(Debug)]
enum CmapToken<'a> {
    Hex(Vec<u8>),
    ArrayStart,
    ArrayEnd,
    Word(&'a str),
}

fn cmap_tokens(text: &str) -> Vec<CmapToken<'_>> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'<' if b.get(i + 1) != Some(&b'<') => {
                let end = text[i..].find('>').map_or(b.len(), |e| i + e);
                let digits: Vec<u8> = text[i + 1..end]
                    .bytes()
                    .filter(u8::is_ascii_hexdigit)
                    .collect();
                let bytes = digits
                    .chunks(2)
                    .map(|p| {
                        let s = std::str::from_utf8(p).unwrap_or("0");
                        u8::from_str_radix(&format!("{s:0<2}"), 16).unwrap_or(0)
                    })
                    .collect();
                out.push(CmapToken::Hex(bytes));
                i = end + 1;
            }
            b'[' => {
                out.push(CmapToken::ArrayStart);
                i += 1;
            }
            b']' => {
                out.push(CmapToken::ArrayEnd);
                i += 1;
            }
            c if c.is_ascii_alphabetic() => {
                let end = text[i..]
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .map_or(b.len(), |e| i + e);
                out.push(CmapToken::Word(&text[i..end]));
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

fn code(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(4)
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
}

fn utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|p| u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_unicode_forms() {
        let cmap = b"2 beginbfchar\n<0003> <0020>\n<0011> <1EC7>\nendbfchar\n\
            1 beginbfrange\n<0020> <0022> <0041>\nendbfrange\n\
            1 beginbfrange\n<0030> <0031> [<0110> <00F4>]\nendbfrange\n";
        let m = parse_to_unicode(cmap);
        assert_eq!(m[&0x11], "ệ");
        assert_eq!(m[&0x22], "C");
        assert_eq!(m[&0x31], "ô");
    }

    #[test]
    fn finds_the_last_occurrence_ignoring_spaces() {
        let chars: Vec<PageChar> = "AbAb"
            .chars()
            .enumerate()
            .map(|(i, ch)| PageChar {
                ch,
                bbox: [i as f32 * 10.0, 0.0, i as f32 * 10.0 + 10.0, 12.0],
            })
            .collect();
        assert_eq!(find(&chars, "A b"), Some([20.0, 0.0, 40.0, 12.0]));
        assert_eq!(find(&chars, "x"), None);
    }

    #[test]
    fn matrices_compose_in_pdf_order() {
        let scale = Matrix([2.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        let shift = Matrix([1.0, 0.0, 0.0, 1.0, 5.0, 0.0]);
        // Shift first, then scale: (1,0) → (6,0) → (12,0).
        assert_eq!(shift.then(&scale).apply(1.0, 0.0), (12.0, 0.0));
    }
}
