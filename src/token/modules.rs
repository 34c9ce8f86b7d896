//! Where PKCS#11 modules live. One table for every platform, in the order
//! auto-detection tries them: the vendors of the government CA's tokens
//! first, then OpenSC, then SoftHSM2 (tests and the demo token).

use std::path::{Path, PathBuf};

/// A known module: who ships it and where it installs.
#[derive(Debug, Clone, Copy)]
pub struct KnownModule {
    /// The vendor or product.
    pub vendor: &'static str,
    /// The platform (`linux`, `windows`, `macos`).
    pub os: &'static str,
    /// The install path, or a bare file name that the loader searches for.
    pub path: &'static str,
}

/// Every module Kyso looks for, in search order.
pub const KNOWN_MODULES: &[KnownModule] = &[
    // SafeNet eToken (Thales SafeNet Authentication Client).
    KnownModule {
        vendor: "SafeNet eToken",
        os: "linux",
        path: "/usr/lib/libeTPkcs11.so",
    },
    KnownModule {
        vendor: "SafeNet eToken",
        os: "linux",
        path: "/usr/lib64/libeTPkcs11.so",
    },
    KnownModule {
        vendor: "SafeNet eToken",
        os: "windows",
        path: "C:\\Windows\\System32\\eTPKCS11.dll",
    },
    KnownModule {
        vendor: "SafeNet eToken",
        os: "macos",
        path: "/usr/local/lib/libeTPkcs11.dylib",
    },
    // Bit4id, as shipped with the government CA's (Ban Cơ yếu) tokens.
    KnownModule {
        vendor: "Bit4id",
        os: "linux",
        path: "/usr/lib/bit4id/libbit4xpki.so",
    },
    KnownModule {
        vendor: "Bit4id",
        os: "linux",
        path: "/usr/lib/libbit4xpki.so",
    },
    KnownModule {
        vendor: "Bit4id",
        os: "windows",
        path: "C:\\Windows\\System32\\bit4xpki.dll",
    },
    KnownModule {
        vendor: "Bit4id",
        os: "macos",
        path: "/usr/local/lib/bit4id/libbit4xpki.dylib",
    },
    KnownModule {
        vendor: "Bit4id",
        os: "macos",
        path: "/Library/bit4id/pkcs11/libbit4xpki.dylib",
    },
    // OpenSC, for PIV and CardOS cards.
    KnownModule {
        vendor: "OpenSC",
        os: "linux",
        path: "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    },
    KnownModule {
        vendor: "OpenSC",
        os: "linux",
        path: "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    },
    KnownModule {
        vendor: "OpenSC",
        os: "linux",
        path: "/usr/lib64/opensc-pkcs11.so",
    },
    KnownModule {
        vendor: "OpenSC",
        os: "windows",
        path: "C:\\Windows\\System32\\opensc-pkcs11.dll",
    },
    KnownModule {
        vendor: "OpenSC",
        os: "macos",
        path: "/Library/OpenSC/lib/opensc-pkcs11.so",
    },
    // SoftHSM2: software tokens for tests and the demo.
    KnownModule {
        vendor: "SoftHSM2",
        os: "linux",
        path: "/usr/lib/softhsm/libsofthsm2.so",
    },
    KnownModule {
        vendor: "SoftHSM2",
        os: "linux",
        path: "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    },
    KnownModule {
        vendor: "SoftHSM2",
        os: "windows",
        path: "C:\\SoftHSM2\\lib\\softhsm2-x64.dll",
    },
    KnownModule {
        vendor: "SoftHSM2",
        os: "macos",
        path: "/opt/homebrew/lib/softhsm/libsofthsm2.so",
    },
    KnownModule {
        vendor: "SoftHSM2",
        os: "macos",
        path: "/usr/local/lib/softhsm/libsofthsm2.so",
    },
];

/// The current platform's name as used in [`KNOWN_MODULES`].
pub fn this_os() -> &'static str {
    if cfg!(windows) {
        "windows"
    } else if cfg!(target_os = "macos") {
        "macos"
    } else {
        "linux"
    }
}

/// The known modules for this platform that exist on disk, in search order.
pub fn detect() -> Vec<&'static KnownModule> {
    KNOWN_MODULES
        .iter()
        .filter(|m| m.os == this_os() && Path::new(m.path).exists())
        .collect()
}

/// The paths auto-detection looks at on this platform.
pub fn searched_paths() -> Vec<PathBuf> {
    KNOWN_MODULES
        .iter()
        .filter(|m| m.os == this_os())
        .map(|m| PathBuf::from(m.path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_the_required_vendors_on_every_platform() {
        for vendor in ["SafeNet eToken", "Bit4id", "OpenSC", "SoftHSM2"] {
            for os in ["linux", "windows", "macos"] {
                assert!(
                    KNOWN_MODULES
                        .iter()
                        .any(|m| m.vendor == vendor && m.os == os),
                    "{vendor} has no {os} entry"
                );
            }
        }
        assert!(KNOWN_MODULES
            .iter()
            .any(|m| m.path.ends_with("libeTPkcs11.so")));
        assert!(KNOWN_MODULES
            .iter()
            .any(|m| m.path.ends_with("eTPKCS11.dll")));
        assert!(KNOWN_MODULES
            .iter()
            .any(|m| m.path.ends_with("libbit4xpki.so")));
        assert!(KNOWN_MODULES
            .iter()
            .any(|m| m.path.ends_with("bit4xpki.dll")));
    }
}
