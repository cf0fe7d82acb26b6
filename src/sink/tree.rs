//! The last trace the sink received, kept small so the final summary can draw it as a tree.
//!
//! Seeing one real trace laid out (names, kinds, durations, where the error is) is the
//! quickest way for a new user to believe the simulator did what the scenario says, and for
//! a developer to spot a broken hierarchy. Only the most recently arrived trace is kept, as
//! a few fields per span ([`SpanBrief`]), capped at [`LAST_TRACE_MAX_SPANS`] spans; the
//! tree is drawn only when a summary is taken. A trace whose services send their spans in
//! separate requests arrives in pieces, in any order, so which trace to keep is decided from its
//! id alone, the same in every request: an [`eligible`] trace (one in eight) is preferred; the
//! kept trace is the last eligible one whose root arrived (else the last trace of all), later
//! pieces of it are appended, and the pieces of the few newest eligible traces whose root has not
//! arrived yet wait aside ([`PENDING_TRACES`]) to join it when it does. Choosing by arrival alone
//! was rejected: each service's request ends with another trace, so no trace got all its pieces. Keeping every trace (to show any of them)
//! was rejected for the same reason the sink counts instead of storing: it must run in
//! constant memory under benchmark load.
//!
//! Drawing: one line per span, `name  KIND  12.3ms  STATUS`, indented two spaces per depth;
//! roots (no parent, or a parent that never arrived) and children are ordered by start
//! time. Names and messages come from the wire, so control characters are replaced and long
//! text is cut, keeping the summary one line per span whatever was sent.

use std::collections::{HashMap, VecDeque};

use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode};

/// Spans of the last trace kept for drawing.
pub(crate) const LAST_TRACE_MAX_SPANS: usize = 1000;
/// Lines drawn at most (the rest is summarised in one line).
pub(crate) const TREE_MAX_LINES: usize = 40;
/// Traces whose root has not arrived, kept aside until it does.
pub(crate) const PENDING_TRACES: usize = 4;
const MAX_TEXT: usize = 80;
const MAX_INDENT_DEPTH: usize = 16;

/// The few fields of a span the tree needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpanBrief {
    pub span: u64,
    /// 0 when the span has no (valid) parent.
    pub parent: u64,
    pub name: String,
    pub kind: i32,
    pub start: u64,
    pub end: u64,
    pub status: i32,
    pub message: String,
}

/// Whether every request keeps the pieces of `trace`: the top three bits of its id are zero
/// (random ids: one trace in eight).
pub(crate) fn eligible(trace: u128) -> bool {
    trace >> 125 == 0
}

/// The most recently arrived trace.
#[derive(Clone, Debug, Default)]
pub(crate) struct LastTrace {
    pub trace: u128,
    pub spans: Vec<SpanBrief>,
    /// Pieces of recent traces whose root had not arrived, newest last.
    pending: VecDeque<(u128, Vec<SpanBrief>)>,
}

impl LastTrace {
    /// Folds in a request's spans of one trace: more spans of the kept trace are appended; a
    /// trace whose root is among `spans` (or any trace, while the kept one has no root)
    /// replaces it, with its pieces that arrived earlier; other pieces wait aside.
    pub fn update(&mut self, trace: u128, spans: Vec<SpanBrief>) {
        if spans.is_empty() {
            return;
        }
        if self.trace == trace && !self.spans.is_empty() {
            append(&mut self.spans, spans);
            return;
        }
        let kept_rooted = self.spans.iter().any(is_root);
        let preferred = eligible(trace) || !eligible(self.trace) || !kept_rooted;
        if (spans.iter().any(is_root) && preferred) || !kept_rooted {
            let mut earlier = match self.pending.iter().position(|(t, _)| *t == trace) {
                Some(at) => self.pending.remove(at).map(|(_, s)| s).unwrap_or_default(),
                None => Vec::new(),
            };
            append(&mut earlier, spans);
            let previous = std::mem::replace(&mut self.spans, earlier);
            let previous_trace = std::mem::replace(&mut self.trace, trace);
            if !kept_rooted && !previous.is_empty() {
                // A piece without its root: its root may still come.
                self.set_aside(previous_trace, previous);
            }
            return;
        }
        self.set_aside(trace, spans);
    }

