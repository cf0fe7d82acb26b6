//! Outputs that are not an OTLP endpoint: a file (or stdout) of OTLP/JSON lines, and nothing
//! at all.
//!
//! The file format is the Collector's file exporter's: one `Export*ServiceRequest` in OTLP/JSON
//! per line, so the Collector's `otlpjsonfile` receiver (or `jq`) can read it back. Both are
//! [`Transport`]s, so a run to a file or to nowhere is queued, counted and summarised exactly
//! like a run to a collector; a separate code path for "just print it" was rejected because
//! its numbers would not be comparable.

use super::Signal;
use super::export::{Attempt, Transport};
use super::payload::{Compression, Format, Payload};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Appends each request as one line of OTLP/JSON. Clones share the same file.
#[derive(Clone)]
pub struct FileTransport {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    name: String,
}

impl FileTransport {
    /// Creates (truncates) `path`; `-` is stdout.
    pub fn create(path: &Path) -> std::io::Result<FileTransport> {
        let (out, name): (Box<dyn Write + Send>, String) = if path == Path::new("-") {
            (Box::new(std::io::stdout()), "stdout".into())
        } else {
            (
                Box::new(std::fs::File::create(path)?),
                path.display().to_string(),
            )
        };
        Ok(FileTransport {
            out: Arc::new(Mutex::new(out)),
            name,
        })
    }
}

impl Transport for FileTransport {
    fn encoding(&self, _: Signal) -> (Format, Compression) {
        (Format::Json, Compression::None)
    }

    async fn attempt(&self, _: Signal, payload: &Payload) -> Attempt {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let written = out
            .write_all(&payload.body)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        match written {
            Ok(()) => Attempt::Accepted {
                rejected: 0,
                message: String::new(),
            },
            Err(e) => Attempt::Permanent {
                reason: format!("cannot write to {}: {e}", self.name),
            },
        }
    }
}

/// Accepts everything and sends nothing: for measuring generation and encoding alone.
pub struct NullTransport {
    pub format: Format,
    pub compression: Compression,
}

impl Transport for NullTransport {
    fn encoding(&self, _: Signal) -> (Format, Compression) {
        (self.format, self.compression)
    }

    async fn attempt(&self, _: Signal, _: &Payload) -> Attempt {
        Attempt::Accepted {
            rejected: 0,
            message: String::new(),
        }
    }
}
