//! Signing orchestration: the one module that knows PDF, CMS and tokens.
//!
//! ```text
//!  input.pdf ──► pdf::Document::open ──► pdf::plan ──► pdf::write_and_digest ──► digest
//!                                                       (temp file beside the output)
//!  digest ──► cms::ToBeSigned ──► token.sign ──► cms::assemble ──► pdf::fill ──► fsync ──► rename
//! ```
//!
//! The output appears only after the final rename; any failure before it
//! drops the temp file, so the output path is never half-written. The
//! rename is the release point: [`Signer::sign_to_temp`] stops before it,
//! so a caller can commit its usage-log entry first and then
//! [`Unreleased::release`] the file.

use std::fs::File;
use std::path::{Path, PathBuf};

pub mod worker;

use chrono::{DateTime, FixedOffset};

use crate::appearance::{self, AppearanceRequest};
use crate::cms::{self, Cert};
use crate::describe::Describe;
use crate::pdf::{self, Placement, SigSpec};
use crate::token::{self, RsaMechanism, TokenCert, TokenSession};
use crate::types::{DigestAlg, KeyKind, SigScheme};

/// Why a document was not signed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PDF was refused or could not be written.
    #[error(transparent)]
    Pdf(#[from] pdf::Error),
    /// The token failed.
    #[error(transparent)]
    Token(#[from] token::Error),
    /// The signature container could not be built.
    #[error(transparent)]
    Cms(#[from] cms::Error),
    /// A file could not be opened or created.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// RSASSA-PSS was asked for with a non-RSA key.
    #[error("PSS needs an RSA key")]
    PssNeedsRsa,
    /// The certificate is outside its validity period.
    #[error("the certificate is valid from {not_before} to {not_after}, not now")]
    CertNotValid {
        /// Start of validity.
        not_before: DateTime<chrono::Utc>,
        /// End of validity.
        not_after: DateTime<chrono::Utc>,
    },
    /// The visible signature could not be drawn.
    #[error(transparent)]
    Appearance(#[from] appearance::Error),
}

/// Refuses a certificate that is not valid at `now`: a signature made with
/// it would be invalid, so the user is told before typing a PIN.
pub fn check_validity(cert: &TokenCert, now: DateTime<chrono::Utc>) -> Result<(), Error> {
    let s = &cert.summary;
    if s.is_valid_at(now) {
        Ok(())
    } else {
        Err(Error::CertNotValid {
            not_before: s.not_before,
            not_after: s.not_after,
        })
    }
}

impl Describe for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Pdf(e) => e.code(),
            Error::Token(e) => e.code(),
            Error::Cms(e) => e.code(),
            Error::File { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                "FILE_NOT_FOUND"
            }
            Error::File { .. } => "FILE_ERROR",
            Error::PssNeedsRsa => "OPTION_PSS_NEEDS_RSA",
            Error::CertNotValid { .. } => "CERT_EXPIRED",
            Error::Appearance(e) => e.code(),
        }
    }
    fn en(&self) -> String {
        match self {
            Error::Pdf(e) => e.en(),
            Error::Token(e) => e.en(),
            Error::Cms(e) => e.en(),
            Error::File { path, source } => {
                format!("Cannot open or write {}: {source}.", path.display())
            }
            Error::PssNeedsRsa => {
                "RSASSA-PSS (--pss) needs an RSA key; this certificate has an EC key.".into()
            }
            Error::CertNotValid { not_before, not_after } => format!(
                "The certificate is not valid now (valid {} to {}); a signature made with it would be invalid.",
                not_before.format("%Y-%m-%d"),
                not_after.format("%Y-%m-%d")
            ),
            Error::Appearance(e) => e.en(),
        }
    }
    fn vi(&self) -> String {
        match self {
            Error::Pdf(e) => e.vi(),
            Error::Token(e) => e.vi(),
            Error::Cms(e) => e.vi(),
            Error::File { path, source } => {
                format!("Không mở hoặc ghi được {}: {source}.", path.display())
            }
            Error::PssNeedsRsa => {
                "RSASSA-PSS (--pss) chỉ dùng được với khoá RSA; chứng thư số này dùng khoá EC."
                    .into()
            }
            Error::CertNotValid { not_before, not_after } => format!(
                "Chứng thư số không còn hiệu lực (hiệu lực từ {} đến {}); chữ ký tạo bằng nó sẽ không hợp lệ.",
                not_before.format("%d/%m/%Y"),
                not_after.format("%d/%m/%Y")
            ),
            Error::Appearance(e) => e.vi(),
        }
    }
}

