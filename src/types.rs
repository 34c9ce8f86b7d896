//! Shared vocabulary with no I/O: digest algorithms and their hashers.

use sha2::Digest as _;

/// The digest algorithm of a signature. SHA-256 is the default; the
/// regulations accept nothing weaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestAlg {
    /// SHA-256 (the default).
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlg {
    /// The digest length in bytes.
    pub fn len(self) -> usize {
        match self {
            DigestAlg::Sha256 => 32,
            DigestAlg::Sha384 => 48,
            DigestAlg::Sha512 => 64,
        }
    }

    /// Always false; present because `len` is.
    pub fn is_empty(self) -> bool {
        false
    }

    /// A fresh hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        match self {
            DigestAlg::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            DigestAlg::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            DigestAlg::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// Hashes `data` in one call.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finish()
    }

    /// The name used on the command line and in the API.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlg::Sha256 => "sha256",
            DigestAlg::Sha384 => "sha384",
            DigestAlg::Sha512 => "sha512",
        }
    }
}

impl std::str::FromStr for DigestAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Ok(DigestAlg::Sha256),
            "sha384" => Ok(DigestAlg::Sha384),
            "sha512" => Ok(DigestAlg::Sha512),
            _ => Err(format!(
                "unknown digest '{s}' (use sha256, sha384 or sha512)"
            )),
        }
    }
}

/// A running hash of one of the [`DigestAlg`]s.
#[derive(Clone, Debug)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-384 state.
    Sha384(sha2::Sha384),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// Returns the digest.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// The signature scheme: what the token is asked to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigScheme {
    /// RSA PKCS#1 v1.5, the scheme the government CA's tokens use.
    RsaPkcs1v15,
    /// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash.
    RsaPss,
    /// ECDSA; the token returns r‖s, which the CMS carries as DER.
    Ecdsa,
}

/// The public key type and size, read from the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// ECDSA on a curve whose field elements are `bits` bits long.
    Ec {
        /// Field size in bits (256 for P-256).
        bits: usize,
    },
}

impl KeyKind {
    /// The longest raw signature the token can return, in bytes.
    pub fn max_raw_signature_len(self) -> usize {
        match self {
            KeyKind::Rsa { bits } => bits.div_ceil(8),
            KeyKind::Ec { bits } => 2 * bits.div_ceil(8),
        }
    }
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyKind::Rsa { bits } => write!(f, "RSA {bits}"),
            KeyKind::Ec { bits } => write!(f, "ECDSA P-{bits}"),
        }
    }
}
