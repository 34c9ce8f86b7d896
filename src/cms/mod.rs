//! The signature container: a detached CMS SignedData as PAdES baseline B-B
//! requires (SubFilter `ETSI.CAdES.detached`), built with the `cms` crate.
//!
//! Sans-IO in two steps, so the token call sits between them and this module
//! never sees a token:
//! 1. [`ToBeSigned::new`] turns the document digest into signed attributes
//!    and the exact bytes the key must sign;
//! 2. [`ToBeSigned::assemble`] wraps the raw signature, the signer
//!    certificate and its chain into the DER that goes into `/Contents`.
//!
//! [`estimate_len`] sizes the `/Contents` hole by assembling once with a
//! signature of the largest length the key can produce.

mod attributes;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{OctetString, SetOfVec, UintRef};
use der::{Any, Decode, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attributes;
use x509_cert::Certificate;

use crate::describe::Describe;
use crate::types::{DigestAlg, KeyKind, SigScheme};

/// Why a signature container could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A certificate could not be parsed as DER X.509.
    #[error("invalid certificate: {0}")]
    Certificate(der::Error),
    /// DER encoding failed.
    #[error("DER encoding failed: {0}")]
    Der(#[from] der::Error),
    /// The token returned a signature of the wrong shape.
    #[error("the token returned a malformed {0} signature")]
    BadSignature(&'static str),
}

impl Describe for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Certificate(_) => "CERT_INVALID",
            Error::Der(_) => "INTERNAL_CMS",
            Error::BadSignature(_) => "TOKEN_BAD_SIGNATURE",
        }
    }
    fn en(&self) -> String {
        match self {
            Error::Certificate(_) => "The certificate on the token cannot be read.".into(),
            Error::Der(e) => format!("Internal error while building the signature: {e}."),
            Error::BadSignature(_) => {
                "The token returned an invalid signature. Try again or use another token.".into()
            }
        }
    }
    fn vi(&self) -> String {
        match self {
            Error::Certificate(_) => "Không đọc được chứng thư số trên thiết bị ký.".into(),
            Error::Der(e) => format!("Lỗi nội bộ khi tạo chữ ký: {e}."),
            Error::BadSignature(_) => {
                "Thiết bị ký trả về chữ ký không hợp lệ. Hãy thử lại hoặc dùng thiết bị khác."
                    .into()
            }
        }
    }
}

/// A certificate kept both as DER (for hashing and embedding) and parsed.
#[derive(Clone, Debug)]
pub struct Cert {
    der: Vec<u8>,
    parsed: Certificate,
}

impl Cert {
    /// Parses a DER certificate.
    pub fn from_der(der: Vec<u8>) -> Result<Self, Error> {
        let parsed = Certificate::from_der(&der).map_err(Error::Certificate)?;
        Ok(Cert { der, parsed })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// The signed attributes and the bytes the key must sign.
pub struct ToBeSigned {
    attrs: Attributes,
    bytes: Vec<u8>,
    alg: DigestAlg,
    scheme: SigScheme,
}

impl ToBeSigned {
    /// Builds the signed attributes over `document_digest` (the digest of the
    /// PDF byte ranges, computed with `alg`).
    pub fn new(
        document_digest: &[u8],
        alg: DigestAlg,
        scheme: SigScheme,
        signer: &Cert,
    ) -> Result<Self, Error> {
        let attrs =
            attributes::signed_attributes(document_digest, alg, &signer.parsed, &signer.der)?;
        let bytes = attributes::to_be_signed(&attrs)?;
        Ok(ToBeSigned {
            attrs,
            bytes,
            alg,
            scheme,
        })
    }

    /// The DER of the signed attributes: the message the key signs.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Wraps `raw_signature` (as the token returned it) into the DER
    /// `ContentInfo` for `/Contents`. `chain` holds the issuer certificates
    /// to embed after the signer's.
    pub fn assemble(
        self,
        raw_signature: &[u8],
        signer: &Cert,
        chain: &[Cert],
    ) -> Result<Vec<u8>, Error> {
        let signature = match self.scheme {
            SigScheme::Ecdsa => ecdsa_raw_to_der(raw_signature)?,
            SigScheme::RsaPkcs1v15 | SigScheme::RsaPss => raw_signature.to_vec(),
        };
        let digest_alg = digest_algorithm(self.alg);
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: signer.parsed.tbs_certificate.issuer.clone(),
                serial_number: signer.parsed.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: digest_alg.clone(),
            signed_attrs: Some(self.attrs),
            signature_algorithm: signature_algorithm(self.scheme, self.alg)?,
            signature: OctetString::new(signature)?,
            unsigned_attrs: None,
        };
        let mut certs = vec![CertificateChoices::Certificate(signer.parsed.clone())];
        for c in chain {
            if c.der != signer.der {
                certs.push(CertificateChoices::Certificate(c.parsed.clone()));
            }
        }
        let signed_data = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![digest_alg])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: rfc5911::ID_DATA,
                econtent: None,
            },
            certificates: Some(CertificateSet(SetOfVec::try_from(certs)?)),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
        };
        let info = ContentInfo {
            content_type: rfc5911::ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data)?,
        };
        Ok(info.to_der()?)
    }
}

