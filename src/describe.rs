//! What the user sees when something fails: a stable code plus one sentence in
//! English and one in Vietnamese.
//!
//! Every error that can reach a person (on the terminal, in the HTTP API, in the
//! usage log) implements [`Describe`]. The code is part of the public contract:
//! scripts and web pages match on it, so a code never changes meaning.

/// A user-facing description of an error.
pub trait Describe {
    /// A stable, upper-case code such as `PDF_ENCRYPTED`.
    fn code(&self) -> &'static str;
    /// One plain English sentence saying what happened and what to do.
    fn en(&self) -> String;
    /// The same sentence in Vietnamese.
    fn vi(&self) -> String;
}
