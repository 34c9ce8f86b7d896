//! PKCS#11 tokens: find the module, choose a token and a certificate, read
//! the PIN state, log in, sign. This module knows nothing of PDF or CMS
//! beyond the certificate type.
//!
//! A `cryptoki::Session` is `Send` but not `Sync`, so a session belongs to
//! one thread at a time; the CLI uses it directly and the daemon keeps it in
//! one worker thread.

mod error;
pub mod modules;
mod pkcs11;

pub use error::{Error, PinState};
pub use pkcs11::{
    issuer_chain, select_cert, Module, RsaMechanism, TokenCert, TokenInfo, TokenSession,
};

/// The user PIN as cryptoki takes it: zeroized on drop, never printed.
pub type Pin = cryptoki::types::AuthPin;
