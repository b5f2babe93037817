//! Reading a whole file whose size is already known, in fewer system calls than `fs::read` (which
//! stats the file again and makes a last read to see the end) or `take(len).read_to_end` (which
//! reads in growing chunks): patches read every file they touch twice, and gen-docs reads
//! 100,000 results.

use std::fs::File;
use std::io::{ErrorKind, Read};

/// The bytes of `file`, which a stat just said is `len` bytes long. Reading stops once `len`
/// bytes are in; a file that turns out shorter is read to its end, one that grew is cut at `len`
/// (a caller that cares compares the stat again, as the apply's unchanged-check does).
pub(crate) fn read_sized(file: &mut File, len: u64) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| std::io::Error::other("file too large to read into memory"))?;
    let mut bytes = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stated_length_or_less() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello world").unwrap();
        let read = |len| read_sized(&mut File::open(&path).unwrap(), len).unwrap();
        assert_eq!(read(11), b"hello world");
        assert_eq!(read(5), b"hello", "a file that grew since its stat is cut at the stated length");
        assert_eq!(read(20), b"hello world", "a file that shrank is read to its end");
        assert_eq!(read(0), b"");
    }
}
