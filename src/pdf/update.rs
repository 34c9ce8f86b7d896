//! Plans and serialises the incremental update that carries a signature: the
//! signature dictionary with its `/Contents` hole, the signature field and
//! widget, the changed AcroForm, page and catalog, and a cross-reference
//! section of the same kind as the file's newest one.
//!
//! Nothing here changes the original bytes; the update is built in memory
//! (a few kilobytes plus the hole) and appended by [`super::byterange`].

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use chrono::{DateTime, FixedOffset};
use lopdf::{Dictionary, Object, ObjectId, Writer};

use super::edit::{append_to_array, RawDict};
use super::reader::{Document, XrefKind};
use super::Error;

/// Widget annotation flags: Print (4) and Locked (128).
const WIDGET_FLAGS: i64 = 4 | 128;
/// AcroForm `/SigFlags`: SignaturesExist (1) and AppendOnly (2).
const SIG_FLAGS: i64 = 3;
/// The space reserved for `[0 a b c]`: three 20-digit numbers (u64) fit.
const BYTE_RANGE_SLOT: usize = 4 + 3 * 21;

/// Where the signature's widget goes and what it shows.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Zero-based page index.
    pub page: usize,
    /// The widget rectangle in default user space; all zeros for an
    /// invisible signature.
    pub rect: [f32; 4],
    /// The visible appearance, if any.
    pub appearance: Option<Appearance>,
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            page: 0,
            rect: [0.0; 4],
            appearance: None,
        }
    }
}

/// A visible signature's appearance, built by the caller against the same
/// [`Document`] so that its object numbers come from [`Document::allocate`].
#[derive(Debug, Clone)]
pub struct Appearance {
    /// The normal appearance (`/AP /N`), a form XObject.
    pub normal: ObjectId,
    /// Every new object the appearance needs, the form XObject included.
    pub objects: Vec<(ObjectId, Object)>,
    /// Extra entries for the field/widget dictionary (for example `/Lock`).
    pub field_entries: Dictionary,
}

/// What goes into the signature dictionary and field.
#[derive(Debug, Clone)]
pub struct SigSpec {
    /// The field name; `Signature<n>` with the first free `n` when `None`.
    pub field_name: Option<String>,
    /// `/Reason`.
    pub reason: Option<String>,
    /// `/Location`.
    pub location: Option<String>,
    /// `/ContactInfo`.
    pub contact_info: Option<String>,
    /// `/M`: PAdES keeps the signing time here, not in the CMS.
    pub signing_time: DateTime<FixedOffset>,
    /// Bytes reserved for the DER signature container.
    pub contents_len: usize,
    /// The widget's page and rectangle.
    pub placement: Placement,
}

/// The bytes to append, with the `/Contents` hole marked.
#[derive(Debug)]
pub struct Update {
    /// Everything that follows the original bytes.
    pub bytes: Vec<u8>,
    /// The hole, relative to `bytes`: from `<` to `>` inclusive.
    pub hole: Range<usize>,
    /// The name of the new signature field.
    pub field_name: String,
}

