//! A throw-away PKI made with the `openssl` CLI: root CA -> issuing CA ->
//! end-entity signing certificates, with Vietnamese names in UTF8String.
//!
//! Generation (RSA key generation dominates) happens once per source version
//! into `target/tmp/pki-<hash>`; `Pki::new` copies that into the test's own
//! directory, so each test has private, writable copies.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::cache::{build_once, cache_root, content_hash};
use super::process::run_ok;

/// The end-entity certificates of the test PKI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signer {
    /// RSA-2048, a person: "Nguyễn Văn An".
    Personal,
    /// RSA-2048, an organisation: "UBND Tỉnh Thử Nghiệm".
    Org,
    /// ECDSA P-256: "Trần Thị Bích Ngọc".
    Ec,
    /// ECDSA P-384: "Lê Hoàng Phúc".
    Ec384,
    /// ECDSA P-256, valid 2020-01-01 .. 2021-01-01 only.
    Expired,
    /// ECDSA P-256 whose keyUsage is keyAgreement only (no signing).
    NoSigningUsage,
}

impl Signer {
    pub const ALL: [Signer; 6] = [
        Signer::Personal,
        Signer::Org,
        Signer::Ec,
        Signer::Ec384,
        Signer::Expired,
        Signer::NoSigningUsage,
    ];

    /// File stem and default PKCS#11 object label.
    pub fn name(self) -> &'static str {
        match self {
            Signer::Personal => "personal",
            Signer::Org => "org",
            Signer::Ec => "ec",
            Signer::Ec384 => "ec384",
            Signer::Expired => "expired",
            Signer::NoSigningUsage => "no-signing-usage",
        }
    }

    pub fn common_name(self) -> &'static str {
        match self {
            Signer::Personal => "Nguyễn Văn An",
            Signer::Org => "UBND Tỉnh Thử Nghiệm",
            Signer::Ec => "Trần Thị Bích Ngọc",
            Signer::Ec384 => "Lê Hoàng Phúc",
            Signer::Expired => "Phạm Văn Hết Hạn",
            Signer::NoSigningUsage => "Đỗ Minh Khóa",
        }
    }

    fn subject(self) -> String {
        let cn = self.common_name();
        match self {
            Signer::Org => format!("/C=VN/L=Thử Nghiệm/O=UBND Tỉnh Thử Nghiệm/CN={cn}"),
            _ => format!("/C=VN/L=Thử Nghiệm/O=UBND Tỉnh Thử Nghiệm/OU=Văn phòng/CN={cn}"),
        }
    }

    fn key_alg(self) -> KeyAlg {
        match self {
            Signer::Personal | Signer::Org => KeyAlg::Rsa2048,
            Signer::Ec | Signer::Expired | Signer::NoSigningUsage => KeyAlg::P256,
            Signer::Ec384 => KeyAlg::P384,
        }
    }

    fn extensions(self) -> &'static str {
        match self {
            Signer::NoSigningUsage => "v3_no_signing",
            _ => "v3_signer",
        }
    }

    fn validity(self) -> (&'static str, &'static str) {
        match self {
            Signer::Expired => ("20200101000000Z", "20210101000000Z"),
            _ => ("20240101000000Z", "20441231235959Z"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum KeyAlg {
    Rsa2048,
    P256,
    P384,
}

impl KeyAlg {
    fn genpkey_args(self) -> [&'static str; 4] {
        match self {
            KeyAlg::Rsa2048 => ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            KeyAlg::P256 => ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            KeyAlg::P384 => ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        }
    }
}

/// A certificate with its private key, in the usual encodings.
#[derive(Clone, Debug)]
pub struct KeyAndCert {
    pub common_name: &'static str,
    /// Private key, PKCS#8 PEM ("BEGIN PRIVATE KEY").
    pub key_pem: PathBuf,
    /// Private key, PKCS#8 DER.
    pub key_der: PathBuf,
    pub cert_pem: PathBuf,
    pub cert_der: PathBuf,
}

impl KeyAndCert {
    fn at(dir: &Path, stem: &str, common_name: &'static str) -> KeyAndCert {
        KeyAndCert {
            common_name,
            key_pem: dir.join(format!("{stem}.key.pem")),
            key_der: dir.join(format!("{stem}.key.der")),
            cert_pem: dir.join(format!("{stem}.cert.pem")),
            cert_der: dir.join(format!("{stem}.cert.der")),
        }
    }

    /// Lower-case hex SHA-256 of the DER certificate (what pyHanko prints).
    pub fn cert_sha256_hex(&self) -> String {
        use sha2::{Digest, Sha256};
        let der = std::fs::read(&self.cert_der)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.cert_der.display()));
        Sha256::digest(der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub fn cert_der_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.cert_der)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.cert_der.display()))
    }
}

