//! Writes the signed copy and digests the byte ranges in the same pass, then
//! fills the `/Contents` hole once the signature container exists.
//!
//! The input is streamed in 1 MiB blocks, each written and hashed once, so
//! memory stays flat whatever the document's size.

use std::fs::File;
use std::io::Write;
use std::sync::mpsc;

use super::reader::Document;
use super::update::Update;
use super::Error;
use crate::types::{DigestAlg, Hasher};

const BLOCK: usize = 1 << 20;
/// Files up to this size are copied in one buffer on one thread.
const SMALL_FILE: u64 = 4 << 20;
/// Blocks shared between the hashing reader and the writer.
const BLOCKS_IN_FLIGHT: usize = 4;

/// The digest of the signed byte ranges and where the hole sits in the output.
#[derive(Clone)]
pub struct PreparedDigest {
    /// The digest over `/ByteRange`.
    pub digest: Vec<u8>,
    /// The absolute offset of the hole's `<`.
    pub hole_offset: u64,
    /// The hole's length including `<` and `>`.
    pub hole_len: usize,
    /// SHA-256 of the original file, for the usage record.
    pub input_sha256: Vec<u8>,
    /// SHA-256 state after the original bytes, to finish the output's hash
    /// without reading the output again.
    file_hash: Hasher,
}

impl PreparedDigest {
    /// How many bytes of DER the hole can take.
    pub fn capacity(&self) -> usize {
        (self.hole_len - 2) / 2
    }

    /// SHA-256 of the finished output, given the filled update.
    pub fn output_sha256(&self, update: &Update) -> Vec<u8> {
        let mut h = self.file_hash.clone();
        h.update(&update.bytes);
        h.finish()
    }
}

/// Copies the original bytes of `doc` to `out`, appends `update`, and
/// returns the digest of everything outside the hole.
pub fn write_and_digest(
    doc: &Document,
    update: &Update,
    out: &mut File,
    alg: DigestAlg,
) -> Result<PreparedDigest, Error> {
    let mut hasher = alg.hasher();
    // The output's SHA-256 shares the original-bytes prefix with the range
    // digest; a second hasher runs only when the signature uses another hash.
    let mut file_hash = (alg != DigestAlg::Sha256).then(|| DigestAlg::Sha256.hasher());
    let len = doc.len();

    if len <= SMALL_FILE {
        // Not worth a thread: one buffer the size of the file.
        let mut buf = vec![0u8; len as usize];
        let n = read_exact_at(doc.file(), &mut buf, 0)?;
        hasher.update(&buf[..n]);
        if let Some(f) = file_hash.as_mut() {
            f.update(&buf[..n]);
        }
        out.write_all(&buf[..n])?;
        return finish(hasher, file_hash, update, out, len);
    }

    // Hashing and writing overlap: this thread reads and hashes block n+1
    // while a writer thread writes block n. A few blocks circulate between
    // the two, so memory stays at BLOCKS_IN_FLIGHT × BLOCK.
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BLOCKS_IN_FLIGHT);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..BLOCKS_IN_FLIGHT {
        empty_tx
            .send(vec![0u8; BLOCK])
            .expect("the receiver is alive");
    }
    let sink: &mut File = out;
    let (read_result, write_result) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> std::io::Result<()> {
            for (buf, n) in full_rx {
                sink.write_all(&buf[..n])?;
                // The reader may have stopped early; then nobody wants it back.
                let _ = empty_tx.send(buf);
            }
            Ok(())
        });
        let read_result = (|| -> Result<(), Error> {
            let mut offset = 0u64;
            while offset < len {
                // No buffer back means the writer failed; its error is reported.
                let Ok(mut buf) = empty_rx.recv() else {
                    return Ok(());
                };
                let want = BLOCK.min((len - offset) as usize);
                let n = read_at(doc.file(), &mut buf[..want], offset)?;
                if n == 0 {
                    return Err(Error::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the input file shrank while it was being signed",
                    )));
                }
                hasher.update(&buf[..n]);
                if let Some(f) = file_hash.as_mut() {
                    f.update(&buf[..n]);
                }
                if full_tx.send((buf, n)).is_err() {
                    return Ok(());
                }
                offset += n as u64;
            }
            Ok(())
        })();
        drop(full_tx);
        let write_result = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the writer thread panicked")));
        (read_result, write_result)
    });
    read_result?;
    write_result?;
    finish(hasher, file_hash, update, out, len)
}

