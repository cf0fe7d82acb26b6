//! Spans, in whatever order the exporters batched them, to whole traces, in bounded memory.
//!
//! A trace is handed on once it looks complete (a root has arrived and every span's parent is
//! present) and a quarter of the buffer's spans have arrived since its last one: a trace that
//! crosses services arrives in one batch per service (one resource each), and the callee's batch
//! may come well after the caller's whole tree, whose SERVER spans' children would otherwise
//! arrive as a rootless trace. A trace that never completes (a parent lost upstream) waits until
//! more than `max_spans` spans are buffered; then the oldest traces are handed on as they are.
//! The alternative, buffering everything until the end, is exact for any order but holds the
//! whole input in memory, which a file of millions of spans must not.

use super::span::RawSpan;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;

pub struct Assembler {
    /// Open traces: (spans seen when the last of them arrived, its spans).
    open: FxHashMap<u128, (u64, Vec<RawSpan>)>,
    /// Spans seen so far.
    seen: u64,
    /// Trace ids in the order they were first seen (may name traces already handed on).
    order: VecDeque<u128>,
    buffered: usize,
    max_spans: usize,
    /// Traces handed on before they looked complete.
    pub flushed_incomplete: u64,
}

impl Assembler {
    pub fn new(max_spans: usize) -> Assembler {
        Assembler {
            open: FxHashMap::default(),
            seen: 0,
            order: VecDeque::new(),
            buffered: 0,
            max_spans: max_spans.max(1),
            flushed_incomplete: 0,
        }
    }

    /// Adds one batch; hands every trace that looks complete and settled, and the oldest beyond
    /// the cap, to `done`.
    pub fn add(&mut self, batch: Vec<RawSpan>, done: &mut dyn FnMut(Vec<RawSpan>)) {
        for span in batch {
            self.buffered += 1;
            self.seen += 1;
            let entry = self.open.entry(span.trace_id).or_insert_with(|| {
                self.order.push_back(span.trace_id);
                (0, Vec::new())
            });
            entry.0 = self.seen;
            entry.1.push(span);
        }
        let settle = (self.max_spans / 4).max(1) as u64;
        while let Some(&id) = self.order.front() {
            match self.open.get(&id) {
                None => {}
                Some((last, spans)) if self.seen - last >= settle && complete(spans) => {
                    if let Some((_, spans)) = self.open.remove(&id) {
                        self.buffered -= spans.len();
                        done(spans);
                    }
                }
                Some(_) => break,
            }
            self.order.pop_front();
        }
        while self.buffered > self.max_spans {
            let Some(id) = self.order.pop_front() else {
                break;
            };
            if let Some((_, spans)) = self.open.remove(&id) {
                self.buffered -= spans.len();
                self.flushed_incomplete += u64::from(!complete(&spans));
                done(spans);
            }
        }
        if self.order.len() > 4 * self.open.len() + 1024 {
            let open = &self.open;
            self.order.retain(|id| open.contains_key(id));
        }
    }

    /// Hands on every trace still open, oldest first.
    pub fn finish(&mut self, done: &mut dyn FnMut(Vec<RawSpan>)) {
        while let Some(id) = self.order.pop_front() {
            if let Some((_, spans)) = self.open.remove(&id) {
                done(spans);
            }
        }
        self.buffered = 0;
    }
}

/// A root is present and every other span's parent is in the trace.
fn complete(spans: &[RawSpan]) -> bool {
    let ids: FxHashSet<u64> = spans.iter().map(|s| s.span_id).collect();
    let mut roots = 0;
    for span in spans {
        match span.parent {
            None => roots += 1,
            Some(p) if !ids.contains(&p) => return false,
            Some(_) => {}
        }
    }
    roots == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: u128, id: u64, parent: Option<u64>) -> RawSpan {
        RawSpan {
            trace_id: trace,
            span_id: id,
            parent,
            name: String::new(),
            service: None,
            resource: None,
            kind: 0,
            start_ns: 0,
            end_ns: 0,
            error: false,
            message: String::new(),
            attributes: Vec::new(),
            links: Vec::new(),
            simulated: false,
        }
    }

    #[test]
    fn a_trace_split_over_batches_is_handed_on_whole_once_complete_and_settled() {
        let mut a = Assembler::new(8);
        let mut out = Vec::new();
        a.add(vec![span(1, 2, Some(1))], &mut |t| out.push(t));
        assert!(out.is_empty());
        a.add(vec![span(1, 1, None), span(2, 5, Some(9))], &mut |t| {
            out.push(t)
        });
        // Complete, but a callee's batch may still come: not yet.
        assert!(out.is_empty());
        a.add(vec![span(1, 3, Some(2))], &mut |t| out.push(t));
        a.add(vec![span(3, 1, None), span(3, 2, Some(1))], &mut |t| {
            out.push(t)
        });
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 3);
        a.finish(&mut |t| out.push(t));
        assert_eq!(out.len(), 3);
        assert_eq!(a.flushed_incomplete, 0);
    }

    #[test]
    fn the_cap_flushes_the_oldest_incomplete_trace() {
        let mut a = Assembler::new(2);
        let mut out = Vec::new();
        for t in 0..5u128 {
            a.add(vec![span(t, 1, Some(7))], &mut |x| out.push(x));
        }
        assert_eq!(out.len(), 3);
        assert_eq!(out[0][0].trace_id, 0);
        assert_eq!(a.flushed_incomplete, 3);
    }
}
