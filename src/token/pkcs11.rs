//! The only file that talks to cryptoki: load a module, list tokens, read
//! certificates, log in, and sign with the right mechanism.

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::{AuthPin, Ulong};

use super::error::{Error, PinState};
use crate::certinfo::CertSummary;
use crate::cms::Cert;
use crate::types::{DigestAlg, SigScheme};

/// How to make an RSA PKCS#1 v1.5 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsaMechanism {
    /// `CKM_SHA256_RSA_PKCS` (or 384/512) when the token lists it, else raw.
    #[default]
    Auto,
    /// Always the combined hash-and-sign mechanism.
    Combined,
    /// Always `CKM_RSA_PKCS` over a DigestInfo hashed here.
    Raw,
}

/// A loaded PKCS#11 module. Finalised on drop.
pub struct Module {
    ctx: Option<Pkcs11>,
    path: PathBuf,
}

/// A token present in a slot.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    #[serde(skip)]
    slot: Slot,
    /// The slot number, as the module numbers it.
    pub slot_id: u64,
    /// `CKA_LABEL` of the token, trimmed.
    pub label: String,
    /// The token's serial number, trimmed.
    pub serial: String,
    /// The manufacturer, trimmed.
    pub manufacturer: String,
    /// The model, trimmed.
    pub model: String,
    /// The PIN state flags.
    pub pin: PinState,
    /// Whether the PIN is entered on the reader's own PIN pad.
    pub pin_pad: bool,
    #[serde(skip)]
    initialized: bool,
}

impl TokenInfo {
    /// `label (serial)`, for messages.
    pub fn display_name(&self) -> String {
        format!("{} ({})", self.label, self.serial)
    }
}

/// A certificate on the token, with the `CKA_ID` that pairs it with a key.
#[derive(Debug, Clone)]
pub struct TokenCert {
    /// `CKA_ID`.
    pub id: Vec<u8>,
    /// `CKA_LABEL`.
    pub label: String,
    /// The certificate.
    pub cert: Cert,
    /// What a person reads.
    pub summary: CertSummary,
    /// Whether a private key with the same `CKA_ID` is visible. Many tokens
    /// hide private keys until login, so `false` is not final before login.
    pub key_visible: bool,
}

impl TokenCert {
    /// Whether the certificate can sign documents: an end-entity
    /// certificate whose key usage allows it, with a `CKA_ID` to find its key.
    pub fn is_signing_candidate(&self) -> bool {
        !self.summary.is_ca && self.summary.can_sign && !self.id.is_empty()
    }
}

