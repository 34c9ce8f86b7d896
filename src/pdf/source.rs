//! Positional reads from the input file, so only the parts that the update
//! needs are ever in memory.

use std::fs::File;
use std::io;

pub(crate) struct Source {
    file: File,
    len: u64,
}

impl Source {
    pub(crate) fn new(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Source { file, len })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Reads up to `len` bytes at `offset`; shorter only at the end of file.
    pub(crate) fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let end = self.len.min(offset.saturating_add(len as u64));
        let want = end.saturating_sub(offset) as usize;
        let mut buf = vec![0u8; want];
        let mut done = 0;
        while done < want {
            let n = read_at(&self.file, &mut buf[done..], offset + done as u64)?;
            if n == 0 {
                buf.truncate(done);
                break;
            }
            done += n;
        }
        Ok(buf)
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}
