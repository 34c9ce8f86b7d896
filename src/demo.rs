//! The demo token: a SoftHSM2 token in Kyso's data directory holding a
//! self-signed certificate plainly labelled DEMO, so a newcomer can try the
//! whole flow without hardware. It lives in its own SoftHSM2 token
//! directory, selected through `SOFTHSM2_CONF`, so real tokens are never
//! touched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use der::asn1::{BitString, OctetString, UintRef};
use der::{Any, Encode, Sequence};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;
use x509_cert::{Certificate, TbsCertificate, Version};

use crate::token::modules::{self, KNOWN_MODULES};

/// The demo token's label.
pub const LABEL: &str = "KYSO DEMO";
/// The demo token's user PIN. It protects nothing of value.
pub const PIN: &str = "123456";
const SO_PIN: &str = "12345678";
const SUBJECT: &str =
    "CN=KYSO DEMO - KHONG CO GIA TRI PHAP LY - NOT VALID FOR REAL USE,O=Kyso Demo,C=VN";

/// Why the demo token could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SoftHSM2 is not installed.
    #[error("SoftHSM2 is not installed (apt-get install softhsm2)")]
    NoSoftHsm,
    /// `kyso demo-token` has not been run.
    #[error("the demo token does not exist yet; run `kyso demo-token` first")]
    Missing,
    /// A file operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// SoftHSM2 refused an operation.
    #[error("SoftHSM2: {0}")]
    Pkcs11(#[from] cryptoki::error::Error),
    /// Building the certificate failed.
    #[error("certificate: {0}")]
    Der(#[from] der::Error),
}

/// Where the demo token lives.
pub struct DemoToken {
    /// The SoftHSM2 config file.
    pub conf: PathBuf,
    /// The SoftHSM2 module.
    pub module: PathBuf,
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("demo-token")
}

fn softhsm_module() -> Result<PathBuf, Error> {
    KNOWN_MODULES
        .iter()
        .filter(|m| m.vendor == "SoftHSM2" && m.os == modules::this_os())
        .map(|m| PathBuf::from(m.path))
        .find(|p| p.exists())
        .ok_or(Error::NoSoftHsm)
}

/// Points SoftHSM2 at the demo token. Call before any thread starts and
/// before the module is loaded: SoftHSM2 reads `SOFTHSM2_CONF` when loaded.
pub fn activate(data_dir: &Path) -> Result<DemoToken, Error> {
    let conf = dir(data_dir).join("softhsm2.conf");
    if !conf.exists() {
        return Err(Error::Missing);
    }
    std::env::set_var("SOFTHSM2_CONF", &conf);
    Ok(DemoToken {
        conf,
        module: softhsm_module()?,
    })
}

/// Creates the demo token (or recreates it with `force`).
pub fn create(data_dir: &Path, force: bool) -> Result<DemoToken, Error> {
    let dir = dir(data_dir);
    let conf = dir.join("softhsm2.conf");
    if conf.exists() && !force {
        return activate(data_dir);
    }
    let module = softhsm_module()?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens)?;
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )?;
    std::env::set_var("SOFTHSM2_CONF", &conf);

    let ctx = Pkcs11::new(&module)?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let result = init_token(&ctx);
    let _ = ctx.finalize();
    if let Err(e) = result {
        // A half-made demo token would only confuse the next run.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok(DemoToken { conf, module })
}

fn init_token(ctx: &Pkcs11) -> Result<(), Error> {
    let so_pin = AuthPin::from(SO_PIN);
    let pin = AuthPin::from(PIN);
    let free = ctx
        .get_all_slots()?
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|t| !t.token_initialized())
                .unwrap_or(false)
        })
        .ok_or(cryptoki::error::Error::NotSupported)?;
    ctx.init_token(free, &so_pin, LABEL)?;
    // SoftHSM2 renumbers slots after C_InitToken, so find the token by label.
    let slot = ctx
        .get_slots_with_token()?
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|t| t.label().trim() == LABEL)
                .unwrap_or(false)
        })
        .ok_or(cryptoki::error::Error::NotSupported)?;
    let session = ctx.open_rw_session(slot)?;
    session.login(UserType::So, Some(&so_pin))?;
    session.init_pin(&pin)?;
    session.logout()?;
    session.login(UserType::User, Some(&pin))?;

    let id = vec![1u8];
    let public_template = [
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::ModulusBits(2048.into()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::Id(id.clone()),
        Attribute::Label(b"KYSO DEMO".to_vec()),
    ];
    let private_template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Id(id.clone()),
        Attribute::Label(b"KYSO DEMO".to_vec()),
    ];
    let (public, private) = session.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &public_template,
        &private_template,
    )?;
    let attrs = session.get_attributes(
        public,
        &[AttributeType::Modulus, AttributeType::PublicExponent],
    )?;
    let (mut modulus, mut exponent) = (Vec::new(), Vec::new());
    for a in attrs {
        match a {
            Attribute::Modulus(m) => modulus = m,
            Attribute::PublicExponent(e) => exponent = e,
            _ => {}
        }
    }
    let spki = rsa_spki(&modulus, &exponent)?;
    let tbs = demo_tbs(spki)?;
    let subject = tbs.subject.to_der()?;
    let serial = tbs.serial_number.to_der()?;
    let signature = session.sign(&Mechanism::Sha256RsaPkcs, private, &tbs.to_der()?)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: sha256_with_rsa(),
        signature: BitString::from_bytes(&signature)?,
    };
    session.create_object(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Id(id),
        Attribute::Label(b"KYSO DEMO".to_vec()),
        Attribute::Subject(subject.clone()),
        Attribute::Issuer(subject),
        Attribute::SerialNumber(serial),
        Attribute::Value(cert.to_der()?),
    ])?;
    session.logout()?;
    Ok(())
}

#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    exponent: UintRef<'a>,
}

fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Result<SubjectPublicKeyInfoOwned, Error> {
    let key = RsaPublicKey {
        modulus: UintRef::new(modulus)?,
        exponent: UintRef::new(exponent)?,
    };
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        subject_public_key: BitString::from_bytes(&key.to_der()?)?,
    })
}

fn sha256_with_rsa() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: const_oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
        parameters: Some(Any::null()),
    }
}

fn demo_tbs(spki: SubjectPublicKeyInfoOwned) -> Result<TbsCertificate, Error> {
    let name: Name = SUBJECT.parse()?;
    let serial = crate::types::DigestAlg::Sha256.digest(&spki.to_der()?);
    let mut serial = serial[..16].to_vec();
    serial[0] &= 0x7f;
    let extensions = vec![
        Extension {
            extn_id: const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS,
            critical: true,
            extn_value: OctetString::new(
                BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                }
                .to_der()?,
            )?,
        },
        Extension {
            extn_id: const_oid::db::rfc5280::ID_CE_KEY_USAGE,
            critical: true,
            extn_value: OctetString::new(
                KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation).to_der()?,
            )?,
        },
    ];
    Ok(TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial)?,
        signature: sha256_with_rsa(),
        issuer: name.clone(),
        validity: Validity::from_now(Duration::from_secs(2 * 365 * 24 * 3600))?,
        subject: name,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    })
}