impl Module {
    /// Loads and initialises the module at `path`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let load_err = |e: CkError| Error::ModuleLoad {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let ctx = Pkcs11::new(path).map_err(load_err)?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(load_err(e)),
        }
        Ok(Module {
            ctx: Some(ctx),
            path: path.to_owned(),
        })
    }

    fn ctx(&self) -> &Pkcs11 {
        self.ctx.as_ref().expect("present until drop")
    }

    /// The module's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tokens currently present.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, Error> {
        let slots = self.ctx().get_slots_with_token().map_err(map_err)?;
        let mut out = Vec::new();
        for slot in slots {
            match self.token_info(slot) {
                Ok(t) if t.initialized => out.push(t),
                // SoftHSM2 always offers one blank slot for a new token.
                Ok(_) => {}
                // A token pulled between the two calls is simply absent.
                Err(Error::Removed) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn token_info(&self, slot: Slot) -> Result<TokenInfo, Error> {
        let info = self.ctx().get_token_info(slot).map_err(map_err)?;
        Ok(TokenInfo {
            slot,
            slot_id: slot.id(),
            label: info.label().trim().to_owned(),
            serial: info.serial_number().trim().to_owned(),
            manufacturer: info.manufacturer_id().trim().to_owned(),
            model: info.model().trim().to_owned(),
            pin: PinState {
                count_low: info.user_pin_count_low(),
                final_try: info.user_pin_final_try(),
                locked: info.user_pin_locked(),
                to_be_changed: info.user_pin_to_be_changed(),
            },
            pin_pad: info.protected_authentication_path(),
            initialized: info.token_initialized(),
        })
    }

    /// Chooses a token by label or serial; with no selector, the only one.
    pub fn select(&self, selector: Option<&str>) -> Result<TokenInfo, Error> {
        let tokens = self.tokens()?;
        let names = || {
            tokens
                .iter()
                .map(TokenInfo::display_name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match selector {
            Some(sel) => tokens
                .iter()
                .find(|t| t.label == sel || t.serial == sel)
                .cloned()
                .ok_or_else(|| Error::TokenNotFound {
                    selector: sel.to_owned(),
                    available: if tokens.is_empty() {
                        "none".into()
                    } else {
                        names()
                    },
                }),
            None => match tokens.len() {
                0 => Err(Error::NoToken),
                1 => Ok(tokens[0].clone()),
                _ => Err(Error::AmbiguousToken(names())),
            },
        }
    }

    /// Reads the PIN flags afresh (they change after each login attempt).
    pub fn pin_state(&self, token: &TokenInfo) -> Result<PinState, Error> {
        Ok(self.token_info(token.slot)?.pin)
    }

    /// Opens a read-only session on `token`.
    pub fn open(&self, token: &TokenInfo) -> Result<TokenSession<'_>, Error> {
        let session = self.ctx().open_ro_session(token.slot).map_err(map_err)?;
        self.session_on(token, session)
    }

    fn session_on(&self, token: &TokenInfo, session: Session) -> Result<TokenSession<'_>, Error> {
        let mechanisms = self.ctx().get_mechanism_list(token.slot).map_err(map_err)?;
        Ok(TokenSession {
            module: self,
            session,
            token: token.clone(),
            mechanisms,
        })
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.take() {
            if let Err(e) = ctx.finalize() {
                tracing::debug!("C_Finalize: {e}");
            }
        }
    }
}

/// An open session on one token.
pub struct TokenSession<'m> {
    module: &'m Module,
    session: Session,
    token: TokenInfo,
    mechanisms: Vec<MechanismType>,
}

