//! Lazy access to an existing PDF: the trailer, the cross-reference data and
//! the handful of objects an incremental update touches.
//!
//! lopdf loads and parses every object of a file up front (about 4 bytes of RAM
//! per byte of PDF), so it is used here only to parse the bytes of single
//! objects, which [`parse_object`] hands to it. Locating those bytes — the
//! `startxref` pointer, classic xref tables, xref streams, object streams — is
//! done here with positional reads. A file whose cross-reference data does not
//! lead to the objects it names is refused rather than rebuilt by scanning:
//! signing a rebuilt file would sign something other than what the viewer
//! showed the user.

use std::collections::{HashMap, HashSet};
use std::fs::File;

use lopdf::{Dictionary, Object, ObjectId, ObjectStream, Stream};

use super::lexer::{self, Cursor, Token};
use super::source::Source;
use super::Error;

/// How far from the end of the file `startxref` may sit. Producers that append
/// junk after `%%EOF` rarely add more than a few bytes; 1 MiB is generous.
const TAIL_WINDOW: usize = 1 << 20;
/// The largest single object (or xref table) read into memory.
const MAX_OBJECT_BYTES: usize = 64 << 20;
/// The largest decoded object stream or xref stream.
const MAX_DECODED_STREAM: usize = 64 << 20;

/// The kind of the newest cross-reference section. An update must use the same
/// kind: a classic table whose `/Prev` is an xref stream hangs some viewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrefKind {
    /// A classic `xref` table (hybrid files included).
    Table,
    /// A cross-reference stream (PDF 1.5+).
    Stream,
}

#[derive(Debug, Clone, Copy)]
enum Entry {
    InFile { offset: u64, gen: u16 },
    InStream { stream: u32 },
}

/// An existing PDF opened for an incremental update.
pub struct Document {
    src: Source,
    entries: HashMap<u32, Entry>,
    trailer: Dictionary,
    kind: XrefKind,
    startxref: u64,
    /// The source text of every object read so far, by number. Objects are
    /// parsed from it on demand and updated objects are edited from it.
    raw: HashMap<u32, Vec<u8>>,
    next_free: Option<u32>,
}

impl Document {
    /// Opens `file` and reads its cross-reference chain. Refuses files that are
    /// not PDFs, truncated, damaged or encrypted.
    pub fn open(file: File) -> Result<Self, Error> {
        let src = Source::new(file)?;
        check_header(&src)?;
        let startxref = find_startxref(&src)?;
        let mut doc = Document {
            src,
            entries: HashMap::new(),
            trailer: Dictionary::new(),
            kind: XrefKind::Table,
            startxref,
            raw: HashMap::new(),
            next_free: None,
        };
        doc.load_xref_chain()?;
        if doc.trailer.has(b"Encrypt") {
            return Err(Error::Encrypted);
        }
        Ok(doc)
    }

    /// The length of the original file in bytes.
    pub fn len(&self) -> u64 {
        self.src.len()
    }

    /// Whether the file is empty (never true for an opened document).
    pub fn is_empty(&self) -> bool {
        self.src.len() == 0
    }

    pub(crate) fn file(&self) -> &File {
        self.src.file()
    }

    pub(crate) fn last_byte(&self) -> std::io::Result<Option<u8>> {
        Ok(self
            .src
            .read(self.src.len().saturating_sub(1), 1)?
            .first()
            .copied())
    }

    /// The trailer dictionary of the newest section.
    pub fn trailer(&self) -> &Dictionary {
        &self.trailer
    }

    /// The kind of the newest cross-reference section.
    pub fn xref_kind(&self) -> XrefKind {
        self.kind
    }

    /// The offset that the last `startxref` names: the `/Prev` of an update.
    pub fn startxref(&self) -> u64 {
        self.startxref
    }

