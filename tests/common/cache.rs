//! Read-only artefacts (PKI, compiled shim) built once and shared by all
//! tests and test processes, under cargo's per-target temp dir.

use std::path::{Path, PathBuf};

/// `target/tmp` of this build (`CARGO_TARGET_TMPDIR`).
pub fn cache_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// Stable (FNV-1a, 64 bit) hex digest of `parts`, used to key cache entries
/// on the source that produced them, so editing the source rebuilds them.
pub fn content_hash(parts: &[&[u8]]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in part.iter().chain(b"\0") {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Makes sure `final_path` (a file or a directory) exists, running `build`
/// on a scratch path and renaming the result into place if it does not.
/// Safe against concurrent test processes: renames are atomic, and a loser
/// of the race just discards its own copy.
pub fn build_once(final_path: &Path, build: impl FnOnce(&Path)) {
    if final_path.exists() {
        return;
    }
    let root = final_path.parent().expect("cache path has a parent");
    std::fs::create_dir_all(root)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", root.display()));
    let scratch = tempfile::Builder::new()
        .prefix(".building-")
        .tempdir_in(root)
        .expect("create scratch dir for a cache entry");
    let built = scratch.path().join("out");
    build(&built);
    if let Err(e) = std::fs::rename(&built, final_path) {
        assert!(
            final_path.exists(),
            "cannot move {} to {}: {e}",
            built.display(),
            final_path.display()
        );
    }
}
