//! Edits the source text of a dictionary or array, keeping every byte it
//! does not change.
//!
//! lopdf stores reals as `f32`, so re-serialising a parsed page would turn
//! `595.303937007874` into `595.30396`. A validator comparing revisions
//! (pyHanko does) then sees a changed `/MediaBox` and rejects the earlier
//! signatures. Updated objects are therefore written as their original text
//! with only the one entry changed.

use std::ops::Range;

use super::lexer::{Cursor, Token};

/// The source text of one dictionary, `<< … >>`.
pub(crate) struct RawDict {
    text: Vec<u8>,
}

impl RawDict {
    /// Wraps `text`, which must hold exactly one dictionary.
    pub(crate) fn new(text: &[u8]) -> Option<Self> {
        let mut c = Cursor::new(text);
        let span = c.container_span()?;
        let text = text[span].to_vec();
        if !text.starts_with(b"<<") {
            return None;
        }
        Some(RawDict { text })
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.text
    }

    /// The span of `key`'s value, if present at the top level.
    pub(crate) fn value_span(&self, key: &[u8]) -> Option<Range<usize>> {
        let mut c = Cursor::new(&self.text);
        c.token()?; // <<
        loop {
            let (tok, span) = c.token_span()?;
            match tok {
                Token::DictClose => return None,
                Token::Name => {
                    let name = &self.text[span.start + 1..span.end];
                    let value = c.value_span()?;
                    if decode_name(name) == key {
                        return Some(value);
                    }
                }
                _ => return None,
            }
        }
    }

    /// The raw text of `key`'s value.
    pub(crate) fn value(&self, key: &[u8]) -> Option<&[u8]> {
        self.value_span(key).map(|s| &self.text[s])
    }

    /// Sets `key` to `value` (already serialised), replacing an existing value.
    pub(crate) fn set(&mut self, key: &[u8], value: &[u8]) {
        match self.value_span(key) {
            Some(span) => {
                self.text.splice(span, value.iter().copied());
            }
            None => {
                let close = self.text.len() - 2;
                let mut entry = Vec::with_capacity(key.len() + value.len() + 3);
                entry.push(b'/');
                entry.extend_from_slice(key);
                entry.push(b' ');
                entry.extend_from_slice(value);
                entry.push(b' ');
                if !matches!(self.text[close - 1], b' ' | b'\n' | b'\r' | b'\t') {
                    entry.insert(0, b' ');
                }
                self.text.splice(close..close, entry);
            }
        }
    }
}

/// Appends `item` (already serialised) to the array whose text is `array`.
pub(crate) fn append_to_array(array: &[u8], item: &[u8]) -> Option<Vec<u8>> {
    let mut c = Cursor::new(array);
    let span = c.container_span()?;
    let text = &array[span];
    if !text.starts_with(b"[") {
        return None;
    }
    let close = text.len() - 1;
    let mut out = text[..close].to_vec();
    if !matches!(out.last(), Some(b' ' | b'[' | b'\n' | b'\r' | b'\t')) {
        out.push(b' ');
    }
    out.extend_from_slice(item);
    out.push(b']');
    Some(out)
}

/// Decodes `#xx` escapes in a name.
fn decode_name(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'#' && i + 2 < raw.len() {
            if let Ok(b) =
                u8::from_str_radix(std::str::from_utf8(&raw[i + 1..i + 3]).unwrap_or("zz"), 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &[u8] = b"<</Type/Page/MediaBox[0 0 595.303937007874 841.889763779528]/Parent 2 0 R\n/Contents 4 0 R>>";

    #[test]
    fn adds_a_key_and_keeps_every_other_byte() {
        let mut d = RawDict::new(PAGE).unwrap();
        d.set(b"Annots", b"[9 0 R]");
        let out = d.into_bytes();
        assert_eq!(
            out,
            b"<</Type/Page/MediaBox[0 0 595.303937007874 841.889763779528]/Parent 2 0 R\n/Contents 4 0 R /Annots [9 0 R] >>"
        );
        assert!(crate::pdf::reader::parse_object(&out).is_some());
    }

    #[test]
    fn finds_values_of_every_kind() {
        let d = RawDict::new(PAGE).unwrap();
        assert_eq!(d.value(b"Parent"), Some(&b"2 0 R"[..]));
        assert_eq!(
            d.value(b"MediaBox"),
            Some(&b"[0 0 595.303937007874 841.889763779528]"[..])
        );
        assert_eq!(d.value(b"Type"), Some(&b"/Page"[..]));
        assert_eq!(d.value(b"Annots"), None);
    }

    #[test]
    fn replaces_a_value() {
        let mut d = RawDict::new(b"<< /SigFlags 1 /Fields [1 0 R] /DA (/Helv 0 Tf) >>").unwrap();
        d.set(b"SigFlags", b"3");
        assert_eq!(
            d.into_bytes(),
            b"<< /SigFlags 3 /Fields [1 0 R] /DA (/Helv 0 Tf) >>"
        );
    }

    #[test]
    fn appends_to_arrays() {
        assert_eq!(
            append_to_array(b"[1 0 R 2 0 R]", b"7 0 R").unwrap(),
            b"[1 0 R 2 0 R 7 0 R]"
        );
        assert_eq!(append_to_array(b"[]", b"7 0 R").unwrap(), b"[7 0 R]");
        assert!(append_to_array(b"<< >>", b"7 0 R").is_none());
    }

    #[test]
    fn escaped_names_match() {
        let d = RawDict::new(b"<< /Ann#6fts [1 0 R] >>").unwrap();
        assert_eq!(d.value(b"Annots"), Some(&b"[1 0 R]"[..]));
    }
}
