//! What a person needs to recognise a certificate, read with x509-parser:
//! subject, issuer, serial, validity, key type and size.

use chrono::{DateTime, Utc};
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::types::KeyKind;

/// A readable summary of a certificate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CertSummary {
    /// The subject as an RFC 4514 string.
    pub subject: String,
    /// The subject's common name, or the whole subject when it has none.
    pub common_name: String,
    /// The issuer as an RFC 4514 string.
    pub issuer: String,
    /// The serial number in upper-case hex.
    pub serial: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// The key type and size.
    #[serde(serialize_with = "display")]
    pub key: KeyKind,
    /// Whether the certificate is a CA (basicConstraints cA).
    pub is_ca: bool,
    /// Whether keyUsage allows signing documents (digitalSignature or
    /// nonRepudiation); true when the extension is absent.
    pub can_sign: bool,
    /// SHA-256 of the DER, upper-case hex.
    pub sha256: String,
}

fn display<S: serde::Serializer>(v: &KeyKind, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl CertSummary {
    /// Parses `der`. Returns `None` for something that is not an X.509
    /// certificate with an RSA or EC key.
    pub fn parse(der: &[u8]) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let key = match cert.public_key().parsed().ok()? {
            PublicKey::RSA(rsa) => KeyKind::Rsa {
                bits: bit_length(rsa.modulus),
            },
            PublicKey::EC(ec) => KeyKind::Ec {
                bits: ec.key_size(),
            },
            _ => return None,
        };
        let ts = |t: ASN1Time| DateTime::<Utc>::from_timestamp(t.timestamp(), 0);
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| cert.subject().to_string());
        Some(CertSummary {
            subject: cert.subject().to_string(),
            common_name,
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string().replace(':', "").to_uppercase(),
            not_before: ts(cert.validity().not_before)?,
            not_after: ts(cert.validity().not_after)?,
            key,
            is_ca: cert
                .basic_constraints()
                .ok()
                .flatten()
                .is_some_and(|bc| bc.value.ca),
            can_sign: match cert.key_usage() {
                Ok(Some(ku)) => ku.value.digital_signature() || ku.value.non_repudiation(),
                _ => true,
            },
            sha256: hex::encode_upper(crate::types::DigestAlg::Sha256.digest(der)),
        })
    }

    /// Whether `now` falls within the validity period.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// The bit length of a big-endian unsigned integer. (x509-parser's
/// `RSAPublicKey::key_size` assumes a leading zero byte.)
fn bit_length(be: &[u8]) -> usize {
    let be = &be[be.iter().take_while(|&&b| b == 0).count()..];
    match be.first() {
        Some(&b) => 8 * be.len() - b.leading_zeros() as usize,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(super::bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(super::bit_length(&[0x01, 0]), 9);
        assert_eq!(super::bit_length(&[]), 0);
    }
}
