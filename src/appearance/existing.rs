//! Finds the earlier visible signature that the `issued` seal goes on: the
//! last signed, visible signature field of the AcroForm, with its page and
//! rectangle.

use std::collections::HashSet;

use lopdf::{Dictionary, Object, ObjectId};

use super::Error;
use crate::pdf::{self, Document};

/// An earlier signature's widget.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedWidget {
    /// Its page, 0-based.
    pub page_index: usize,
    /// Its page object.
    pub page: ObjectId,
    /// `/Rect` in default user space.
    pub rect: [f32; 4],
}

/// The last signed signature field that is visible (non-empty `/Rect`).
pub fn last_visible_signature(doc: &mut Document) -> Result<Option<SignedWidget>, Error> {
    let (_, catalog) = doc.catalog()?;
    let Ok(form) = catalog.get(b"AcroForm") else {
        return Ok(None);
    };
    let form = doc.resolve_dict(&form.clone(), "the AcroForm")?;
    let Ok(fields) = form.get(b"Fields") else {
        return Ok(None);
    };
    let Object::Array(fields) = doc.resolve(&fields.clone())? else {
        return Ok(None);
    };

    let mut found: Option<(Option<ObjectId>, Option<ObjectId>, [f32; 4])> = None;
    let mut seen = HashSet::new();
    let mut todo: Vec<(Object, bool, bool)> = fields
        .into_iter()
        .rev()
        .map(|f| (f, false, false))
        .collect();
    // Depth-first in document order; `is_sig` and `signed` are inherited.
    while let Some((obj, parent_sig, parent_signed)) = todo.pop() {
        let own = obj.as_reference().ok();
        if let Some(r) = own {
            if !seen.insert(r) || seen.len() > 100_000 {
                continue;
            }
        }
        let d = doc.resolve_dict(&obj, "a form field")?;
        let is_sig = parent_sig || d.get(b"FT").and_then(Object::as_name).ok() == Some(b"Sig");
        let signed = parent_signed || d.has(b"V");
        if let Ok(kids) = d.get(b"Kids") {
            if let Object::Array(kids) = doc.resolve(&kids.clone())? {
                todo.extend(kids.into_iter().rev().map(|k| (k, is_sig, signed)));
            }
        }
        if is_sig && signed {
            if let Some(rect) = rect_of(doc, &d)? {
                let page = d.get(b"P").and_then(Object::as_reference).ok();
                found = Some((own, page, rect));
            }
        }
    }
    let Some((widget, page, rect)) = found else {
        return Ok(None);
    };
    let (page, page_index) = match page {
        Some(p) => (p, page_index(doc, p)?),
        None => page_holding(doc, widget)?.ok_or(Error::NoEarlierSignature)?,
    };
    Ok(Some(SignedWidget {
        page_index,
        page,
        rect,
    }))
}

fn rect_of(doc: &mut Document, d: &Dictionary) -> Result<Option<[f32; 4]>, Error> {
    let Ok(r) = d.get(b"Rect") else {
        return Ok(None);
    };
    let Object::Array(a) = doc.resolve(&r.clone())? else {
        return Ok(None);
    };
    let v: Vec<f32> = a
        .iter()
        .filter_map(|o| match o {
            Object::Integer(i) => Some(*i as f32),
            Object::Real(r) => Some(*r),
            _ => None,
        })
        .collect();
    let [x0, y0, x1, y1] = v[..] else {
        return Ok(None);
    };
    let rect = [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)];
    Ok((rect[2] - rect[0] > 1.0 && rect[3] - rect[1] > 1.0).then_some(rect))
}

/// The 0-based index of `page`, found by walking up `/Parent` and counting
/// the pages in the siblings before each node.
pub fn page_index(doc: &mut Document, page: ObjectId) -> Result<usize, Error> {
    let mut index = 0usize;
    let mut node = page;
    for _ in 0..64 {
        let dict = doc.resolve_dict(&Object::Reference(node), "a page tree node")?;
        let Ok(parent) = dict.get(b"Parent").and_then(Object::as_reference) else {
            return Ok(index);
        };
        let parent_dict = doc.resolve_dict(&Object::Reference(parent), "a page tree node")?;
        let Ok(kids) = parent_dict.get(b"Kids") else {
            return Ok(index);
        };
        let Object::Array(kids) = doc.resolve(&kids.clone())? else {
            return Ok(index);
        };
        for kid in kids {
            if kid.as_reference().ok() == Some(node) {
                break;
            }
            let kd = doc.resolve_dict(&kid, "a page tree node")?;
            index += if kd.has(b"Kids") {
                kd.get(b"Count")
                    .and_then(Object::as_i64)
                    .ok()
                    .and_then(|c| usize::try_from(c).ok())
                    .unwrap_or(0)
            } else {
                1
            };
        }
        node = parent;
    }
    Err(pdf::Error::Unsupported("the page tree is nested too deeply".into()).into())
}

/// For a widget without `/P`: the page whose `/Annots` lists it, searched
/// from the last page backwards.
fn page_holding(
    doc: &mut Document,
    widget: Option<ObjectId>,
) -> Result<Option<(ObjectId, usize)>, Error> {
    let Some(widget) = widget else {
        return Ok(None);
    };
    let (_, catalog) = doc.catalog()?;
    let count = usize::try_from(pdf::page_count(doc)?).unwrap_or(0);
    for i in (0..count).rev() {
        let page = pdf::find_page(doc, &catalog, i)?;
        let d = doc.resolve_dict(&Object::Reference(page), "the page")?;
        if let Ok(a) = d.get(b"Annots") {
            if let Object::Array(a) = doc.resolve(&a.clone())? {
                if a.iter().any(|o| o.as_reference().ok() == Some(widget)) {
                    return Ok(Some((page, i)));
                }
            }
        }
    }
    Ok(None)
}