    /// The first object number free for new objects.
    pub fn next_object_number(&self) -> u32 {
        let size = self
            .trailer
            .get(b"Size")
            .and_then(Object::as_i64)
            .ok()
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(0);
        let max_used = self.entries.keys().copied().max().map_or(0, |m| m + 1);
        size.max(max_used)
    }

    /// Reserves a new object number for an object the update will add.
    pub fn allocate(&mut self) -> ObjectId {
        let id = self.next_free.unwrap_or_else(|| self.next_object_number());
        self.next_free = Some(id + 1);
        (id, 0)
    }

    /// The first object number not yet allocated.
    pub(crate) fn next_unallocated(&self) -> u32 {
        self.next_free.unwrap_or_else(|| self.next_object_number())
    }

    /// Reads stream object `id` with its raw (still encoded) data, for
    /// callers that need a page's content or an image.
    pub fn stream(&mut self, id: u32) -> Result<Stream, Error> {
        let Some(Entry::InFile { offset, .. }) = self.entries.get(&id).copied() else {
            return Err(Error::BrokenXref(format!(
                "object {id} is not a stream in the file"
            )));
        };
        let ind = self.read_indirect(offset, Some(id))?;
        let (Some(data_at), Object::Dictionary(dict)) = (ind.stream_data, ind.object) else {
            return Err(Error::BrokenXref(format!("object {id} is not a stream")));
        };
        let length = self.stream_length(&dict, id)?;
        let data = self.read_stream_data(data_at, length)?;
        Ok(Stream::new(dict, data))
    }

    fn stream_length(&mut self, dict: &Dictionary, id: u32) -> Result<usize, Error> {
        match dict.get(b"Length") {
            Ok(Object::Reference((lid, _))) => {
                let lid = *lid;
                self.object(lid)?.as_i64().ok()
            }
            Ok(o) => o.as_i64().ok(),
            Err(_) => None,
        }
        .and_then(|l| usize::try_from(l).ok())
        .ok_or_else(|| Error::BrokenXref(format!("stream {id} has no /Length")))
    }

    /// The generation number to use when writing a new version of `id`.
    pub fn generation(&self, id: u32) -> u16 {
        match self.entries.get(&id) {
            Some(Entry::InFile { gen, .. }) => *gen,
            _ => 0,
        }
    }

    /// Reads object `id`. For a stream only the dictionary is returned.
    pub fn object(&mut self, id: u32) -> Result<Object, Error> {
        match self.raw_body(id)? {
            None => Ok(Object::Null),
            Some(raw) => parse_object(&raw)
                .ok_or_else(|| Error::BrokenXref(format!("object {id} cannot be parsed"))),
        }
    }

    /// The source text of object `id` (for a stream, its dictionary), or
    /// `None` for an object the file does not have.
    pub(crate) fn raw_body(&mut self, id: u32) -> Result<Option<Vec<u8>>, Error> {
        if let Some(raw) = self.raw.get(&id) {
            return Ok(Some(raw.clone()));
        }
        match self.entries.get(&id).copied() {
            None => return Ok(None),
            Some(Entry::InFile { offset, .. }) => {
                let ind = self.read_indirect(offset, Some(id))?;
                self.raw.insert(id, ind.raw);
            }
            Some(Entry::InStream { stream }) => {
                for (oid, raw) in self.load_object_stream(stream)? {
                    // A newer revision may hold a newer version elsewhere.
                    if matches!(self.entries.get(&oid), Some(Entry::InStream { stream: s }) if *s == stream)
                    {
                        self.raw.entry(oid).or_insert(raw);
                    }
                }
            }
        }
        Ok(self.raw.get(&id).cloned())
    }

    /// Follows references until a direct object is reached.
    pub fn resolve(&mut self, obj: &Object) -> Result<Object, Error> {
        let mut current = obj.clone();
        for _ in 0..32 {
            match current {
                Object::Reference((id, _)) => current = self.object(id)?,
                other => return Ok(other),
            }
        }
        Err(Error::BrokenXref("reference chain too long".into()))
    }

