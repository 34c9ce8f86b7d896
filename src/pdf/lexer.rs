//! A bounded byte cursor over PDF syntax.
//!
//! lopdf parses objects well but only after reading the whole file, which a
//! 200 MB scan cannot afford. This lexer does the few things lopdf cannot do
//! lazily: find where one object ends so that exactly its bytes can be handed
//! to lopdf's parser, and read the integers of a classic xref table. Every
//! method returns `None` when it runs out of bytes, so the caller can read a
//! larger window or report the file as damaged; nothing here panics on input.

/// PDF white-space characters (ISO 32000-1, 7.2.2).
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'\0')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// One lexical token, without its value: the callers only need its kind and span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    DictOpen,
    DictClose,
    ArrayOpen,
    ArrayClose,
    String,
    HexString,
    Name,
    /// A number, `R`, `true`, `obj`, `stream`, … : a run of regular characters.
    Word(&'a [u8]),
}

/// A cursor over a window of the file.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Skips white space and comments.
    pub(crate) fn skip_space(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            if is_space(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(&c) = self.buf.get(self.pos) {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// Reads the next token, or `None` at the end of the window or on a byte
    /// that cannot start a token (an unbalanced `)` or `>`).
    pub(crate) fn token(&mut self) -> Option<Token<'a>> {
        self.skip_space();
        let start = self.pos;
        let b = *self.buf.get(start)?;
        match b {
            b'<' if self.buf.get(start + 1) == Some(&b'<') => {
                self.pos += 2;
                Some(Token::DictOpen)
            }
            b'>' if self.buf.get(start + 1) == Some(&b'>') => {
                self.pos += 2;
                Some(Token::DictClose)
            }
            b'[' => {
                self.pos += 1;
                Some(Token::ArrayOpen)
            }
            b']' => {
                self.pos += 1;
                Some(Token::ArrayClose)
            }
            b'<' => {
                let end = self.buf[start..].iter().position(|&c| c == b'>')?;
                self.pos = start + end + 1;
                Some(Token::HexString)
            }
            b'(' => {
                self.skip_literal_string()?;
                Some(Token::String)
            }
            b'/' => {
                self.pos += 1;
                self.skip_regular();
                Some(Token::Name)
            }
            b')' | b'>' | b'{' | b'}' => None,
            _ => {
                self.skip_regular();
                Some(Token::Word(&self.buf[start..self.pos]))
            }
        }
    }

    fn skip_regular(&mut self) {
        while let Some(&c) = self.buf.get(self.pos) {
            if is_space(c) || is_delimiter(c) {
                break;
            }
            self.pos += 1;
        }
    }

    fn skip_literal_string(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            let c = *self.buf.get(self.pos)?;
            self.pos += 1;
            match c {
                b'\\' => self.pos += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads the next token with its byte span.
    pub(crate) fn token_span(&mut self) -> Option<(Token<'a>, std::ops::Range<usize>)> {
        self.skip_space();
        let start = self.pos;
        let t = self.token()?;
        Some((t, start..self.pos))
    }

    /// Skips one complete direct object (a reference `n g R` counts as one)
    /// and returns its span.
    pub(crate) fn value_span(&mut self) -> Option<std::ops::Range<usize>> {
        self.skip_space();
        let start = self.pos;
        match self.buf.get(start)? {
            b'[' => return self.container_span(),
            b'<' if self.buf.get(start + 1) == Some(&b'<') => return self.container_span(),
            _ => {}
        }
        let first = self.token()?;
        let end = self.pos;
        if let Token::Word(w) = first {
            if !w.is_empty() && w.iter().all(u8::is_ascii_digit) {
                // Maybe `n g R`: look ahead without committing.
                let save = self.pos;
                if self.integer().is_some() && self.keyword(b"R").is_some() {
                    return Some(start..self.pos);
                }
                self.pos = save;
            }
        }
        Some(start..end)
    }
    pub(crate) fn integer(&mut self) -> Option<u64> {
        match self.token()? {
            Token::Word(w) if !w.is_empty() && w.iter().all(u8::is_ascii_digit) => {
                std::str::from_utf8(w).ok()?.parse().ok()
            }
            _ => None,
        }
    }

    /// Consumes `word` if it is the next token.
    pub(crate) fn keyword(&mut self, word: &[u8]) -> Option<()> {
        let save = self.pos;
        match self.token() {
            Some(Token::Word(w)) if w == word => Some(()),
            _ => {
                self.pos = save;
                None
            }
        }
    }

    /// Skips one complete dictionary or array and returns its byte span.
    pub(crate) fn container_span(&mut self) -> Option<std::ops::Range<usize>> {
        self.skip_space();
        let start = self.pos;
        let mut depth = 0usize;
        loop {
            match self.token()? {
                Token::DictOpen | Token::ArrayOpen => depth += 1,
                Token::DictClose | Token::ArrayClose => {
                    depth = depth.checked_sub(1)?;
                }
                _ => {}
            }
            if depth == 0 {
                return Some(start..self.pos);
            }
        }
    }

    /// Skips the body of an indirect object up to `endobj` or `stream` at the
    /// top level. Returns the body span and whether a stream follows.
    pub(crate) fn object_body(&mut self) -> Option<(std::ops::Range<usize>, bool)> {
        self.skip_space();
        let start = self.pos;
        let mut depth = 0usize;
        loop {
            let before = self.pos;
            match self.token()? {
                Token::DictOpen | Token::ArrayOpen => depth += 1,
                Token::DictClose | Token::ArrayClose => depth = depth.checked_sub(1)?,
                Token::Word(b"endobj") if depth == 0 => return Some((start..before, false)),
                Token::Word(b"stream") if depth == 0 => return Some((start..before, true)),
                _ => {}
            }
        }
    }

    /// After the `stream` keyword: skips the single end-of-line and returns the
    /// offset where the stream data starts.
    pub(crate) fn stream_data_start(&self) -> Option<usize> {
        let mut p = self.pos;
        match self.buf.get(p)? {
            b'\r' => {
                p += 1;
                if self.buf.get(p) == Some(&b'\n') {
                    p += 1;
                }
            }
            b'\n' => p += 1,
            _ => return None,
        }
        Some(p)
    }
}

/// Finds the last occurrence of `needle` in `hay`.
pub(crate) fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

/// Finds the first occurrence of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_body_stops_at_endobj_outside_strings() {
        let src = b"<< /A (endobj) /B [1 2 (x\\)y)] /C <656e646f626a> >>\nendobj";
        let mut c = Cursor::new(src);
        let (span, stream) = c.object_body().unwrap();
        assert!(!stream);
        assert_eq!(
            &src[span],
            &b"<< /A (endobj) /B [1 2 (x\\)y)] /C <656e646f626a> >>"[..]
        );
    }

    #[test]
    fn object_body_reports_stream() {
        let src = b"<< /Length 3 >>\nstream\r\nabc\nendstream endobj";
        let mut c = Cursor::new(src);
        let (span, stream) = c.object_body().unwrap();
        assert!(stream);
        assert_eq!(&src[span], b"<< /Length 3 >>");
        assert_eq!(c.stream_data_start(), Some(24));
    }

    #[test]
    fn incomplete_input_gives_none() {
        assert!(Cursor::new(b"<< /A (unterminated").object_body().is_none());
        assert!(Cursor::new(b"<< /A [1 2").container_span().is_none());
        assert!(Cursor::new(b">> endobj").object_body().is_none());
    }

    #[test]
    fn nested_parentheses_and_comments() {
        let src = b"<< /A (a (b) c) % comment >> here\n /B 1 >> endobj";
        let mut c = Cursor::new(src);
        let span = c.container_span().unwrap();
        assert_eq!(&src[span], &src[..src.len() - 7]);
    }
}