    /// Keeps a piece of `trace` aside until its root arrives (the oldest piece makes room).
    fn set_aside(&mut self, trace: u128, spans: Vec<SpanBrief>) {
        match self.pending.iter_mut().find(|(t, _)| *t == trace) {
            Some((_, kept)) => append(kept, spans),
            None => {
                if self.pending.len() == PENDING_TRACES {
                    self.pending.pop_front();
                }
                let mut piece = Vec::new();
                append(&mut piece, spans);
                self.pending.push_back((trace, piece));
            }
        }
    }
}

fn is_root(s: &SpanBrief) -> bool {
    s.parent == 0
}

fn append(kept: &mut Vec<SpanBrief>, spans: Vec<SpanBrief>) {
    let room = LAST_TRACE_MAX_SPANS.saturating_sub(kept.len());
    kept.extend(spans.into_iter().take(room));
}

fn clean(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_TEXT)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(MAX_TEXT).is_some() {
        out.push('…');
    }
    out
}

fn kind_name(kind: i32) -> String {
    match SpanKind::try_from(kind) {
        Ok(k) => k.as_str_name().trim_start_matches("SPAN_KIND_").to_owned(),
        Err(_) => format!("KIND({kind})"),
    }
}

fn status_text(code: i32, message: &str) -> String {
    match StatusCode::try_from(code) {
        Ok(StatusCode::Unset) => "UNSET".to_owned(),
        Ok(StatusCode::Ok) => "OK".to_owned(),
        Ok(StatusCode::Error) if message.is_empty() => "ERROR".to_owned(),
        Ok(StatusCode::Error) => format!("ERROR: {}", clean(message)),
        Err(_) => format!("STATUS({code})"),
    }
}

fn line(s: &SpanBrief, depth: usize) -> String {
    let indent = "  ".repeat(depth.min(MAX_INDENT_DEPTH));
    let ms = s.end.saturating_sub(s.start) as f64 / 1e6;
    let name = if s.name.is_empty() {
        "(no name)".to_owned()
    } else {
        clean(&s.name)
    };
    format!(
        "{indent}{name}  {}  {ms:.1}ms  {}",
        kind_name(s.kind),
        status_text(s.status, &s.message)
    )
}