/// Builds the update for `doc`.
pub fn plan(doc: &mut Document, spec: &SigSpec) -> Result<Update, Error> {
    let (root_ref, catalog) = doc.catalog()?;
    refuse_if_locked_by_docmdp(doc, &catalog)?;

    let sig_ref = doc.allocate();
    let field_ref = doc.allocate();
    // New versions of existing objects are their original text with one
    // entry changed (see `edit`); new objects are serialised by lopdf.
    let mut changed: BTreeMap<ObjectId, Vec<u8>> = BTreeMap::new();

    let page_ref = find_page(doc, &catalog, spec.placement.page)?;
    let page = doc.resolve_dict(&Object::Reference(page_ref), "the page")?;
    let mut page_raw = raw_dict(doc, page_ref, "the page")?;
    match page.get(b"Annots").ok() {
        Some(Object::Reference(annots_ref)) => {
            let annots_ref = *annots_ref;
            let arr =
                raw_array_append(doc, annots_ref, &reference(field_ref), "the page's /Annots")?;
            changed.insert(annots_ref, arr);
        }
        Some(Object::Array(_)) => {
            let current = page_raw.value(b"Annots").unwrap_or(b"[]").to_vec();
            let arr = append_to_array(&current, &reference(field_ref))
                .ok_or_else(|| Error::Unsupported("the page's /Annots cannot be edited".into()))?;
            page_raw.set(b"Annots", &arr);
            changed.insert(page_ref, page_raw.into_bytes());
        }
        _ => {
            page_raw.set(
                b"Annots",
                &[b"[".as_slice(), &reference(field_ref), b"]"].concat(),
            );
            changed.insert(page_ref, page_raw.into_bytes());
        }
    }

    let mut catalog_raw = raw_dict(doc, root_ref, "the catalog")?;
    let field_name = match catalog.get(b"AcroForm").ok().cloned() {
        Some(Object::Reference(form_ref)) => {
            let form = doc.resolve_dict(&Object::Reference(form_ref), "the AcroForm")?;
            let mut form_raw = raw_dict(doc, form_ref, "the AcroForm")?;
            let name = add_field(doc, &form, &mut form_raw, field_ref, spec, &mut changed)?;
            changed.insert(form_ref, form_raw.into_bytes());
            name
        }
        Some(Object::Dictionary(form)) => {
            let text = catalog_raw.value(b"AcroForm").unwrap_or_default().to_vec();
            let mut form_raw = RawDict::new(&text)
                .ok_or_else(|| Error::Unsupported("the AcroForm cannot be edited".into()))?;
            let name = add_field(doc, &form, &mut form_raw, field_ref, spec, &mut changed)?;
            catalog_raw.set(b"AcroForm", &form_raw.into_bytes());
            changed.insert(root_ref, catalog_raw.into_bytes());
            name
        }
        _ => {
            let empty = Dictionary::new();
            let mut form_raw = RawDict::new(b"<< >>").expect("a literal dictionary");
            let name = add_field(doc, &empty, &mut form_raw, field_ref, spec, &mut changed)?;
            let form_ref = doc.allocate();
            changed.insert(form_ref, form_raw.into_bytes());
            catalog_raw.set(b"AcroForm", &reference(form_ref));
            changed.insert(root_ref, catalog_raw.into_bytes());
            name
        }
    };

    let mut field = Dictionary::new();
    field.set("Type", Object::Name(b"Annot".to_vec()));
    field.set("Subtype", Object::Name(b"Widget".to_vec()));
    field.set("FT", Object::Name(b"Sig".to_vec()));
    field.set("T", lopdf::text_string(&field_name));
    field.set("V", Object::Reference(sig_ref));
    field.set("F", WIDGET_FLAGS);
    field.set(
        "Rect",
        spec.placement
            .rect
            .iter()
            .map(|&v| Object::Real(v))
            .collect::<Vec<_>>(),
    );
    field.set("P", Object::Reference(page_ref));
    if let Some(ap) = &spec.placement.appearance {
        let mut n = Dictionary::new();
        n.set("N", Object::Reference(ap.normal));
        field.set("AP", n);
        for (k, v) in ap.field_entries.iter() {
            field.set(k.clone(), v.clone());
        }
        for (id, obj) in &ap.objects {
            changed.insert(*id, serialize(obj));
        }
    }
    changed.insert(field_ref, serialize(&Object::Dictionary(field)));

    let next_free = doc.next_unallocated();
    let mut w = UpdateWriter::new(doc.len(), needs_leading_eol(doc)?);
    for (&id, body) in &changed {
        w.object(id, body);
    }
    w.signature_dict(sig_ref, spec);
    let (bytes, hole) = match doc.xref_kind() {
        XrefKind::Table => w.finish_with_table(doc, next_free),
        XrefKind::Stream => w.finish_with_stream(doc, next_free),
    };
    Ok(Update {
        bytes,
        hole,
        field_name,
    })
}

fn serialize(obj: &Object) -> Vec<u8> {
    let mut out = Vec::new();
    Writer::write_object(&mut out, obj).expect("writing to a Vec cannot fail");
    out
}

fn reference((id, gen): ObjectId) -> Vec<u8> {
    format!("{id} {gen} R").into_bytes()
}

fn raw_dict(doc: &mut Document, id: ObjectId, what: &str) -> Result<RawDict, Error> {
    let raw = doc
        .raw_body(id.0)?
        .ok_or_else(|| Error::BrokenXref(format!("{what} is missing")))?;
    RawDict::new(&raw).ok_or_else(|| Error::BrokenXref(format!("{what} is not a dictionary")))
}

fn raw_array_append(
    doc: &mut Document,
    id: ObjectId,
    item: &[u8],
    what: &str,
) -> Result<Vec<u8>, Error> {
    let raw = doc
        .raw_body(id.0)?
        .ok_or_else(|| Error::BrokenXref(format!("{what} is missing")))?;
    append_to_array(&raw, item).ok_or_else(|| Error::BrokenXref(format!("{what} is not an array")))
}

