//! Kyso: a signing agent that makes PAdES signatures with keys on PKCS#11
//! tokens, for the command line and for web document systems.
#![forbid(unsafe_code)]

pub mod appearance;
pub mod certinfo;
pub mod cli;
pub mod cms;
pub mod config;
pub mod demo;
pub mod demo_site;
pub mod describe;
pub mod diagnostics;
pub mod origins;
pub mod pdf;
pub mod server;
pub mod signing;
pub mod token;
pub mod types;
pub mod usage_log;
