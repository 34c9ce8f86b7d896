//! Hand-written PDF bytes: an incremental update appended to an existing
//! file, and a small hybrid-reference file.

use std::collections::BTreeMap;

/// What the last cross-reference section of a file says about it.
struct LastXref {
    /// Offset of that section (the value after the last `startxref`).
    offset: usize,
    /// It is a cross-reference stream (else a classic `xref` table).
    is_stream: bool,
    /// Its trailer dictionary (for a stream: the stream's dictionary).
    dict: String,
}

fn last_xref(pdf: &[u8]) -> LastXref {
    let at = rfind(pdf, b"startxref").expect("input has no startxref");
    let offset: usize = parse_leading_int(&pdf[at + b"startxref".len()..])
        .expect("startxref is not followed by a number");
    let section = pdf.get(offset..).expect("startxref points past the end");
    let is_stream = !section.starts_with(b"xref");
    let dict_bytes = if is_stream {
        let end = find(section, b"stream").expect("xref stream has no 'stream' keyword");
        &section[..end]
    } else {
        let start = find(section, b"trailer").expect("xref table has no trailer");
        let end = find(&section[start..], b"startxref").map_or(section.len(), |e| start + e);
        &section[start..end]
    };
    LastXref {
        offset,
        is_stream,
        dict: String::from_utf8_lossy(dict_bytes).into_owned(),
    }
}

/// Text of the value after `/Key` in a dictionary: a reference `N G R`, a
/// number, or a `[...]` array (enough for trailer entries).
fn dict_value(dict: &str, key: &str) -> Option<String> {
    let mut search = 0;
    while let Some(pos) = dict[search..].find(key) {
        let after = search + pos + key.len();
        let next = dict[after..].chars().next();
        if next.is_some_and(|c| c.is_ascii_alphanumeric()) {
            search = after; // a longer name, e.g. /Sizes for /Size
            continue;
        }
        let rest = dict[after..].trim_start();
        if rest.starts_with('[') {
            let end = rest.find(']')?;
            return Some(rest[..=end].to_string());
        }
        let tokens: Vec<&str> = rest.split_whitespace().take(3).collect();
        if tokens.len() == 3 && tokens[2].starts_with('R') {
            return Some(format!("{} {} R", tokens[0], tokens[1]));
        }
        let number: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        return (!number.is_empty()).then_some(number);
    }
    None
}

/// Returns `pdf` with one incremental update appended: a new Info
/// dictionary (object number = old /Size) and a cross-reference section
/// chaining to the previous one via /Prev. The section is a classic
/// `xref` table + trailer if the previous one was classic, else an
/// uncompressed cross-reference stream.
pub fn append_info_update(pdf: &[u8]) -> Vec<u8> {
    let last = last_xref(pdf);
    assert!(
        dict_value(&last.dict, "/Encrypt").is_none(),
        "encrypted input is not supported"
    );
    let root = dict_value(&last.dict, "/Root").expect("trailer has no /Root");
    let size: u32 = dict_value(&last.dict, "/Size")
        .expect("trailer has no /Size")
        .parse()
        .expect("/Size is a number");
    let id = dict_value(&last.dict, "/ID")
        .map(|id| format!(" /ID {id}"))
        .unwrap_or_default();

    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let info_num = size;
    let info_offset = out.len();
    out.extend_from_slice(
        format!(
            "{info_num} 0 obj\n<< /Title (Kyso incremental update fixture) /Producer (kyso test harness) \
             /ModDate (D:20250315000000Z) >>\nendobj\n"
        )
        .as_bytes(),
    );
    let common = format!(
        "/Root {root} /Info {info_num} 0 R /Prev {}{id}",
        last.offset
    );
    if last.is_stream {
        append_xref_stream(&mut out, info_num, info_offset, &common);
    } else {
        let xref_offset = out.len();
        out.extend_from_slice(
            format!(
                "xref\n{info_num} 1\n{info_offset:010} 00000 n \ntrailer\n<< /Size {} {common} >>\nstartxref\n{xref_offset}\n%%EOF\n",
                info_num + 1
            )
            .as_bytes(),
        );
    }
    out
}