    /// Resolves `obj` and requires a dictionary.
    pub fn resolve_dict(&mut self, obj: &Object, what: &str) -> Result<Dictionary, Error> {
        match self.resolve(obj)? {
            Object::Dictionary(d) => Ok(d),
            Object::Stream(s) => Ok(s.dict),
            _ => Err(Error::BrokenXref(format!("{what} is not a dictionary"))),
        }
    }

    /// The document catalog.
    pub fn catalog(&mut self) -> Result<(ObjectId, Dictionary), Error> {
        let root = self
            .trailer
            .get(b"Root")
            .and_then(Object::as_reference)
            .map_err(|_| Error::BrokenXref("the trailer has no /Root".into()))?;
        let dict = self.resolve_dict(&Object::Reference(root), "the catalog")?;
        Ok((root, dict))
    }

    fn load_xref_chain(&mut self) -> Result<(), Error> {
        let mut next = Some(self.startxref);
        let mut seen = HashSet::new();
        let mut newest = true;
        while let Some(offset) = next {
            if !seen.insert(offset) {
                return Err(Error::BrokenXref("the /Prev chain loops".into()));
            }
            if offset >= self.src.len() {
                return Err(Error::BrokenXref(format!(
                    "xref offset {offset} is past the end of the file"
                )));
            }
            let head = self.src.read(offset, 32)?;
            let mut c = Cursor::new(&head);
            let (trailer, kind) = if c.keyword(b"xref").is_some() {
                let trailer = self.read_xref_table(offset)?;
                if let Ok(stm) = trailer.get(b"XRefStm").and_then(Object::as_i64) {
                    // Hybrid file: objects the table lists as free or omits are
                    // found in this stream, so it is read right after its table.
                    let stm =
                        u64::try_from(stm).map_err(|_| Error::BrokenXref("bad /XRefStm".into()))?;
                    self.read_xref_stream(stm)?;
                }
                (trailer, XrefKind::Table)
            } else {
                (self.read_xref_stream(offset)?, XrefKind::Stream)
            };
            next = match trailer.get(b"Prev").and_then(Object::as_i64) {
                Ok(p) => Some(u64::try_from(p).map_err(|_| Error::BrokenXref("bad /Prev".into()))?),
                Err(_) => None,
            };
            if newest {
                self.trailer = trailer;
                self.kind = kind;
                newest = false;
            }
        }
        if self.entries.is_empty() {
            return Err(Error::BrokenXref(
                "the cross-reference data lists no objects".into(),
            ));
        }
        Ok(())
    }

    /// Parses a classic table at `offset` and returns its trailer. Newer
    /// sections were read first, so an entry already known is kept.
    fn read_xref_table(&mut self, offset: u64) -> Result<Dictionary, Error> {
        let mut window = 64 << 10;
        loop {
            let buf = self.src.read(offset, window)?;
            let at_eof = buf.len() < window;
            match parse_xref_table(&buf) {
                Some((entries, trailer)) => {
                    for (id, entry) in entries {
                        self.entries.entry(id).or_insert(entry);
                    }
                    return Ok(trailer);
                }
                None if at_eof || window >= MAX_OBJECT_BYTES => {
                    return Err(Error::BrokenXref(format!(
                        "unreadable xref table at offset {offset}"
                    )));
                }
                None => window *= 4,
            }
        }
    }

