//! The bounded window of "open" traces behind the sink's parent-presence check, and the
//! capped problem list every check reports into.
//!
//! A span whose parent never arrives is the most common way a generator (or a pipeline in
//! front of the sink) silently breaks a trace, and no single span shows it: the check needs
//! every span id of the trace. So, for each trace still "open", the window keeps only two
//! lists of 8-byte ids (span ids received, parent ids referenced) and compares them when
//! the trace leaves the window: when it is evicted, or at shutdown.
//!
//! Memory is bounded twice: at most `max_traces` open traces (the oldest by first arrival
//! is evicted and checked), and at most about `max_ids` ids in all (oldest traces are
//! evicted while over budget; a single trace that alone exceeds the budget stops being
//! tracked and its parent check is skipped, since it could no longer be exact). The
//! alternative, keeping every span (or every trace id ever seen), was rejected: the sink is
//! the blackhole that benchmarks stream millions of spans into, and it must run for hours
//! in constant memory. The cost of the window is that a trace whose spans arrive more than
//! `max_traces` traces apart is checked early (its late parents reported missing) and
//! counted twice in the unique-trace count; the simulator sends each trace's spans together,
//! so this does not happen with it.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

/// How many problem descriptions are kept; every problem is counted.
pub(crate) const KEPT_PROBLEMS: usize = 20;

/// Counted problems, the first [`KEPT_PROBLEMS`] with their description.
#[derive(Clone, Debug, Default)]
pub(crate) struct Problems {
    pub count: u64,
    pub kept: Vec<String>,
}

impl Problems {
    /// Counts a problem; the description is only built while it will be kept.
    pub fn add(&mut self, describe: impl FnOnce() -> String) {
        self.count += 1;
        if self.kept.len() < KEPT_PROBLEMS {
            self.kept.push(describe());
        }
    }

    /// Adds the problems found elsewhere (e.g. while decoding one request).
    pub fn merge(&mut self, other: Problems) {
        self.count += other.count;
        let room = KEPT_PROBLEMS.saturating_sub(self.kept.len());
        self.kept.extend(other.kept.into_iter().take(room));
    }
}

/// Lowercase hex of an id (at most 32 bytes shown, so hostile input stays short).
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().min(32) * 2 + 1);
    for b in bytes.iter().take(32) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 32 {
        s.push('…');
    }
    s
}

/// One span as the window sees it. `span` / `parent` are 0 when absent or invalid
/// (invalid ids are reported by the per-span checks, not here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanRef {
    pub trace: u128,
    pub span: u64,
    pub parent: u64,
}

#[derive(Default)]
struct OpenTrace {
    spans: Vec<u64>,
    parents: Vec<u64>,
    /// Too many spans to track: the parent check would not be exact, so it is skipped.
    capped: bool,
}

impl OpenTrace {
    fn ids(&self) -> usize {
        self.spans.len() + self.parents.len()
    }
}

/// See the module documentation.
pub(crate) struct TraceWindow {
    open: HashMap<u128, OpenTrace>,
    /// Open trace ids by first arrival; the front is evicted first.
    order: VecDeque<u128>,
    max_traces: usize,
    max_ids: usize,
    /// Ids held by all open traces.
    ids: usize,
    /// Distinct trace ids seen (a trace re-opened after eviction counts again).
    unique: u64,
}

impl TraceWindow {
    pub fn new(max_traces: usize, max_ids: usize) -> Self {
        TraceWindow {
            open: HashMap::new(),
            order: VecDeque::new(),
            max_traces: max_traces.max(1),
            max_ids: max_ids.max(1),
            ids: 0,
            unique: 0,
        }
    }

    pub fn unique_traces(&self) -> u64 {
        self.unique
    }

    #[cfg(test)]
    pub fn open_traces(&self) -> usize {
        self.open.len()
    }

    /// Adds the spans of one request. Consecutive spans of the same trace (the usual
    /// layout) cost one map lookup per run, not per span.
    pub fn ingest(&mut self, refs: &[SpanRef], problems: &mut Problems) {
        let mut rest = refs;
        while let Some(first) = rest.first() {
            let run = rest
                .iter()
                .position(|r| r.trace != first.trace)
                .unwrap_or(rest.len());
            let (now, later) = rest.split_at(run);
            self.add_run(first.trace, now, problems);
            rest = later;
        }
        while self.ids > self.max_ids && self.order.len() > 1 {
            self.evict_oldest(problems);
        }
    }

    fn add_run(&mut self, trace: u128, run: &[SpanRef], problems: &mut Problems) {
        if !self.open.contains_key(&trace) {
            while self.open.len() >= self.max_traces {
                if !self.evict_oldest(problems) {
                    break;
                }
            }
            self.open.insert(trace, OpenTrace::default());
            self.order.push_back(trace);
            self.unique += 1;
        }
        let Some(entry) = self.open.get_mut(&trace) else {
            return;
        };
        if entry.capped {
            return;
        }
        let before = entry.ids();
        for r in run {
            if entry.ids() + 2 > self.max_ids {
                entry.capped = true;
                break;
            }
            if r.span != 0 {
                entry.spans.push(r.span);
            }
            if r.parent != 0 {
                entry.parents.push(r.parent);
            }
        }
        self.ids += entry.ids() - before;
    }