/// The exact size of the container for a key of kind `key`, taking the
/// largest signature that key can return.
pub fn estimate_len(
    alg: DigestAlg,
    scheme: SigScheme,
    key: KeyKind,
    signer: &Cert,
    chain: &[Cert],
) -> Result<usize, Error> {
    let tbs = ToBeSigned::new(&vec![0u8; alg.len()], alg, scheme, signer)?;
    let dummy = vec![0xffu8; key.max_raw_signature_len()];
    Ok(tbs.assemble(&dummy, signer, chain)?.len())
}

pub(crate) fn digest_algorithm(alg: DigestAlg) -> AlgorithmIdentifierOwned {
    let oid = match alg {
        DigestAlg::Sha256 => rfc5912::ID_SHA_256,
        DigestAlg::Sha384 => rfc5912::ID_SHA_384,
        DigestAlg::Sha512 => rfc5912::ID_SHA_512,
    };
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

/// `RSASSA-PSS-params` (RFC 4055).
#[derive(Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_len: Option<u32>,
}

fn signature_algorithm(
    scheme: SigScheme,
    alg: DigestAlg,
) -> Result<AlgorithmIdentifierOwned, Error> {
    Ok(match scheme {
        // rsaEncryption is what CAdES validators expect for PKCS#1 v1.5 in a
        // SignerInfo (RFC 3370, 3.2); the hash is named by digestAlgorithm.
        SigScheme::RsaPkcs1v15 => AlgorithmIdentifierOwned {
            oid: rfc5912::RSA_ENCRYPTION,
            parameters: Some(Any::null()),
        },
        SigScheme::RsaPss => {
            let hash = digest_algorithm(alg);
            let params = PssParams {
                hash: Some(hash.clone()),
                mask_gen: Some(AlgorithmIdentifierOwned {
                    oid: rfc5912::ID_MGF_1,
                    parameters: Some(Any::encode_from(&hash)?),
                }),
                salt_len: Some(alg.len() as u32),
            };
            AlgorithmIdentifierOwned {
                oid: rfc5912::ID_RSASSA_PSS,
                parameters: Some(Any::encode_from(&params)?),
            }
        }
        SigScheme::Ecdsa => AlgorithmIdentifierOwned {
            oid: match alg {
                DigestAlg::Sha256 => rfc5912::ECDSA_WITH_SHA_256,
                DigestAlg::Sha384 => rfc5912::ECDSA_WITH_SHA_384,
                DigestAlg::Sha512 => rfc5912::ECDSA_WITH_SHA_512,
            },
            parameters: None,
        },
    })
}

#[derive(Sequence)]
struct EcdsaSigValue<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// PKCS#11 returns ECDSA signatures as r‖s; CMS wants `ECDSA-Sig-Value`.
fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>, Error> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(Error::BadSignature("ECDSA"));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let value = EcdsaSigValue {
        r: UintRef::new(r)?,
        s: UintRef::new(s)?,
    };
    Ok(value.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_conversion_strips_and_pads() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x00;
        raw[1] = 0x7f;
        raw[32] = 0x80;
        let der = ecdsa_raw_to_der(&raw).unwrap();
        // r loses its leading zero bytes; s gains one because its top bit is set.
        assert_eq!(&der[..4], &[0x30, der[1], 0x02, 31]);
        assert_eq!(der[4], 0x7f);
        assert!(ecdsa_raw_to_der(&raw[..63]).is_err());
    }
}