/// Per-document options.
#[derive(Debug, Clone, Default)]
pub struct DocOptions {
    /// `/Reason`.
    pub reason: Option<String>,
    /// `/Location`.
    pub location: Option<String>,
    /// `/ContactInfo`.
    pub contact_info: Option<String>,
    /// The signature field's name; chosen automatically when `None`.
    pub field_name: Option<String>,
    /// Where the widget goes (used as is when `appearance` is `None`).
    pub placement: Placement,
    /// A visible signature, built against the opened document; it replaces
    /// `placement`.
    pub appearance: Option<AppearanceRequest>,
}

/// Key-level options, fixed for a signing session.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyOptions {
    /// The digest algorithm.
    pub digest: DigestAlg,
    /// Use RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys only).
    pub pss: bool,
    /// How PKCS#1 v1.5 signatures are made on the token.
    pub rsa_mechanism: RsaMechanism,
}

/// What was signed, for the caller's report and the usage log.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The output path.
    pub output: PathBuf,
    /// The new signature field's name.
    pub field_name: String,
    /// Size of the input in bytes.
    pub input_len: u64,
    /// Size of the output in bytes.
    pub output_len: u64,
    /// SHA-256 of the input.
    pub input_sha256: String,
    /// SHA-256 of the output.
    pub output_sha256: String,
    /// The number of pages.
    pub pages: u64,
}

/// A logged-in token, a chosen certificate and its chain: signs documents.
pub struct Signer<'a> {
    session: &'a TokenSession<'a>,
    cert: TokenCert,
    chain: Vec<Cert>,
    scheme: SigScheme,
    key: KeyKind,
    options: KeyOptions,
    contents_len: usize,
    durable: bool,
}

impl<'a> Signer<'a> {
    /// Prepares to sign with `cert`. `extra_chain` is appended to the issuer
    /// certificates found on the token.
    pub fn new(
        session: &'a TokenSession<'a>,
        cert: TokenCert,
        extra_chain: Vec<Cert>,
        options: KeyOptions,
    ) -> Result<Self, Error> {
        let mut chain = session.issuer_chain(&cert)?;
        for c in extra_chain {
            if !chain.iter().any(|x| x.der() == c.der()) {
                chain.push(c);
            }
        }
        Self::with_chain(session, cert, chain, options)
    }

    /// As [`Signer::new`], with the complete chain already known (the
    /// daemon keeps it for as long as the token stays plugged in).
    pub fn with_chain(
        session: &'a TokenSession<'a>,
        cert: TokenCert,
        chain: Vec<Cert>,
        options: KeyOptions,
    ) -> Result<Self, Error> {
        let key = cert.summary.key;
        let scheme = match (key, options.pss) {
            (KeyKind::Rsa { .. }, false) => SigScheme::RsaPkcs1v15,
            (KeyKind::Rsa { .. }, true) => SigScheme::RsaPss,
            (KeyKind::Ec { .. }, false) => SigScheme::Ecdsa,
            (KeyKind::Ec { .. }, true) => return Err(Error::PssNeedsRsa),
        };
        let contents_len = cms::estimate_len(options.digest, scheme, key, &cert.cert, &chain)?;
        Ok(Signer {
            session,
            cert,
            chain,
            scheme,
            key,
            options,
            contents_len,
            durable: true,
        })
    }

    /// Skips syncing outputs to disk: for temporary files the caller streams
    /// away at once, such as the daemon's job results.
    pub fn temporary_outputs(mut self) -> Self {
        self.durable = false;
        self
    }

    /// The signing certificate.
    pub fn cert(&self) -> &TokenCert {
        &self.cert
    }