    /// Parses an xref stream at `offset` and returns its dictionary.
    fn read_xref_stream(&mut self, offset: u64) -> Result<Dictionary, Error> {
        let ind = self.read_indirect(offset, None).map_err(|_| {
            Error::BrokenXref(format!("no cross-reference section at offset {offset}"))
        })?;
        let Some(data_at) = ind.stream_data else {
            return Err(Error::BrokenXref(format!(
                "no cross-reference section at offset {offset}"
            )));
        };
        let Object::Dictionary(dict) = ind.object else {
            return Err(Error::BrokenXref("xref stream without dictionary".into()));
        };
        if dict.get(b"Type").and_then(Object::as_name).ok() != Some(b"XRef") {
            return Err(Error::BrokenXref(format!(
                "no cross-reference section at offset {offset}"
            )));
        }
        let length = dict
            .get(b"Length")
            .and_then(Object::as_i64)
            .ok()
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| Error::BrokenXref("xref stream without a direct /Length".into()))?;
        let data = self.read_stream_data(data_at, length)?;
        let decoded = decode_stream(dict.clone(), data)?;
        for (id, entry) in parse_xref_stream(&dict, &decoded)? {
            self.entries.entry(id).or_insert(entry);
        }
        Ok(dict)
    }

    fn read_stream_data(&self, at: u64, length: usize) -> Result<Vec<u8>, Error> {
        if length > MAX_OBJECT_BYTES {
            return Err(Error::Unsupported(format!("a {length}-byte object stream")));
        }
        let data = self.src.read(at, length)?;
        if data.len() < length {
            return Err(Error::Truncated("a stream runs past the end of the file"));
        }
        Ok(data)
    }

    /// Splits object stream `id` into the source text of its objects.
    fn load_object_stream(&mut self, id: u32) -> Result<Vec<(u32, Vec<u8>)>, Error> {
        let stream = self.stream(id)?;
        let bad = |what: &str| Error::BrokenXref(format!("object stream {id}: {what}"));
        let first = stream
            .dict
            .get(b"First")
            .and_then(Object::as_i64)
            .ok()
            .and_then(|f| usize::try_from(f).ok())
            .ok_or_else(|| bad("no /First"))?;
        let n = stream
            .dict
            .get(b"N")
            .and_then(Object::as_i64)
            .map_err(|_| bad("no /N"))?;
        let data = decode_stream(stream.dict.clone(), stream.content)?;
        let header = data
            .get(..first)
            .ok_or_else(|| bad("/First is past the end"))?;
        let mut c = Cursor::new(header);
        let mut index = Vec::new();
        for _ in 0..n {
            let (Some(oid), Some(off)) = (c.integer(), c.integer()) else {
                return Err(bad("bad index"));
            };
            let oid = u32::try_from(oid).map_err(|_| bad("object number"))?;
            index.push((oid, first + off as usize));
        }
        let mut by_offset = index.clone();
        by_offset.sort_by_key(|&(_, off)| off);
        let mut out = Vec::with_capacity(index.len());
        for (i, &(oid, start)) in by_offset.iter().enumerate() {
            let end = by_offset.get(i + 1).map_or(data.len(), |&(_, o)| o);
            let body = data
                .get(start..end)
                .ok_or_else(|| bad("offset past the end"))?;
            out.push((oid, trim(body).to_vec()));
        }
        Ok(out)
    }

    /// Reads `N G obj … endobj` at `offset`, growing the window as needed.
    fn read_indirect(&self, offset: u64, expect: Option<u32>) -> Result<Indirect, Error> {
        let mut window = 16 << 10;
        loop {
            let buf = self.src.read(offset, window)?;
            let at_eof = buf.len() < window;
            let mut c = Cursor::new(&buf);
            let header = (|| {
                let id = c.integer()?;
                let _gen = c.integer()?;
                c.keyword(b"obj")?;
                Some(id)
            })();
            let Some(id) = header else {
                return Err(Error::BrokenXref(format!("no object at offset {offset}")));
            };
            if let Some(want) = expect {
                if id != u64::from(want) {
                    return Err(Error::BrokenXref(format!(
                        "the xref says object {want} is at offset {offset}, but object {id} is there"
                    )));
                }
            }
            match c.object_body() {
                Some((span, is_stream)) => {
                    let raw = buf[span].to_vec();
                    let object = parse_object(&raw).ok_or_else(|| {
                        Error::BrokenXref(format!("object at offset {offset} cannot be parsed"))
                    })?;
                    let stream_data = if is_stream {
                        let start = c.stream_data_start().ok_or_else(|| {
                            Error::BrokenXref(format!("bad stream keyword at offset {offset}"))
                        })?;
                        Some(offset + start as u64)
                    } else {
                        None
                    };
                    return Ok(Indirect {
                        object,
                        raw,
                        stream_data,
                    });
                }
                None if at_eof => {
                    return Err(Error::Truncated("an object runs past the end of the file"))
                }
                None if window >= MAX_OBJECT_BYTES => {
                    return Err(Error::Unsupported(format!(
                        "an object larger than {MAX_OBJECT_BYTES} bytes"
                    )))
                }
                None => window *= 4,
            }
        }
    }
}

