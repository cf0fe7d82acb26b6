//! What the sink lets one client cost it: bytes and items per request, memory once decoded,
//! requests decoded at once, connections, and how long a client may take to send a request.
//!
//! The sink is a receiver anyone on the network can reach, so a request must not be able to
//! cost more than it says: a 64 KB gzip'd request of empty messages would otherwise decode into
//! gigabytes, and half-sent requests would otherwise hold connections (and file descriptors)
//! forever. Each limit refuses with a status a client understands (413 / RESOURCE_EXHAUSTED,
//! 408) and is counted; none of them bites a real exporter's batches.
//!
//! Decoding is gated by a semaphore ([`DecodeGate`]) taken after the body has arrived, not
//! before: taking it before reading the body would let slow senders hold every permit. What
//! a body costs before the gate is what the client sent (one byte per byte, bounded by the body
//! limit and the connection cap); what it may cost after (decompression, decoding) is bounded
//! per request and by the number of permits. A global memory budget shared by weighted permits
//! was the alternative: exact, but it needs the decoded size before the permit is taken, which
//! means decompressing outside the gate.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::cost::Budget;

/// The limits of a running sink (see the module doc). [`Default`] gives the documented
/// defaults of `telemetry-simulator sink`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkLimits {
    /// Largest request body, as received and after decompression (larger gets 413).
    pub max_body: usize,
    /// Most messages (resources, scopes, spans, attributes, values, points, records...) one
    /// request may hold (more gets 413).
    pub max_items: u64,
    /// Most memory one request may take once decoded, as estimated before decoding it.
    pub max_decoded_bytes: u64,
    /// Requests decompressed and decoded at once; the rest wait their turn.
    pub max_concurrent_decodes: usize,
    /// Connections served at once (both ports together); more wait to be accepted.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (HTTP/1.1); an idle keep-alive
    /// connection is closed after it too. Longer than the usual export intervals (10 s), so an
    /// exporter's idle connection is not closed just as it is reused.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body once its headers have arrived (408).
    pub body_timeout: Duration,
}

/// Largest request body accepted, before and after decompression (larger gets 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

impl Default for SinkLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        SinkLimits {
            max_body: MAX_BODY_BYTES,
            max_items: 2_000_000,
            max_decoded_bytes: 256 * 1024 * 1024,
            max_concurrent_decodes: cores.max(2),
            max_connections: 512,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
        }
    }
}

impl SinkLimits {
    pub(crate) fn budget(&self) -> Budget {
        Budget {
            max_items: self.max_items,
            max_bytes: self.max_decoded_bytes,
        }
    }
}

/// The permits to decompress and decode a request.
#[derive(Clone, Debug)]
pub(crate) struct DecodeGate(Arc<Semaphore>);

impl DecodeGate {
    pub fn new(permits: usize) -> Self {
        DecodeGate(Arc::new(Semaphore::new(permits.max(1))))
    }

    /// Waits for a permit; decoding may go on while it is held.
    pub async fn enter(&self) -> OwnedSemaphorePermit {
        self.0
            .clone()
            .acquire_owned()
            .await
            .expect("the decode gate is never closed")
    }
}

/// Why a gzip body could not be inflated.
#[derive(Debug)]
pub(crate) enum Inflate {
    /// More than the limit once inflated.
    TooBig,
    /// Not gzip.
    Bad(std::io::Error),
}

/// Appends `compressed` inflated to `out`, refusing it past `max` inflated bytes. `out` is
/// sized from the gzip trailer's length (the last member's, modulo 4 GiB, capped at `max`) so
/// that a large body is written once rather than copied as its buffer doubles: the copies are
/// what would make a 66 MB body cost 200 MB.
pub(crate) fn gunzip(compressed: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), Inflate> {
    let hint = compressed
        .len()
        .checked_sub(4)
        .and_then(|at| compressed[at..].try_into().ok())
        .map_or(0, |trailer| u32::from_le_bytes(trailer) as usize);
    out.reserve(hint.min(max).saturating_add(1));
    let start = out.len();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(compressed)
        .take(limit)
        .read_to_end(out)
        .map_err(Inflate::Bad)?;
    if out.len() - start > max {
        return Err(Inflate::TooBig);
    }
    Ok(())
}