    /// Signs the file at `path` in place, appending the update to it: no
    /// copy, for a caller that owns the file (the daemon's job files).
    /// `prefix` is a SHA-256 state over the whole file, if the caller hashed
    /// it on the way in. On failure the file is cut back to its original
    /// length.
    pub fn sign_in_place(
        &self,
        path: &Path,
        prefix: Option<crate::types::Hasher>,
        doc: &DocOptions,
        now: DateTime<FixedOffset>,
    ) -> Result<Signed, Error> {
        let file_err = |source| Error::File {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(file_err)?;
        let mut document = pdf::Document::open(file.try_clone().map_err(file_err)?)?;
        let len = document.len();
        let (mut update, pages) = self.plan(&mut document, doc, now)?;
        let result = (|| -> Result<pdf::PreparedDigest, Error> {
            let prepared =
                pdf::append_and_digest(&document, &update, &file, self.options.digest, prefix)?;
            let der = self.container(&prepared)?;
            pdf::fill(&file, &prepared, &mut update, &der)?;
            Ok(prepared)
        })();
        match result {
            Ok(prepared) => Ok(self.signed(path, len, &update, &prepared, pages)),
            Err(e) => {
                let _ = file.set_len(len);
                Err(e)
            }
        }
    }

    /// The update for `document`: the appearance, if any, and the field.
    fn plan(
        &self,
        document: &mut pdf::Document,
        doc: &DocOptions,
        now: DateTime<FixedOffset>,
    ) -> Result<(pdf::Update, u64), Error> {
        let pages = pdf::page_count(document)?;
        let placement = match &doc.appearance {
            Some(req) => appearance::build(document, req, now)?,
            None => doc.placement.clone(),
        };
        let spec = SigSpec {
            field_name: doc.field_name.clone(),
            reason: doc.reason.clone(),
            location: doc.location.clone(),
            contact_info: doc.contact_info.clone(),
            signing_time: now,
            contents_len: self.contents_len,
            placement,
        };
        Ok((pdf::plan(document, &spec)?, pages))
    }

    /// Signs the byte-range digest on the token and builds the container.
    fn container(&self, prepared: &pdf::PreparedDigest) -> Result<Vec<u8>, Error> {
        let tbs = cms::ToBeSigned::new(
            &prepared.digest,
            self.options.digest,
            self.scheme,
            &self.cert.cert,
        )?;
        let raw = self.session.sign(
            &self.cert,
            self.scheme,
            self.options.digest,
            self.options.rsa_mechanism,
            tbs.bytes(),
        )?;
        Ok(tbs.assemble(&raw, &self.cert.cert, &self.chain)?)
    }

    fn signed(
        &self,
        output: &Path,
        input_len: u64,
        update: &pdf::Update,
        prepared: &pdf::PreparedDigest,
        pages: u64,
    ) -> Signed {
        Signed {
            output: output.to_owned(),
            field_name: update.field_name.clone(),
            input_len,
            output_len: input_len + update.bytes.len() as u64,
            input_sha256: hex::encode_upper(&prepared.input_sha256),
            output_sha256: hex::encode_upper(prepared.output_sha256(update)),
            pages,
        }
    }

    /// Signs `input` into `output` with the signing time `now`.
    pub fn sign_file(
        &self,
        input: &Path,
        output: &Path,
        doc: &DocOptions,
        now: DateTime<FixedOffset>,
    ) -> Result<Signed, Error> {
        self.sign_to_temp(input, output, doc, now)?.release()
    }

    /// Signs `input` into a temp file beside `output`, which appears at
    /// `output` only when [`Unreleased::release`] renames it there. Lets a
    /// caller commit what it must (the usage log) before the release, and
    /// sign the next document meanwhile.
    pub fn sign_to_temp(
        &self,
        input: &Path,
        output: &Path,
        doc: &DocOptions,
        now: DateTime<FixedOffset>,
    ) -> Result<Unreleased, Error> {
        let file = File::open(input).map_err(|source| Error::File {
            path: input.to_owned(),
            source,
        })?;
        let mut document = pdf::Document::open(file)?;
        let (mut update, pages) = self.plan(&mut document, doc, now)?;

        let dir = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".kyso-").suffix(".part");
        // tempfile creates 0600 files; a signed document is an ordinary file
        // (0666 less the umask), like the original the user shares.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let mut tmp = builder.tempfile_in(&dir).map_err(|source| Error::File {
            path: output.to_owned(),
            source,
        })?;
        let prepared =
            pdf::write_and_digest(&document, &update, tmp.as_file_mut(), self.options.digest)?;

        let der = self.container(&prepared)?;
        pdf::fill(tmp.as_file(), &prepared, &mut update, &der)?;
        let signed = self.signed(output, document.len(), &update, &prepared, pages);
        Ok(Unreleased {
            tmp,
            dir,
            signed,
            durable: self.durable,
        })
    }

    /// The key type, for display.
    pub fn key(&self) -> KeyKind {
        self.key
    }
}

/// A signed document in a temp file beside its output, not yet visible at
/// the output path. Dropping it deletes the temp file.
pub struct Unreleased {
    tmp: tempfile::NamedTempFile,
    dir: PathBuf,
    signed: Signed,
    /// Whether to fsync the file and the directory (see `Signer::durable`).
    durable: bool,
}

impl Unreleased {
    /// What was signed (the output's hash and size are final).
    pub fn signed(&self) -> &Signed {
        &self.signed
    }

    /// Flushes the signed bytes to disk (unless the signer is not durable).
    pub fn sync(&self) -> Result<(), Error> {
        if !self.durable {
            return Ok(());
        }
        self.tmp.as_file().sync_all().map_err(|source| Error::File {
            path: self.signed.output.clone(),
            source,
        })
    }

    /// Renames the (synced) file to its output path and makes the rename
    /// durable: the release.
    pub fn rename(self) -> Result<Signed, Error> {
        let output = self.signed.output.clone();
        self.tmp.persist(&output).map_err(|e| Error::File {
            path: output.clone(),
            source: e.error,
        })?;
        if self.durable {
            sync_dir(&self.dir);
        }
        Ok(self.signed)
    }

    /// Syncs and renames.
    pub fn release(self) -> Result<Signed, Error> {
        self.sync()?;
        self.rename()
    }
}

/// Makes the rename durable on platforms where a directory can be synced.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