/// Draws `spans` as a tree (see the module documentation), at most `max_lines` lines
/// plus one line saying how many were left out.
pub(crate) fn render_tree(spans: &[SpanBrief], max_lines: usize) -> Vec<String> {
    let order_key = |i: &usize| (spans[*i].start, spans[*i].span, *i);
    let mut ids: HashMap<u64, usize> = HashMap::with_capacity(spans.len());
    for (i, s) in spans.iter().enumerate() {
        if s.span != 0 {
            ids.entry(s.span).or_insert(i);
        }
    }
    let mut children: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if s.parent != 0 && s.parent != s.span && ids.contains_key(&s.parent) {
            children.entry(s.parent).or_default().push(i);
        } else {
            roots.push(i);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(order_key);
    }
    roots.sort_by_key(order_key);

    let mut lines = Vec::new();
    let mut visited = vec![false; spans.len()];
    let mut drawn = 0usize;
    // Spans in a parent cycle are reachable from no root; they are drawn as roots after.
    let mut by_start: Vec<usize> = (0..spans.len()).collect();
    by_start.sort_by_key(order_key);
    for start in roots.into_iter().chain(by_start) {
        if visited[start] {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            if visited[i] {
                continue;
            }
            visited[i] = true;
            drawn += 1;
            if lines.len() < max_lines {
                lines.push(line(&spans[i], depth));
            }
            if let Some(kids) = children.get(&spans[i].span) {
                // Only the first span holding an id owns its children.
                if ids.get(&spans[i].span) == Some(&i) {
                    stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
                }
            }
        }
    }
    if drawn > lines.len() {
        lines.push(format!("… {} more spans", drawn - lines.len()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(span: u64, parent: u64, name: &str, start: u64, end: u64) -> SpanBrief {
        SpanBrief {
            span,
            parent,
            name: name.to_owned(),
            kind: SpanKind::Internal as i32,
            start,
            end,
            status: StatusCode::Unset as i32,
            message: String::new(),
        }
    }

    #[test]
    fn children_are_indented_and_in_start_order_whatever_the_arrival_order() {
        let mut root = b(1, 0, "invoke_agent", 0, 10_000_000);
        root.kind = SpanKind::Server as i32;
        root.status = StatusCode::Ok as i32;
        let mut tool = b(3, 1, "execute_tool search", 6_000_000, 9_000_000);
        tool.status = StatusCode::Error as i32;
        tool.message = "timeout\nafter 3s".to_owned();
        let spans = vec![
            tool,
            b(4, 2, "http POST", 1_500_000, 2_000_000),
            b(2, 1, "chat gpt-4o", 1_000_000, 5_500_000),
            root,
        ];
        let lines = render_tree(&spans, 40);
        assert_eq!(
            lines,
            vec![
                "invoke_agent  SERVER  10.0ms  OK",
                "  chat gpt-4o  INTERNAL  4.5ms  UNSET",
                "    http POST  INTERNAL  0.5ms  UNSET",
                "  execute_tool search  INTERNAL  3.0ms  ERROR: timeout after 3s",
            ]
        );
    }

    #[test]
    fn orphans_and_cycles_are_drawn_once_as_roots() {
        let spans = vec![
            b(2, 99, "orphan", 5, 6), // parent never arrived
            b(1, 0, "root", 0, 10),
            b(7, 8, "cycle a", 20, 21),
            b(8, 7, "cycle b", 22, 23),
            b(9, 9, "self parent", 30, 31),
        ];
        let lines = render_tree(&spans, 40);
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(lines[0].starts_with("root"));
        assert!(lines[1].starts_with("orphan"));
        assert!(lines[2].starts_with("self parent"), "{lines:?}");
        assert!(lines[3].starts_with("cycle a"), "{lines:?}");
        assert!(lines[4].starts_with("  cycle b"), "{lines:?}");
    }

    #[test]
    fn long_trees_are_cut_with_a_count() {
        let mut spans = vec![b(1, 0, "root", 0, 100)];
        spans.extend((2..=60).map(|i| b(i, 1, "child", i, i + 1)));
        let lines = render_tree(&spans, 10);
        assert_eq!(lines.len(), 11);
        assert_eq!(lines[10], "… 50 more spans");
    }

    #[test]
    fn last_trace_appends_same_trace_and_replaces_on_new_trace() {
        let mut last = LastTrace::default();
        last.update(5, vec![b(1, 0, "a", 0, 1)]);
        last.update(5, vec![b(2, 1, "b", 0, 1)]);
        assert_eq!(last.spans.len(), 2);
        last.update(6, vec![b(3, 0, "c", 0, 1)]);
        assert_eq!(last.trace, 6);
        assert_eq!(last.spans.len(), 1);
    }

    #[test]
    fn a_trace_sent_in_pieces_by_several_services_is_drawn_whole() {
        let mut last = LastTrace::default();
        last.update(5, vec![b(1, 0, "root 5", 0, 10)]);
        // Trace 6's server span arrives before its root, in another service's request.
        last.update(6, vec![b(20, 11, "tools/call search", 2, 3)]);
        assert_eq!(
            last.trace, 5,
            "a piece without its root does not replace a rooted trace"
        );
        last.update(
            6,
            vec![b(10, 0, "root 6", 0, 10), b(11, 10, "search", 1, 4)],
        );
        last.update(6, vec![b(21, 11, "late server piece", 3, 4)]);
        assert_eq!(last.trace, 6);
        let lines = render_tree(&last.spans, 40);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[2].starts_with("    tools/call search"), "{lines:?}");
    }

    #[test]
    fn an_eligible_trace_is_kept_over_later_ones_and_gathers_its_pieces() {
        let chosen: u128 = 7; // top bits zero: eligible
        let other: u128 = u128::MAX - 3;
        assert!(eligible(chosen) && !eligible(other));
        let mut last = LastTrace::default();
        // The callee's request: the chosen trace's server span, then another trace's.
        last.update(chosen, vec![b(20, 11, "tools/call search", 2, 3)]);
        last.update(other, vec![b(30, 31, "tools/call other", 2, 3)]);
        // The agent's request: the chosen trace's root, then a later trace's root.
        last.update(
            chosen,
            vec![b(10, 0, "root", 0, 10), b(11, 10, "search", 1, 4)],
        );
        last.update(other, vec![b(40, 0, "later root", 0, 10)]);
        assert_eq!(last.trace, chosen);
        let lines = render_tree(&last.spans, 40);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[2].starts_with("    tools/call search"), "{lines:?}");
    }

    #[test]
    fn pending_pieces_are_bounded() {
        let mut last = LastTrace::default();
        last.update(1, vec![b(1, 0, "root", 0, 1)]);
        for t in 2..100u128 {
            last.update(t, vec![b(t as u64 * 10, 7, "piece", 0, 1)]);
        }
        assert_eq!(last.pending.len(), PENDING_TRACES);
        assert_eq!(last.trace, 1);
    }
}