/// The number of pages, from the page tree's root `/Count`.
pub fn page_count(doc: &mut Document) -> Result<u64, Error> {
    let (_, catalog) = doc.catalog()?;
    let pages = catalog
        .get(b"Pages")
        .map_err(|_| Error::Unsupported("the document has no page tree".into()))?
        .clone();
    let pages = doc.resolve_dict(&pages, "the page tree")?;
    Ok(pages
        .get(b"Count")
        .and_then(Object::as_i64)
        .ok()
        .and_then(|c| u64::try_from(c).ok())
        .unwrap_or(0))
}

fn refuse_if_locked_by_docmdp(doc: &mut Document, catalog: &Dictionary) -> Result<(), Error> {
    let Ok(perms) = catalog.get(b"Perms").cloned() else {
        return Ok(());
    };
    let Ok(perms) = doc.resolve_dict(&perms, "/Perms") else {
        return Ok(());
    };
    let Ok(sig) = perms.get(b"DocMDP").cloned() else {
        return Ok(());
    };
    let sig = doc.resolve_dict(&sig, "the DocMDP signature")?;
    let Ok(refs) = sig.get(b"Reference").cloned() else {
        return Ok(());
    };
    let Object::Array(refs) = doc.resolve(&refs)? else {
        return Ok(());
    };
    for r in refs {
        let r = doc.resolve_dict(&r, "a signature reference")?;
        if r.get(b"TransformMethod").and_then(Object::as_name).ok() != Some(b"DocMDP") {
            continue;
        }
        let p = match r.get(b"TransformParams").ok().cloned() {
            Some(tp) => {
                let tp = doc.resolve_dict(&tp, "/TransformParams")?;
                tp.get(b"P").and_then(Object::as_i64).unwrap_or(2)
            }
            None => 2,
        };
        if p == 1 {
            return Err(Error::CertifiedNoChanges);
        }
    }
    Ok(())
}