/// Appends the update and closes both digests.
fn finish(
    hasher: Hasher,
    file_hash: Option<Hasher>,
    update: &Update,
    out: &mut File,
    len: u64,
) -> Result<PreparedDigest, Error> {
    let file_hash = file_hash.unwrap_or_else(|| hasher.clone());
    out.write_all(&update.bytes)?;
    Ok(digest_update(hasher, file_hash, update, len))
}

/// Feeds the update, less its hole, to the range digest that already holds
/// the original `len` bytes, and notes where the hole sits.
fn digest_update(
    mut hasher: Hasher,
    file_hash: Hasher,
    update: &Update,
    len: u64,
) -> PreparedDigest {
    let input_sha256 = file_hash.clone().finish();
    hasher.update(&update.bytes[..update.hole.start]);
    hasher.update(&update.bytes[update.hole.end..]);
    PreparedDigest {
        digest: hasher.finish(),
        hole_offset: len + update.hole.start as u64,
        hole_len: update.hole.len(),
        input_sha256,
        file_hash,
    }
}

/// Appends `update` to the file of `doc` itself (opened for writing as
/// `file`) and returns the digest of everything outside the hole. No copy is
/// made: for callers that own the input, such as the daemon's job files.
///
/// `prefix` is a SHA-256 state over exactly the original bytes, when the
/// caller already hashed them while receiving the file; with a SHA-256
/// signature the file is then not read at all.
pub fn append_and_digest(
    doc: &Document,
    update: &Update,
    file: &File,
    alg: DigestAlg,
    prefix: Option<Hasher>,
) -> Result<PreparedDigest, Error> {
    let len = doc.len();
    let (hasher, file_hash) = match prefix {
        Some(p) if alg == DigestAlg::Sha256 => (p.clone(), p),
        prefix => {
            let mut hasher = alg.hasher();
            let mut sha = prefix.is_none().then(|| DigestAlg::Sha256.hasher());
            let mut buf = vec![0u8; BLOCK.min(len as usize).max(1)];
            let mut offset = 0u64;
            while offset < len {
                let want = buf.len().min((len - offset) as usize);
                let n = read_exact_at(doc.file(), &mut buf[..want], offset)?;
                hasher.update(&buf[..n]);
                if let Some(s) = sha.as_mut() {
                    s.update(&buf[..n]);
                }
                offset += n as u64;
            }
            let file_hash = match (prefix, sha) {
                (Some(p), _) => p,
                (None, Some(s)) => s,
                (None, None) => unreachable!("one of the two is set"),
            };
            (hasher, file_hash)
        }
    };
    write_all_at(file, &update.bytes, len)?;
    Ok(digest_update(hasher, file_hash, update, len))
}

/// Writes the DER signature container into the hole, hex-encoded and
/// padded with zeros, in the output file and in `update`'s copy.
pub fn fill(
    out: &File,
    prepared: &PreparedDigest,
    update: &mut Update,
    der: &[u8],
) -> Result<(), Error> {
    if der.len() > prepared.capacity() {
        return Err(Error::ContentsTooSmall {
            needed: der.len(),
            reserved: prepared.capacity(),
        });
    }
    let mut hex = vec![b'0'; prepared.hole_len - 2];
    hex::encode_to_slice(der, &mut hex[..2 * der.len()])
        .expect("the slice is exactly twice the input");
    write_all_at(out, &hex, prepared.hole_offset + 1)?;
    let start = update.hole.start + 1;
    update.bytes[start..start + hex.len()].copy_from_slice(&hex);
    Ok(())
}

/// Reads `buf.len()` bytes at `offset`; an early end of file is an error.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> Result<usize, Error> {
    let mut done = 0;
    while done < buf.len() {
        let n = read_at(file, &mut buf[done..], offset + done as u64)?;
        if n == 0 {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the input file shrank while it was being signed",
            )));
        }
        done += n;
    }
    Ok(done)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, buf, offset)?;
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}
