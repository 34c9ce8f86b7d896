//! The PDF side of signing: open an existing file lazily, plan an
//! incremental update with a signature field and a `/Contents` hole, write
//! the signed copy while digesting its byte ranges, and fill the hole.
//!
//! The phases mirror pyHanko's `PdfCMSEmbedder`:
//! 1. [`Document::open`] reads the trailer and cross-reference chain and
//!    refuses encrypted, truncated or damaged files;
//! 2. [`plan`] builds the appended bytes (field, widget, AcroForm, xref);
//! 3. [`write_and_digest`] copies the original, appends the update and returns
//!    the digest of everything but the hole;
//! 4. [`fill`] writes the signature container into the hole.
//!
//! After phase 3 no byte outside the hole changes. This module knows nothing
//! about tokens or CMS.

mod byterange;
mod edit;
mod error;
mod lexer;
mod reader;
mod source;
mod update;

pub use byterange::{append_and_digest, fill, write_and_digest, PreparedDigest};
pub use error::Error;
pub use reader::{Document, XrefKind};
pub use update::{find_page, page_count, pdf_date, plan, Appearance, Placement, SigSpec, Update};