struct Indirect {
    object: Object,
    raw: Vec<u8>,
    /// Where the stream data starts, for a stream object.
    stream_data: Option<u64>,
}

/// Parses the bytes of one direct object with lopdf. lopdf keeps its object
/// parser private; its object-stream parser is the public way in, so the bytes
/// are wrapped in a one-object, uncompressed object stream.
pub(crate) fn parse_object(bytes: &[u8]) -> Option<Object> {
    let mut content = b"1 0\n".to_vec();
    let first = content.len() as i64;
    content.extend_from_slice(bytes);
    content.push(b'\n');
    let mut dict = Dictionary::new();
    dict.set("N", 1);
    dict.set("First", first);
    let stream = ObjectStream::new(&Stream::new(dict, content)).ok()?;
    stream.objects.into_iter().next().map(|(_, o)| o)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| !lexer::is_space(c))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| !lexer::is_space(c))
        .map_or(start, |e| e + 1);
    &b[start..end]
}

fn decode_stream(dict: Dictionary, data: Vec<u8>) -> Result<Vec<u8>, Error> {
    let stream = Stream::new(dict, data);
    if stream.filters().map(|f| f.is_empty()).unwrap_or(true) {
        return Ok(stream.content);
    }
    stream
        .decompressed_content_with_limit(MAX_DECODED_STREAM)
        .map_err(|e| Error::BrokenXref(format!("cannot decode xref stream: {e}")))
}

fn check_header(src: &Source) -> Result<(), Error> {
    let head = src.read(0, 1024)?;
    match lexer::find(&head, b"%PDF-") {
        Some(_) => Ok(()),
        None => Err(Error::NotPdf),
    }
}

fn find_startxref(src: &Source) -> Result<u64, Error> {
    let len = src.len();
    let start = len.saturating_sub(TAIL_WINDOW as u64);
    let tail = src.read(start, TAIL_WINDOW)?;
    let at = lexer::rfind(&tail, b"startxref")
        .ok_or(Error::Truncated("no startxref at the end of the file"))?;
    let after = &tail[at + b"startxref".len()..];
    let mut c = Cursor::new(after);
    let offset = c
        .integer()
        .ok_or(Error::Truncated("startxref has no offset"))?;
    if lexer::find(&after[c.pos()..], b"%%EOF").is_none() {
        return Err(Error::Truncated("no %%EOF after startxref"));
    }
    Ok(offset)
}

type XrefEntries = Vec<(u32, Entry)>;

fn parse_xref_table(buf: &[u8]) -> Option<(XrefEntries, Dictionary)> {
    let mut c = Cursor::new(buf);
    c.keyword(b"xref")?;
    let mut entries = Vec::new();
    loop {
        if c.keyword(b"trailer").is_some() {
            break;
        }
        let first = u32::try_from(c.integer()?).ok()?;
        let count = u32::try_from(c.integer()?).ok()?;
        for i in 0..count {
            let offset = c.integer()?;
            let gen = u16::try_from(c.integer()?).ok()?;
            match c.token()? {
                Token::Word(b"n") => {
                    entries.push((first.checked_add(i)?, Entry::InFile { offset, gen }))
                }
                Token::Word(b"f") => {}
                _ => return None,
            }
        }
    }
    let span = c.container_span()?;
    match parse_object(&buf[span])? {
        Object::Dictionary(d) => Some((entries, d)),
        _ => None,
    }
}

