//! The signed attributes of a PAdES baseline signature: content-type,
//! message-digest and ESS signing-certificate-v2. No signing-time: PAdES
//! (ETSI EN 319 142-1, 5.2.3) puts the claimed time in the PDF's `/M`.

use const_oid::db::rfc5911;
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Encode, Sequence};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::{Attribute, Attributes};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

use super::{digest_algorithm, Error};
use crate::types::DigestAlg;

/// `SigningCertificateV2` (RFC 5035).
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

/// `ESSCertIDv2`. The hash algorithm defaults to SHA-256 and DER omits a
/// default, so it is `None` for SHA-256.
#[derive(Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

#[derive(Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

fn attribute(oid: const_oid::ObjectIdentifier, value: Any) -> Result<Attribute, Error> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

/// Builds the signed attributes for `message_digest`, the digest of the
/// PDF byte ranges.
pub(super) fn signed_attributes(
    message_digest: &[u8],
    alg: DigestAlg,
    signer: &Certificate,
    signer_der: &[u8],
) -> Result<Attributes, Error> {
    let content_type = attribute(
        rfc5911::ID_CONTENT_TYPE,
        Any::encode_from(&rfc5911::ID_DATA)?,
    )?;
    let digest = attribute(
        rfc5911::ID_MESSAGE_DIGEST,
        Any::encode_from(&OctetString::new(message_digest)?)?,
    )?;
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: (alg != DigestAlg::Sha256).then(|| digest_algorithm(alg)),
            cert_hash: OctetString::new(alg.digest(signer_der))?,
            issuer_serial: Some(IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(
                    signer.tbs_certificate.issuer.clone(),
                )],
                serial_number: signer.tbs_certificate.serial_number.clone(),
            }),
        }],
    };
    let ess = attribute(
        rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2,
        Any::encode_from(&ess)?,
    )?;
    Ok(SetOfVec::try_from(vec![content_type, digest, ess])?)
}

/// The bytes the token signs: the attributes as a DER `SET OF` (RFC 5652, 5.4).
pub(super) fn to_be_signed(attrs: &Attributes) -> Result<Vec<u8>, Error> {
    Ok(attrs.to_der()?)
}