/// Adds the field to the AcroForm's `/Fields`, sets `/SigFlags`, and returns
/// the field's name. `form` is the parsed AcroForm, `form_raw` its text.
fn add_field(
    doc: &mut Document,
    form: &Dictionary,
    form_raw: &mut RawDict,
    field_ref: ObjectId,
    spec: &SigSpec,
    changed: &mut BTreeMap<ObjectId, Vec<u8>>,
) -> Result<String, Error> {
    let fields = match form.get(b"Fields").ok() {
        Some(f @ Object::Reference(_)) => match doc.resolve(f)? {
            Object::Array(a) => a,
            _ => Vec::new(),
        },
        Some(Object::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    let mut names = BTreeSet::new();
    for f in &fields {
        if let Ok(d) = doc.resolve_dict(f, "a form field") {
            if let Ok(t) = lopdf::decode_text_string(d.get(b"T").unwrap_or(&Object::Null)) {
                names.insert(t);
            }
        }
    }
    let name = match &spec.field_name {
        Some(n) if names.contains(n) => {
            return Err(Error::Unsupported(format!(
                "a field named '{n}' already exists"
            )));
        }
        Some(n) => n.clone(),
        None => (1..)
            .map(|i| format!("Signature{i}"))
            .find(|n| !names.contains(n))
            .expect("unbounded range"),
    };
    let item = reference(field_ref);
    match form.get(b"Fields").ok() {
        Some(Object::Reference(r)) => {
            let r = *r;
            changed.insert(r, raw_array_append(doc, r, &item, "/Fields")?);
        }
        Some(Object::Array(_)) => {
            let current = form_raw.value(b"Fields").unwrap_or(b"[]").to_vec();
            let arr = append_to_array(&current, &item)
                .ok_or_else(|| Error::Unsupported("/Fields cannot be edited".into()))?;
            form_raw.set(b"Fields", &arr);
        }
        _ => form_raw.set(b"Fields", &[b"[".as_slice(), &item, b"]"].concat()),
    }
    let flags = form.get(b"SigFlags").and_then(Object::as_i64).unwrap_or(0);
    if flags | SIG_FLAGS != flags || !form.has(b"SigFlags") {
        form_raw.set(b"SigFlags", (flags | SIG_FLAGS).to_string().as_bytes());
    }
    Ok(name)
}

/// Walks the page tree to the page with zero-based `wanted`, using `/Count`
/// to skip whole subtrees.
pub fn find_page(
    doc: &mut Document,
    catalog: &Dictionary,
    wanted: usize,
) -> Result<ObjectId, Error> {
    let no_page = || Error::Unsupported(format!("the document has no page {}", wanted + 1));
    let mut index = wanted;
    let mut node = catalog
        .get(b"Pages")
        .and_then(Object::as_reference)
        .map_err(|_| no_page())?;
    for _depth in 0..64 {
        let dict = doc.resolve_dict(&Object::Reference(node), "a page tree node")?;
        if dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"Page") {
            return if index == 0 { Ok(node) } else { Err(no_page()) };
        }
        let kids = match dict.get(b"Kids").ok().cloned() {
            Some(k) => match doc.resolve(&k)? {
                Object::Array(a) => a,
                _ => return Err(no_page()),
            },
            None => return Err(no_page()),
        };
        let mut descended = false;
        for kid in kids {
            let Ok(kid_ref) = kid.as_reference() else {
                continue;
            };
            let kd = doc.resolve_dict(&kid, "a page tree node")?;
            let is_leaf =
                kd.get(b"Type").and_then(Object::as_name).ok() == Some(b"Page") || !kd.has(b"Kids");
            let count = if is_leaf {
                1
            } else {
                kd.get(b"Count")
                    .and_then(Object::as_i64)
                    .ok()
                    .and_then(|c| usize::try_from(c).ok())
                    .unwrap_or(0)
            };
            if index < count {
                if is_leaf {
                    return Ok(kid_ref);
                }
                node = kid_ref;
                descended = true;
                break;
            }
            index -= count;
        }
        if !descended {
            return Err(no_page());
        }
    }
    Err(Error::Unsupported(
        "the page tree is nested too deeply".into(),
    ))
}

/// The update starts on a new line so that `%%EOF` never runs into it.
fn needs_leading_eol(doc: &Document) -> Result<bool, Error> {
    Ok(!matches!(doc.last_byte()?, Some(b'\n' | b'\r')))
}

/// Serialises objects and the closing cross-reference section, tracking
/// each object's absolute offset.
struct UpdateWriter {
    base: u64,
    out: Vec<u8>,
    offsets: BTreeMap<u32, (u64, u16)>,
    byte_range_at: usize,
    hole: Range<usize>,
}

impl UpdateWriter {
    fn new(base: u64, leading_eol: bool) -> Self {
        let mut out = Vec::with_capacity(64 << 10);
        if leading_eol {
            out.push(b'\n');
        }
        UpdateWriter {
            base,
            out,
            offsets: BTreeMap::new(),
            byte_range_at: 0,
            hole: 0..0,
        }
    }

    fn offset(&self) -> u64 {
        self.base + self.out.len() as u64
    }

    fn object(&mut self, (id, gen): ObjectId, body: &[u8]) {
        self.offsets.insert(id, (self.offset(), gen));
        self.out
            .extend_from_slice(format!("{id} {gen} obj\n").as_bytes());
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(b"\nendobj\n");
    }

    /// Writes the signature dictionary by hand, because the positions of
    /// `/ByteRange` and the `/Contents` hole must be known exactly.
    fn signature_dict(&mut self, (id, gen): ObjectId, spec: &SigSpec) {
        self.offsets.insert(id, (self.offset(), gen));
        let o = &mut self.out;
        o.extend_from_slice(format!("{id} {gen} obj\n").as_bytes());
        o.extend_from_slice(b"<</Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached");
        o.extend_from_slice(format!("\n/M ({})", pdf_date(&spec.signing_time)).as_bytes());
        for (key, value) in [
            ("Reason", &spec.reason),
            ("Location", &spec.location),
            ("ContactInfo", &spec.contact_info),
        ] {
            if let Some(v) = value {
                o.extend_from_slice(format!("\n/{key} ").as_bytes());
                Writer::write_object(o, &lopdf::text_string(v))
                    .expect("writing to a Vec cannot fail");
            }
        }
        o.extend_from_slice(b"\n/ByteRange ");
        self.byte_range_at = o.len();
        o.extend_from_slice(&[b' '; BYTE_RANGE_SLOT]);
        o.extend_from_slice(b"\n/Contents ");
        let start = o.len();
        o.push(b'<');
        o.resize(o.len() + 2 * spec.contents_len, b'0');
        o.push(b'>');
        self.hole = start..o.len();
        o.extend_from_slice(b">>\nendobj\n");
    }

    fn finish_with_table(mut self, doc: &Document, size: u32) -> (Vec<u8>, Range<usize>) {
        let xref_at = self.offset();
        self.out.extend_from_slice(b"xref\n");
        for run in runs(&self.offsets) {
            self.out
                .extend_from_slice(format!("{} {}\n", run[0].0, run.len()).as_bytes());
            for (_, (off, gen)) in run {
                self.out
                    .extend_from_slice(format!("{off:010} {gen:05} n\r\n").as_bytes());
            }
        }
        let mut trailer = carried_trailer(doc);
        trailer.set("Size", i64::from(size));
        trailer.set("Prev", doc.startxref() as i64);
        self.out.extend_from_slice(b"trailer\n");
        Writer::write_object(&mut self.out, &Object::Dictionary(trailer))
            .expect("writing to a Vec cannot fail");
        self.finish(xref_at)
    }

    fn finish_with_stream(mut self, doc: &Document, next_free: u32) -> (Vec<u8>, Range<usize>) {
        let xref_id = next_free;
        let xref_at = self.offset();
        self.offsets.insert(xref_id, (xref_at, 0));
        let max_offset = self.offsets.values().map(|v| v.0).max().unwrap_or(0);
        let w1 = (1..=8)
            .find(|&n| n == 8 || max_offset < 1u64 << (8 * n))
            .unwrap_or(8);
        let mut data = Vec::new();
        let mut index = Vec::new();
        for run in runs(&self.offsets) {
            index.push(Object::Integer(i64::from(run[0].0)));
            index.push(Object::Integer(run.len() as i64));
            for (_, (off, gen)) in run {
                data.push(1u8);
                data.extend_from_slice(&off.to_be_bytes()[8 - w1..]);
                data.extend_from_slice(&gen.to_be_bytes());
            }
        }
        let mut dict = carried_trailer(doc);
        dict.set("Type", Object::Name(b"XRef".to_vec()));
        dict.set("Size", i64::from(xref_id + 1));
        dict.set(
            "W",
            vec![
                Object::Integer(1),
                Object::Integer(w1 as i64),
                Object::Integer(2),
            ],
        );
        dict.set("Index", index);
        dict.set("Prev", doc.startxref() as i64);
        dict.set("Length", data.len() as i64);
        self.out
            .extend_from_slice(format!("{xref_id} 0 obj\n").as_bytes());
        Writer::write_object(&mut self.out, &Object::Dictionary(dict))
            .expect("writing to a Vec cannot fail");
        self.out.extend_from_slice(b"\nstream\n");
        self.out.extend_from_slice(&data);
        self.out.extend_from_slice(b"\nendstream\nendobj\n");
        self.finish(xref_at)
    }

    /// Closes the update and fills in `/ByteRange`, now that the final
    /// length is known: the two ranges are everything except the hole.
    fn finish(mut self, xref_at: u64) -> (Vec<u8>, Range<usize>) {
        self.out
            .extend_from_slice(format!("\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
        let a = self.base + self.hole.start as u64;
        let b = self.base + self.hole.end as u64;
        let total = self.base + self.out.len() as u64;
        let text = format!("[0 {a} {b} {}]", total - b);
        let slot = &mut self.out[self.byte_range_at..self.byte_range_at + BYTE_RANGE_SLOT];
        slot[..text.len()].copy_from_slice(text.as_bytes());
        (self.out, self.hole)
    }
}

/// Groups object numbers into runs of consecutive numbers (xref subsections).
fn runs(offsets: &BTreeMap<u32, (u64, u16)>) -> Vec<Vec<(u32, (u64, u16))>> {
    let mut runs: Vec<Vec<(u32, (u64, u16))>> = Vec::new();
    for (&id, &v) in offsets {
        match runs.last_mut() {
            Some(run) if run.last().map(|l| l.0 + 1) == Some(id) => run.push((id, v)),
            _ => runs.push(vec![(id, v)]),
        }
    }
    runs
}

/// The trailer entries an update repeats: the catalog, the Info dictionary
/// and the file identifier.
fn carried_trailer(doc: &Document) -> Dictionary {
    let mut t = Dictionary::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(v) = doc.trailer().get(key) {
            t.set(key.to_vec(), v.clone());
        }
    }
    t
}

/// A PDF date string: `D:YYYYMMDDHHmmSS+HH'mm'`.
pub fn pdf_date(t: &DateTime<FixedOffset>) -> String {
    let off = t.offset().local_minus_utc();
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.unsigned_abs();
    format!(
        "D:{}{sign}{:02}'{:02}'",
        t.format("%Y%m%d%H%M%S"),
        off / 3600,
        (off % 3600) / 60
    )
}