fn parse_xref_stream(dict: &Dictionary, data: &[u8]) -> Result<XrefEntries, Error> {
    let bad = |what: &str| Error::BrokenXref(format!("xref stream: {what}"));
    let widths: Vec<usize> = dict
        .get(b"W")
        .and_then(Object::as_array)
        .map_err(|_| bad("no /W"))?
        .iter()
        .map(|w| {
            w.as_i64()
                .ok()
                .and_then(|w| usize::try_from(w).ok())
                .filter(|w| *w <= 8)
        })
        .collect::<Option<_>>()
        .ok_or_else(|| bad("bad /W"))?;
    let [w0, w1, w2] = widths[..] else {
        return Err(bad("/W needs three widths"));
    };
    let row = w0 + w1 + w2;
    if row == 0 {
        return Err(bad("empty rows"));
    }
    let size = dict
        .get(b"Size")
        .and_then(Object::as_i64)
        .map_err(|_| bad("no /Size"))?;
    let index: Vec<i64> = match dict.get(b"Index").and_then(Object::as_array) {
        Ok(a) => a
            .iter()
            .map(|o| o.as_i64().ok())
            .collect::<Option<_>>()
            .ok_or_else(|| bad("bad /Index"))?,
        Err(_) => vec![0, size],
    };
    let field = |bytes: &[u8]| bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let mut rows = data.chunks_exact(row);
    let mut entries = Vec::new();
    for pair in index.chunks(2) {
        let [first, count] = *pair else {
            return Err(bad("odd /Index"));
        };
        for i in 0..count {
            let r = rows
                .next()
                .ok_or_else(|| bad("fewer rows than /Index says"))?;
            let kind = if w0 == 0 { 1 } else { field(&r[..w0]) };
            let f1 = field(&r[w0..w0 + w1]);
            let f2 = field(&r[w0 + w1..]);
            let id = u32::try_from(first + i).map_err(|_| bad("object number out of range"))?;
            match kind {
                1 => entries.push((
                    id,
                    Entry::InFile {
                        offset: f1,
                        gen: u16::try_from(f2).unwrap_or(0),
                    },
                )),
                2 => entries.push((
                    id,
                    Entry::InStream {
                        stream: u32::try_from(f1).map_err(|_| bad("object stream number"))?,
                    },
                )),
                _ => {}
            }
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_object_via_lopdf() {
        let o = parse_object(b"<< /Type /Catalog /Pages 2 0 R /Names [(a) 1.5] >>").unwrap();
        let d = o.as_dict().unwrap();
        assert_eq!(d.get(b"Pages").unwrap().as_reference().unwrap(), (2, 0));
        assert!(parse_object(b"<< /Broken ").is_none());
    }

    #[test]
    fn classic_table_with_free_entries() {
        let t = b"xref\n0 3\n0000000000 65535 f\r\n0000000015 00000 n\r\n0000000099 00001 n\r\ntrailer\n<< /Size 3 /Root 1 0 R >>\nstartxref";
        let (entries, trailer) = parse_xref_table(t).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(matches!(
            entries[1],
            (2, Entry::InFile { offset: 99, gen: 1 })
        ));
        assert_eq!(trailer.get(b"Size").unwrap().as_i64().unwrap(), 3);
    }

    #[test]
    fn truncated_table_asks_for_more() {
        let t = b"xref\n0 3\n0000000000 65535 f\r\n0000000015 00000 n\r\n";
        assert!(parse_xref_table(t).is_none());
    }
}
