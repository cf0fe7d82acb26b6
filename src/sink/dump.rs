//! `--dump FILE`: every accepted request as one line of OTLP/JSON, in the format of the
//! Collector's file exporter (so the same tools read what the simulator writes with
//! `--output` and what the sink received).
//!
//! Lines are written under a lock, whole, through a buffer that is flushed on shutdown. A
//! channel to a writer task was the alternative; the lock is held only for one `write_all`,
//! and dumping is a debugging aid, not the benchmark path.

use crate::encode::payload::{Format, OtlpRequest};
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::sync::Mutex;

pub(crate) struct Dump {
    out: Mutex<BufWriter<std::fs::File>>,
}

impl Dump {
    pub fn create(path: &Path) -> std::io::Result<Dump> {
        Ok(Dump {
            out: Mutex::new(BufWriter::new(std::fs::File::create(path)?)),
        })
    }

    /// Appends `request` as one line. Write errors are reported once, on [`Dump::finish`].
    pub fn write(&self, request: &OtlpRequest) {
        let mut line = Vec::new();
        // The sink decoded this request itself, so it serialises; if not, no half line.
        if request.encode(Format::Json, &mut line).is_err() {
            return;
        }
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(&line);
    }

    pub fn finish(&self) -> std::io::Result<()> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}