    /// Evicts and checks the oldest open trace; false when none is open.
    fn evict_oldest(&mut self, problems: &mut Problems) -> bool {
        let Some(trace) = self.order.pop_front() else {
            return false;
        };
        if let Some(entry) = self.open.remove(&trace) {
            self.ids = self.ids.saturating_sub(entry.ids());
            check(trace, entry, problems);
        }
        true
    }

    /// End of run: checks every trace still open, oldest first.
    pub fn finish(&mut self, problems: &mut Problems) {
        while self.evict_oldest(problems) {}
    }
}

fn check(trace: u128, mut t: OpenTrace, problems: &mut Problems) {
    t.spans.sort_unstable();
    let mut i = 0;
    while i < t.spans.len() {
        let id = t.spans[i];
        let n = t.spans[i..].iter().take_while(|&&s| s == id).count();
        if n > 1 {
            problems.add(|| {
                format!(
                    "duplicate span id: span {} received {n} times in trace {}",
                    hex(&id.to_be_bytes()),
                    hex(&trace.to_be_bytes())
                )
            });
        }
        i += n;
    }
    if t.capped {
        return;
    }
    t.parents.sort_unstable();
    t.parents.dedup();
    for p in t.parents {
        if t.spans.binary_search(&p).is_err() {
            problems.add(|| {
                format!(
                    "missing parent: span {} is referenced as a parent in trace {} but was never received",
                    hex(&p.to_be_bytes()),
                    hex(&trace.to_be_bytes())
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(trace: u128, span: u64, parent: u64) -> SpanRef {
        SpanRef {
            trace,
            span,
            parent,
        }
    }

    #[test]
    fn complete_trace_split_across_requests_has_no_problem() {
        let mut w = TraceWindow::new(10, 1000);
        let mut p = Problems::default();
        w.ingest(&[r(1, 2, 1), r(1, 3, 1)], &mut p);
        w.ingest(&[r(1, 1, 0)], &mut p);
        w.finish(&mut p);
        assert_eq!(p.count, 0, "{:?}", p.kept);
        assert_eq!(w.unique_traces(), 1);
    }

    #[test]
    fn missing_parent_is_reported_once_per_parent_at_finish() {
        let mut w = TraceWindow::new(10, 1000);
        let mut p = Problems::default();
        w.ingest(&[r(7, 2, 9), r(7, 3, 9), r(7, 4, 2)], &mut p);
        assert_eq!(p.count, 0, "nothing is reported while the trace is open");
        w.finish(&mut p);
        assert_eq!(p.count, 1, "{:?}", p.kept);
        assert!(p.kept[0].starts_with("missing parent"), "{}", p.kept[0]);
        assert!(p.kept[0].contains("0000000000000009"), "{}", p.kept[0]);
    }

    #[test]
    fn eviction_checks_the_oldest_trace_and_bounds_the_window() {
        let mut w = TraceWindow::new(2, 1000);
        let mut p = Problems::default();
        w.ingest(&[r(1, 1, 99)], &mut p); // trace 1 lacks its parent
        w.ingest(&[r(2, 1, 0)], &mut p);
        assert_eq!(p.count, 0);
        w.ingest(&[r(3, 1, 0)], &mut p); // evicts trace 1
        assert_eq!(p.count, 1, "{:?}", p.kept);
        assert_eq!(w.open_traces(), 2);
        assert_eq!(w.unique_traces(), 3);
    }

    #[test]
    fn id_budget_evicts_old_traces_and_caps_a_huge_one() {
        let mut w = TraceWindow::new(100, 10);
        let mut p = Problems::default();
        w.ingest(&[r(1, 1, 0), r(1, 2, 1)], &mut p);
        let big: Vec<SpanRef> = (1..=50).map(|i| r(2, i + 1, i)).collect();
        w.ingest(&big, &mut p);
        assert_eq!(w.open_traces(), 1, "trace 1 evicted to make room");
        assert!(w.ids <= 10, "ids held: {}", w.ids);
        w.finish(&mut p);
        // Trace 2 really lacks span 1 (the parent of span 2), but it was capped, so its
        // parent check is skipped rather than reporting from partial knowledge.
        assert_eq!(p.count, 0, "{:?}", p.kept);
    }

    #[test]
    fn duplicate_span_ids_are_reported() {
        let mut w = TraceWindow::new(10, 1000);
        let mut p = Problems::default();
        w.ingest(&[r(1, 5, 0), r(1, 5, 0)], &mut p);
        w.finish(&mut p);
        assert_eq!(p.count, 1);
        assert!(p.kept[0].starts_with("duplicate span id"), "{}", p.kept[0]);
    }

    #[test]
    fn problems_keep_the_first_twenty_and_count_all() {
        let mut p = Problems::default();
        for i in 0..15 {
            p.add(|| format!("a{i}"));
        }
        let mut q = Problems::default();
        for i in 0..15 {
            q.add(|| format!("b{i}"));
        }
        p.merge(q);
        assert_eq!(p.count, 30);
        assert_eq!(p.kept.len(), KEPT_PROBLEMS);
        assert_eq!(p.kept[15], "b0");
    }
}
