//! Reading a file the user named: the one door every scenario, schema and certificate file goes
//! through.
//!
//! A path on the command line can be anything: `/dev/zero` (endless), a FIFO (blocks until someone
//! writes), a directory, or a multi-gigabyte log given by mistake. [`read`] refuses what is not a
//! regular file before opening it (opening a FIFO for reading would already block), checks the
//! opened file again (the path may have changed in between), and reads at most `limit + 1` bytes,
//! so even a file whose size the metadata misreports (procfs, a file still growing) cannot flood
//! memory: one byte over the budget is enough to refuse it. Trusting `metadata().len()` alone and
//! then calling `std::fs::read` was the rejected alternative; it is exactly what let
//! `validate /dev/zero` grow without bound.
//!
//! Errors come back as `std::io::Error` wrapping a typed [`ReadError`], so every caller keeps its
//! existing "cannot read PATH: …" error variant and message.

use std::fs::{File, FileType};
use std::io::{self, Read};
use std::path::Path;

/// The most bytes a scenario or schema file may have: far beyond any hand-written file, and
/// the same as the YAML parser's budget for all scalars together.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Why a user's file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a regular file ({0}); give the path of a file")]
    NotRegular(&'static str),
    #[error("the file is larger than the limit of {} MiB", .limit >> 20)]
    TooLarge { limit: u64 },
}

impl From<ReadError> for io::Error {
    fn from(error: ReadError) -> io::Error {
        let kind = match error {
            ReadError::NotRegular(_) => io::ErrorKind::InvalidInput,
            ReadError::TooLarge { .. } => io::ErrorKind::FileTooLarge,
        };
        io::Error::new(kind, error)
    }
}

/// Reads the regular file at `path`, refusing anything else and anything over `limit` bytes.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    // Before opening: opening a FIFO for reading blocks until a writer appears.
    check_type(std::fs::metadata(path)?.file_type())?;
    let file = File::open(path)?;
    let metadata = file.metadata()?;
    check_type(metadata.file_type())?;
    if metadata.len() > limit {
        return Err(ReadError::TooLarge { limit }.into());
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit }.into());
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"))
}

fn check_type(file_type: FileType) -> Result<(), ReadError> {
    if file_type.is_file() {
        return Ok(());
    }
    Err(ReadError::NotRegular(describe(file_type)))
}

fn describe(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn refusal(result: io::Result<Vec<u8>>) -> String {
        let error = result.expect_err("must be refused");
        assert!(
            error.get_ref().is_some_and(|inner| inner.is::<ReadError>()),
            "{error:?}"
        );
        error.to_string()
    }

    #[test]
    fn a_regular_file_within_the_limit_is_read_whole() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"root: {}\n").unwrap();
        assert_eq!(read(file.path(), 9).unwrap(), b"root: {}\n");
    }

    #[test]
    fn one_byte_over_the_limit_is_refused() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&[b'x'; 11]).unwrap();
        let message = refusal(read(file.path(), 10));
        assert!(message.contains("larger than the limit"), "{message}");
    }

    #[test]
    fn devices_and_directories_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        assert!(refusal(read(dir.path(), MAX_FILE_BYTES)).contains("a directory"));
        #[cfg(unix)]
        assert!(
            refusal(read(Path::new("/dev/zero"), MAX_FILE_BYTES)).contains("a character device")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(refusal(read(&fifo, MAX_FILE_BYTES)).contains("a FIFO"));
    }

    #[test]
    fn a_missing_file_is_the_usual_not_found() {
        let error = read(Path::new("/no/such/file.yaml"), 10).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