impl TokenSession<'_> {
    /// The token this session is on.
    pub fn token(&self) -> &TokenInfo {
        &self.token
    }

    /// Every X.509 certificate on the token that parses.
    pub fn certificates(&self) -> Result<Vec<TokenCert>, Error> {
        let handles = self
            .session
            .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
            .map_err(map_err)?;
        let mut certs = Vec::new();
        for h in handles {
            let attrs = self
                .session
                .get_attributes(
                    h,
                    &[
                        AttributeType::Value,
                        AttributeType::Id,
                        AttributeType::Label,
                    ],
                )
                .map_err(map_err)?;
            let (mut value, mut id, mut label) = (None, Vec::new(), String::new());
            for a in attrs {
                match a {
                    Attribute::Value(v) => value = Some(v),
                    Attribute::Id(v) => id = v,
                    Attribute::Label(v) => label = String::from_utf8_lossy(&v).trim().to_owned(),
                    _ => {}
                }
            }
            let Some(der) = value else { continue };
            let (Some(summary), Ok(cert)) = (CertSummary::parse(&der), Cert::from_der(der)) else {
                tracing::warn!(label, "skipping a certificate that does not parse");
                continue;
            };
            let key_visible = !id.is_empty() && self.find_private_key(&id)?.is_some();
            certs.push(TokenCert {
                id,
                label,
                cert,
                summary,
                key_visible,
            });
        }
        Ok(certs)
    }

    /// Chooses the signing certificate among those on the token; see
    /// [`select_cert`].
    pub fn select_cert(&self, selector: Option<&str>) -> Result<TokenCert, Error> {
        select_cert(&self.certificates()?, selector)
    }

    /// The issuer certificates the token holds for `leaf`; see [`issuer_chain`].
    pub fn issuer_chain(&self, leaf: &TokenCert) -> Result<Vec<Cert>, Error> {
        Ok(issuer_chain(&self.certificates()?, leaf))
    }

    /// Logs the user in. A wrong PIN is reported with the token's fresh PIN
    /// flags and is never retried here. A locked token is not even tried.
    /// `pin` is `None` on a PIN-pad reader.
    pub fn login(&self, pin: Option<&AuthPin>) -> Result<(), Error> {
        let state = self.module.pin_state(&self.token)?;
        if state.locked {
            return Err(Error::PinLocked);
        }
        match self.session.login(UserType::User, pin) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(CkError::Pkcs11(
                RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid,
                _,
            )) => {
                let after = self.module.pin_state(&self.token).unwrap_or(state);
                if after.locked {
                    Err(Error::PinIncorrect(PinState {
                        locked: true,
                        ..after
                    }))
                } else {
                    Err(Error::PinIncorrect(after))
                }
            }
            Err(e) => Err(map_err(e)),
        }
    }

    /// Logs out; errors are irrelevant because the session is reused or dropped.
    pub fn logout(&self) {
        if let Err(e) = self.session.logout() {
            tracing::debug!("C_Logout: {e}");
        }
    }

    fn find_private_key(&self, id: &[u8]) -> Result<Option<cryptoki::object::ObjectHandle>, Error> {
        let found = self
            .session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(id.to_vec()),
            ])
            .map_err(map_err)?;
        Ok(found.into_iter().next())
    }

    fn has(&self, m: MechanismType) -> bool {
        self.mechanisms.contains(&m)
    }

    /// Signs `message` (the DER of the CMS signed attributes) with the key
    /// paired to `cert`. Must be logged in.
    pub fn sign(
        &self,
        cert: &TokenCert,
        scheme: SigScheme,
        alg: DigestAlg,
        rsa: RsaMechanism,
        message: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let key = self
            .find_private_key(&cert.id)?
            .ok_or_else(|| Error::NoPrivateKey(hex::encode_upper(&cert.id)))?;
        let (combined, hash_mech, mgf) = match alg {
            DigestAlg::Sha256 => (
                MechanismType::SHA256_RSA_PKCS,
                MechanismType::SHA256,
                PkcsMgfType::MGF1_SHA256,
            ),
            DigestAlg::Sha384 => (
                MechanismType::SHA384_RSA_PKCS,
                MechanismType::SHA384,
                PkcsMgfType::MGF1_SHA384,
            ),
            DigestAlg::Sha512 => (
                MechanismType::SHA512_RSA_PKCS,
                MechanismType::SHA512,
                PkcsMgfType::MGF1_SHA512,
            ),
        };
        let (mechanism, data) = match scheme {
            SigScheme::RsaPkcs1v15 => {
                let use_combined = match rsa {
                    RsaMechanism::Auto => self.has(combined),
                    RsaMechanism::Combined => true,
                    RsaMechanism::Raw => false,
                };
                if use_combined {
                    let m = match alg {
                        DigestAlg::Sha256 => Mechanism::Sha256RsaPkcs,
                        DigestAlg::Sha384 => Mechanism::Sha384RsaPkcs,
                        DigestAlg::Sha512 => Mechanism::Sha512RsaPkcs,
                    };
                    (m, message.to_vec())
                } else {
                    self.require(MechanismType::RSA_PKCS, "RSA PKCS#1 v1.5")?;
                    (Mechanism::RsaPkcs, digest_info(alg, &alg.digest(message)))
                }
            }
            SigScheme::RsaPss => {
                self.require(MechanismType::RSA_PKCS_PSS, "RSASSA-PSS")?;
                let params = PkcsPssParams {
                    hash_alg: hash_mech,
                    mgf,
                    s_len: Ulong::from(alg.len() as u64),
                };
                (Mechanism::RsaPkcsPss(params), alg.digest(message))
            }
            SigScheme::Ecdsa => {
                self.require(MechanismType::ECDSA, "ECDSA")?;
                (Mechanism::Ecdsa, alg.digest(message))
            }
        };
        self.session.sign(&mechanism, key, &data).map_err(map_err)
    }

    fn require(&self, m: MechanismType, name: &str) -> Result<(), Error> {
        if self.has(m) {
            Ok(())
        } else {
            Err(Error::Mechanism(name.to_owned()))
        }
    }
}