const ROOT_CN: &str = "Kyso Test Root CA";
const INTERMEDIATE_CN: &str = "Kyso Test Issuing CA";

/// The whole test PKI, as files in one directory.
#[derive(Clone, Debug)]
pub struct Pki {
    pub dir: PathBuf,
    /// Self-signed RSA-2048 root.
    pub root: KeyAndCert,
    /// RSA-2048 issuing CA (pathlen 0) under the root.
    pub intermediate: KeyAndCert,
    /// Intermediate then root certificate, PEM.
    pub chain_pem: PathBuf,
    pub personal: KeyAndCert,
    pub org: KeyAndCert,
    pub ec: KeyAndCert,
    pub ec384: KeyAndCert,
    pub expired: KeyAndCert,
    pub no_signing_usage: KeyAndCert,
}

impl Pki {
    /// Puts a private copy of the test PKI into `dir/pki` and returns it.
    pub fn new(dir: &Path) -> Pki {
        let target = dir.join("pki");
        copy_dir(shared_pki_dir(), &target);
        Pki::at(&target)
    }

    fn at(dir: &Path) -> Pki {
        let ee = |s: Signer| KeyAndCert::at(dir, s.name(), s.common_name());
        Pki {
            dir: dir.to_path_buf(),
            root: KeyAndCert::at(dir, "root", ROOT_CN),
            intermediate: KeyAndCert::at(dir, "intermediate", INTERMEDIATE_CN),
            chain_pem: dir.join("chain.pem"),
            personal: ee(Signer::Personal),
            org: ee(Signer::Org),
            ec: ee(Signer::Ec),
            ec384: ee(Signer::Ec384),
            expired: ee(Signer::Expired),
            no_signing_usage: ee(Signer::NoSigningUsage),
        }
    }

    pub fn signer(&self, which: Signer) -> &KeyAndCert {
        match which {
            Signer::Personal => &self.personal,
            Signer::Org => &self.org,
            Signer::Ec => &self.ec,
            Signer::Ec384 => &self.ec384,
            Signer::Expired => &self.expired,
            Signer::NoSigningUsage => &self.no_signing_usage,
        }
    }
}

