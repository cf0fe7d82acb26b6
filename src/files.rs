//! Writing the small files the tool leaves for others to read: `--port-file`, `--summary-json`.
//!
//! A reader polling for such a file must never see it half-written, so a regular path is written
//! to a temporary file beside it and renamed into place. The temporary file is created
//! exclusively (`O_CREAT|O_EXCL`, which also refuses to follow a symlink) under a name with a
//! random part, so a symlink planted in the folder is never written through; the alternative, a
//! predictable `<path>.tmp<pid>` opened with `fs::write`, followed whatever was planted there.
//!
//! Paths that are not regular files are written directly, with no temporary file and no rename,
//! because the folder of a device is not writable by a non-root user and a rename would replace
//! the device: `-` and `/dev/stdout` (also `/dev/fd/1`, `/proc/self/fd/1`) are this process's
//! standard output, written through the descriptor it already has (opening `/dev/stdout` again
//! fails for a non-root user when the pipe belongs to root, as in a container); `/dev/stderr`
//! likewise; other existing non-regular files (FIFOs, character devices such as `/dev/null`)
//! are opened for writing as they are.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How many random names are tried before giving up (each collision is astronomically unlikely
/// unless someone plants files; a handful of tries then reports the folder's problem).
const NAME_ATTEMPTS: usize = 8;

/// Writes `contents` to `path`: atomically (exclusive temporary file, then rename) for a regular
/// or new file; directly for standard output/error and other non-regular files.
pub fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    match stream(path) {
        Some(Stream::Stdout) => return write_flush(&mut std::io::stdout().lock(), contents),
        Some(Stream::Stderr) => return write_flush(&mut std::io::stderr().lock(), contents),
        None => {}
    }
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => {
            let mut file = OpenOptions::new().write(true).open(path)?;
            write_flush(&mut file, contents)
        }
        _ => write_atomically(path, contents, random_suffix),
    }
}

/// Whether `path` names standard output (`-` included) or standard error.
pub fn is_stdout(path: &Path) -> bool {
    matches!(stream(path), Some(Stream::Stdout))
}

enum Stream {
    Stdout,
    Stderr,
}

fn stream(path: &Path) -> Option<Stream> {
    match path.to_str()? {
        "-" | "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1" => Some(Stream::Stdout),
        "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2" => Some(Stream::Stderr),
        _ => None,
    }
}

fn write_flush(out: &mut impl Write, contents: &[u8]) -> std::io::Result<()> {
    out.write_all(contents)?;
    out.flush()
}

fn random_suffix() -> String {
    format!("{}.{:016x}", std::process::id(), rand::random::<u64>())
}

/// The atomic write, with the temporary names drawn from `suffix` (tests plant files at them).
fn write_atomically(
    path: &Path,
    contents: &[u8],
    mut suffix: impl FnMut() -> String,
) -> std::io::Result<()> {
    let (mut file, tmp) = create_temp(path, &mut suffix)?;
    let written = write_flush(&mut file, contents)
        .and_then(|()| file.sync_data())
        .and_then(|()| {
            drop(file);
            std::fs::rename(&tmp, path)
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A new file beside `path`, `.<name>.<suffix>.tmp`, created exclusively.
fn create_temp(
    path: &Path,
    suffix: &mut impl FnMut() -> String,
) -> std::io::Result<(std::fs::File, PathBuf)> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let mut last = None;
    for _ in 0..NAME_ATTEMPTS {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", suffix()));
        let tmp = path.with_file_name(tmp_name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.expect("at least one attempt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_replaced_whole_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        std::fs::write(&path, "old contents, longer than the new").unwrap();
        write(&path, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_symlink_planted_at_the_temporary_name_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("port");
        // The first name tried is taken by a symlink to the victim (and a dangling one too).
        std::os::unix::fs::symlink(&victim, dir.path().join(".port.planted.tmp")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("nowhere"),
            dir.path().join(".port.dangling.tmp"),
        )
        .unwrap();
        let mut names = ["planted", "dangling", "fresh"].into_iter();
        write_atomically(&path, b"4318\n", || names.next().unwrap().to_string()).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4318\n");
        assert!(!dir.path().join(".port.fresh.tmp").exists());
    }

    #[test]
    fn only_planted_names_is_an_error_not_a_write_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(".port.x.tmp")).unwrap();
        let path = dir.path().join("port");
        let error = write_atomically(&path, b"1\n", || "x".to_string()).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!path.exists());
    }

    #[test]
    fn temporary_names_are_unpredictable() {
        assert_ne!(random_suffix(), random_suffix());
    }

    #[test]
    fn a_device_is_written_directly() {
        // /dev/null's folder is not writable by everyone: a temporary file there would fail.
        write(Path::new("/dev/null"), b"{}\n").unwrap();
        assert!(Path::new("/dev/null").exists());
        assert!(is_stdout(Path::new("/dev/stdout")));
        assert!(is_stdout(Path::new("-")));
        assert!(!is_stdout(Path::new("/dev/stderr")));
    }

    #[test]
    fn a_fifo_is_written_directly() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            panic!("mkfifo (coreutils) is needed for this test");
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write(&fifo, b"through the pipe\n").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