/// Chooses the signing certificate among `certs`: by serial (hex), `CKA_ID`
/// (hex) or a subject substring; with no selector, the only candidate.
pub fn select_cert(certs: &[TokenCert], selector: Option<&str>) -> Result<TokenCert, Error> {
    let candidates: Vec<&TokenCert> = certs.iter().filter(|c| c.is_signing_candidate()).collect();
    let describe = |c: &[&TokenCert]| {
        c.iter()
            .map(|c| format!("{} [{}]", c.summary.common_name, c.summary.serial))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let matching: Vec<&TokenCert> = match selector {
        None => candidates.clone(),
        Some(sel) => {
            let hex_sel = sel.replace(':', "").to_uppercase();
            let lower = sel.to_lowercase();
            candidates
                .iter()
                .copied()
                .filter(|c| {
                    c.summary.serial == hex_sel
                        || hex::encode_upper(&c.id) == hex_sel
                        || c.summary.subject.to_lowercase().contains(&lower)
                })
                .collect()
        }
    };
    match (matching.len(), selector) {
        (1, _) => Ok(matching[0].clone()),
        (0, None) => Err(Error::NoCertificate),
        (0, Some(sel)) => Err(Error::CertNotFound(sel.to_owned())),
        _ => Err(Error::AmbiguousCert(describe(&matching))),
    }
}

/// The CA certificates among `all` that issued `leaf`, nearest first.
pub fn issuer_chain(all: &[TokenCert], leaf: &TokenCert) -> Vec<Cert> {
    let mut chain = Vec::new();
    let mut current = leaf.summary.clone();
    for _ in 0..8 {
        if current.issuer == current.subject {
            break;
        }
        let Some(issuer) = all
            .iter()
            .find(|c| c.summary.subject == current.issuer && c.summary.is_ca)
        else {
            break;
        };
        chain.push(issuer.cert.clone());
        current = issuer.summary.clone();
    }
    chain
}

/// The DER `DigestInfo` prefix for each hash (RFC 8017, 9.2 note 1).
fn digest_info(alg: DigestAlg, digest: &[u8]) -> Vec<u8> {
    let prefix: &[u8] = match alg {
        DigestAlg::Sha256 => &hex_literal(b"3031300d060960864801650304020105000420"),
        DigestAlg::Sha384 => &hex_literal(b"3041300d060960864801650304020205000430"),
        DigestAlg::Sha512 => &hex_literal(b"3051300d060960864801650304020305000440"),
    };
    [prefix, digest].concat()
}

fn hex_literal(h: &[u8]) -> Vec<u8> {
    hex::decode(h).expect("constant hex")
}

pub(crate) fn map_err(e: CkError) -> Error {
    match e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceError
            | RvError::TokenNotRecognized => Error::Removed,
            RvError::PinLocked => Error::PinLocked,
            RvError::PinExpired => Error::PinExpired,
            RvError::PinIncorrect => Error::PinIncorrect(PinState::default()),
            other => Error::Pkcs11(other.to_string()),
        },
        other => Error::Pkcs11(other.to_string()),
    }
}

// Changing the PIN (`kyso pin change`). Kept in its own impl blocks so the
// signing path above is untouched.
impl Module {
    /// The PIN lengths the token accepts (`ulMinPinLen`, `ulMaxPinLen`).
    pub fn pin_length_range(&self, token: &TokenInfo) -> Result<(usize, usize), Error> {
        let info = self.ctx().get_token_info(token.slot).map_err(map_err)?;
        Ok((info.min_pin_length(), info.max_pin_length()))
    }

    /// Opens a read-write session on `token`: `C_SetPIN` refuses a
    /// read-only one.
    pub fn open_rw(&self, token: &TokenInfo) -> Result<TokenSession<'_>, Error> {
        let session = self.ctx().open_rw_session(token.slot).map_err(map_err)?;
        self.session_on(token, session)
    }
}

impl TokenSession<'_> {
    /// Changes the user PIN with `C_SetPIN`, without logging in first, so
    /// the token itself checks `old`. Needs a session from
    /// [`Module::open_rw`]. A wrong old PIN is reported with the token's
    /// fresh flags and never retried; a locked token is not even tried.
    pub fn change_pin(&self, old: &AuthPin, new: &AuthPin) -> Result<(), Error> {
        let state = self.module.pin_state(&self.token)?;
        if state.locked {
            return Err(Error::PinLocked);
        }
        match self.session.set_pin(old, new) {
            Ok(()) => Ok(()),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => Err(Error::PinIncorrect(
                self.module.pin_state(&self.token).unwrap_or(state),
            )),
            Err(CkError::Pkcs11(RvError::PinInvalid | RvError::PinLenRange, _)) => {
                Err(Error::PinRejected)
            }
            Err(e) => Err(map_err(e)),
        }
    }
}