/// The generated PKI shared by all tests (never modify files in it).
fn shared_pki_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let hash = content_hash(&[include_bytes!("pki.rs")]);
        let dir = cache_root().join(format!("pki-{hash}"));
        build_once(&dir, generate);
        dir
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("read dir {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("read PKI dir entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

// ---------- generation ----------

const OPENSSL_CNF: &str = r#"
[req]
distinguished_name = dn
string_mask = utf8only
utf8 = yes
prompt = no

[dn]
CN = unused

[ca]
default_ca = ca_default

[ca_default]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db/new
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none

[policy_any]
commonName = supplied

[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[v3_intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[v3_signer]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[v3_no_signing]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyAgreement
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"#;

/// Writes the whole PKI into the (new) directory `dir`.
fn generate(dir: &Path) {
    std::fs::create_dir_all(dir.join("ca-db/new")).expect("create CA database dir");
    write(&dir.join("ca-db/index.txt"), "");
    write(&dir.join("ca-db/serial"), "1000\n");
    write(&dir.join("openssl.cnf"), OPENSSL_CNF);

    let ca = CaTool { dir };
    ca.key("root", KeyAlg::Rsa2048);
    ca.csr("root", &format!("/C=VN/O=Kyso Test PKI/CN={ROOT_CN}"));
    ca.issue(
        "root",
        None,
        "v3_root",
        ("20200101000000Z", "20491231235959Z"),
    );

    ca.key("intermediate", KeyAlg::Rsa2048);
    ca.csr(
        "intermediate",
        &format!("/C=VN/O=Kyso Test PKI/CN={INTERMEDIATE_CN}"),
    );
    ca.issue(
        "intermediate",
        Some("root"),
        "v3_intermediate",
        ("20200101000000Z", "20481231235959Z"),
    );

    for signer in Signer::ALL {
        let name = signer.name();
        ca.key(name, signer.key_alg());
        ca.csr(name, &signer.subject());
        ca.issue(
            name,
            Some("intermediate"),
            signer.extensions(),
            signer.validity(),
        );
    }

    let chain = [
        read(&dir.join("intermediate.cert.pem")),
        read(&dir.join("root.cert.pem")),
    ];
    write(&dir.join("chain.pem"), &chain.concat());
    std::fs::remove_dir_all(dir.join("ca-db")).expect("remove CA database");
    for entry in std::fs::read_dir(dir).expect("list PKI dir") {
        let path = entry.expect("PKI dir entry").path();
        if path.extension().is_some_and(|e| e == "csr") {
            std::fs::remove_file(&path).expect("remove CSR");
        }
    }
}

struct CaTool<'a> {
    dir: &'a Path,
}

impl CaTool<'_> {
    fn openssl(&self, args: &[&str]) {
        let mut cmd = Command::new("openssl");
        cmd.args(args).current_dir(self.dir);
        run_ok(&mut cmd);
    }

    /// `name.key.pem` (PKCS#8 PEM) and `name.key.der` (PKCS#8 DER).
    fn key(&self, name: &str, alg: KeyAlg) {
        let pem = format!("{name}.key.pem");
        let der = format!("{name}.key.der");
        let mut args = vec!["genpkey", "-out", &pem];
        args.extend(alg.genpkey_args());
        self.openssl(&args);
        self.openssl(&[
            "pkcs8", "-topk8", "-nocrypt", "-in", &pem, "-outform", "DER", "-out", &der,
        ]);
    }

    fn csr(&self, name: &str, subject: &str) {
        let key = format!("{name}.key.pem");
        let csr = format!("{name}.csr");
        self.openssl(&[
            "req",
            "-new",
            "-config",
            "openssl.cnf",
            "-utf8",
            "-key",
            &key,
            "-subj",
            subject,
            "-out",
            &csr,
        ]);
    }

    /// Issues `name.cert.pem`/`.der` from `name.csr`; `issuer: None` means
    /// self-signed.
    fn issue(&self, name: &str, issuer: Option<&str>, extensions: &str, validity: (&str, &str)) {
        let csr = format!("{name}.csr");
        let pem = format!("{name}.cert.pem");
        let der = format!("{name}.cert.der");
        let (issuer_cert, issuer_key) = match issuer {
            Some(i) => (Some(format!("{i}.cert.pem")), format!("{i}.key.pem")),
            None => (None, format!("{name}.key.pem")),
        };
        let mut args = vec![
            "ca",
            "-batch",
            "-config",
            "openssl.cnf",
            "-utf8",
            "-preserveDN",
            "-notext",
            "-in",
            &csr,
            "-out",
            &pem,
            "-keyfile",
            &issuer_key,
            "-extensions",
            extensions,
            "-startdate",
            validity.0,
            "-enddate",
            validity.1,
        ];
        match &issuer_cert {
            Some(cert) => args.extend(["-cert", cert.as_str()]),
            None => args.push("-selfsign"),
        }
        self.openssl(&args);
        self.openssl(&["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