/// An uncompressed xref stream (object `info_num + 1`) covering the new
/// Info object and itself.
fn append_xref_stream(out: &mut Vec<u8>, info_num: u32, info_offset: usize, common: &str) {
    let xref_num = info_num + 1;
    let xref_offset = out.len();
    let mut data = Vec::new();
    for offset in [info_offset, xref_offset] {
        data.push(1u8);
        data.extend_from_slice(
            &u32::try_from(offset)
                .expect("offset fits u32")
                .to_be_bytes(),
        );
        data.extend_from_slice(&[0, 0]);
    }
    out.extend_from_slice(
        format!(
            "{xref_num} 0 obj\n<< /Type /XRef /Size {} /W [1 4 2] /Index [{info_num} 2] {common} /Length {} >>\nstream\n",
            xref_num + 1,
            data.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&data);
    out.extend_from_slice(
        format!("\nendstream\nendobj\nstartxref\n{xref_offset}\n%%EOF\n").as_bytes(),
    );
}

/// Title stored in the hybrid file's Info dictionary, which lives in an
/// object stream and is reachable only through /XRefStm.
pub const HYBRID_TITLE: &str = "Hybrid reference fixture";

/// A one-page hybrid-reference PDF: a classic xref table (objects 0-4, 7, 8)
/// whose trailer has /XRefStm pointing at an xref stream (object 8) that
/// locates objects 5 (the page's font) and 6 (the Info dictionary) inside
/// object stream 7.
pub fn hybrid_pdf() -> Vec<u8> {
    let mut w = Writer::new("1.5");
    w.object(1, "<< /Type /Catalog /Pages 2 0 R >>");
    w.object(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    w.object(
        3,
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
    );
    w.stream(
        4,
        "",
        b"BT /F1 18 Tf 72 760 Td (Hybrid-reference test file) Tj \
          0 -28 Td (Objects 5 and 6 live in an object stream.) Tj ET",
    );

    let members = [
        (
            5u32,
            "<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding /WinAnsiEncoding >>"
                .to_string(),
        ),
        (
            6u32,
            format!("<< /Title ({HYBRID_TITLE}) /Producer (kyso test harness) >>"),
        ),
    ];
    let (header, body) = object_stream_parts(&members);
    let mut objstm = header.clone().into_bytes();
    objstm.extend_from_slice(body.as_bytes());
    w.stream(
        7,
        &format!("/Type /ObjStm /N {} /First {}", members.len(), header.len()),
        &objstm,
    );

    // Xref stream: type-2 entries (objstm 7, index i) for objects 5 and 6.
    let entries: Vec<u8> = (0..members.len() as u16)
        .flat_map(|index| {
            let mut e = vec![2u8];
            e.extend_from_slice(&7u32.to_be_bytes());
            e.extend_from_slice(&index.to_be_bytes());
            e
        })
        .collect();
    w.stream(8, "/Type /XRef /Size 9 /W [1 4 2] /Index [5 2]", &entries);

    let xref_stm = w.offsets[&8];
    let trailer = format!(
        "/Size 9 /Root 1 0 R /Info 6 0 R /XRefStm {xref_stm} \
         /ID [<6b79736f2d6879627269642d74657374> <6b79736f2d6879627269642d74657374>]"
    );
    w.finish_classic(&[(0, 5), (7, 2)], &trailer)
}

/// Object stream header ("num offset ...") and body for `members`.
fn object_stream_parts(members: &[(u32, String)]) -> (String, String) {
    let mut header = String::new();
    let mut body = String::new();
    for (num, text) in members {
        header.push_str(&format!("{num} {} ", body.len()));
        body.push_str(text);
        body.push('\n');
    }
    (header, body)
}

/// Minimal PDF serialiser that remembers object offsets.
struct Writer {
    buf: Vec<u8>,
    offsets: BTreeMap<u32, usize>,
}

impl Writer {
    fn new(version: &str) -> Writer {
        let mut buf = format!("%PDF-{version}\n").into_bytes();
        buf.extend_from_slice(b"%\xe2\xe3\xcf\xd3\n");
        Writer {
            buf,
            offsets: BTreeMap::new(),
        }
    }

    fn object(&mut self, num: u32, body: &str) {
        self.offsets.insert(num, self.buf.len());
        self.buf
            .extend_from_slice(format!("{num} 0 obj\n{body}\nendobj\n").as_bytes());
    }

    fn stream(&mut self, num: u32, dict_entries: &str, data: &[u8]) {
        self.offsets.insert(num, self.buf.len());
        let head = format!(
            "{num} 0 obj\n<< {dict_entries} /Length {} >>\nstream\n",
            data.len()
        );
        self.buf.extend_from_slice(head.as_bytes());
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\nendstream\nendobj\n");
    }

    /// Appends a classic xref table with the given (first, count)
    /// subsections (object 0 is the free-list head), trailer and EOF.
    fn finish_classic(mut self, subsections: &[(u32, u32)], trailer: &str) -> Vec<u8> {
        let xref_offset = self.buf.len();
        let mut table = String::from("xref\n");
        for &(first, count) in subsections {
            table.push_str(&format!("{first} {count}\n"));
            for num in first..first + count {
                if num == 0 {
                    table.push_str("0000000000 65535 f \n");
                } else {
                    let offset = self
                        .offsets
                        .get(&num)
                        .unwrap_or_else(|| panic!("object {num} not written"));
                    table.push_str(&format!("{offset:010} 00000 n \n"));
                }
            }
        }
        table.push_str(&format!(
            "trailer\n<< {trailer} >>\nstartxref\n{xref_offset}\n%%EOF\n"
        ));
        self.buf.extend_from_slice(table.as_bytes());
        self.buf
    }
}

// ---------- byte search ----------

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn parse_leading_int(bytes: &[u8]) -> Option<usize> {
    let text: String = bytes
        .iter()
        .map(|&b| b as char)
        .skip_while(|c| c.is_ascii_whitespace())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    text.parse().ok()
}
