//! Sessions on a worker: the turns of the conversations a worker has open, each sent when it is
//! due.
//!
//! The schedule says when each *session* starts (at the run's rate of turns divided by the mean
//! turns per session, so `--rate` still counts turns); the worker that starts one makes all of
//! its turns, so a session is never split between workers or shards and is the same at any
//! worker count. A turn starts when the previous one has ended and its user's think time has
//! passed; since a turn's length is known only once it is drawn, the worker draws each turn
//! when the previous one is sent and keeps it, one per open session, in a heap ordered by when
//! it ends, sending it then: open sessions interleave as real ones do, and nothing is sent
//! before its spans have ended. Drawing a whole session up front and holding all of its turns
//! was the alternative rejected for live runs: memory would grow with every turn of every open
//! session instead of one per session. History (backfill) and unpaced runs, which wait for
//! nothing, do make a whole session at once, and move it back so that it ends by the end of the
//! window.

use crate::generate::session::{SessionState, TurnTokens};
use crate::generate::{Iteration, Plan, generate_turn};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A drawn turn waiting for its end, and the session it belongs to.
pub(super) struct Pending {
    pub end_ns: u64,
    /// Which of the mix's plans the session is of.
    pub plan: usize,
    pub tenant: u32,
    pub state: SessionState,
    pub iteration: Iteration,
    tokens: TurnTokens,
}

impl Pending {
    fn key(&self) -> (u64, u64, u32) {
        (self.end_ns, self.state.index, self.state.turn.index)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The sessions a worker has open.
#[derive(Default)]
pub(super) struct Sessions {
    heap: BinaryHeap<Reverse<Pending>>,
    /// Iterations of closed sessions, to reuse.
    pool: Vec<Iteration>,
    /// Sessions started.
    pub started: u64,
    /// Sessions cut by the end of the run before their last turn.
    pub cut: u64,
}

impl Sessions {
    /// Starts session `index` of `plan` (the mix's `plan_index`-th) at `start_ns`: draws its
    /// first turn.
    pub fn open(
        &mut self,
        (plan, plan_index): (&Plan, usize),
        seed: u64,
        index: u64,
        tenant: u32,
        start_ns: u64,
    ) {
        let Some(session) = &plan.session else {
            return;
        };
        self.started += 1;
        let state = session.start(seed, index);
        let mut iteration = self.pool.pop().unwrap_or_default();
        let (end_ns, tokens) = draw(plan, &state, tenant, start_ns, &mut iteration);
        self.heap.push(Reverse(Pending {
            end_ns,
            plan: plan_index,
            tenant,
            state,
            iteration,
            tokens,
        }));
    }

    /// Sessions open (each holding its next turn).
    pub fn open_count(&self) -> usize {
        self.heap.len()
    }

    /// When the next turn ends.
    pub fn next_end(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(p)| p.end_ns)
    }

    /// The next turn, taken out to be sent; hand it back with [`Sessions::follow`].
    pub fn pop(&mut self) -> Option<Pending> {
        self.heap.pop().map(|Reverse(p)| p)
    }

    /// After `pending`'s turn was sent: draws its session's next turn, after the user's think
    /// time, or closes the session.
    pub fn follow(&mut self, plan: &Plan, mut pending: Pending) {
        let Some(session) = &plan.session else {
            return;
        };
        pending.state.advance(session, pending.tokens);
        if pending.state.done() {
            self.pool.push(pending.iteration);
            return;
        }
        let start_ns = pending
            .end_ns
            .saturating_add(session.think_ns(&mut pending.state));
        let (end_ns, tokens) = draw(
            plan,
            &pending.state,
            pending.tenant,
            start_ns,
            &mut pending.iteration,
        );
        pending.end_ns = end_ns;
        pending.tokens = tokens;
        self.heap.push(Reverse(pending));
    }

    /// Puts back a turn taken out but not sent (the run stopped while it waited).
    pub fn follow_later(&mut self, pending: Pending) {
        self.heap.push(Reverse(pending));
    }

    /// Closes every open session, counting it as cut.
    pub fn cut_all(&mut self) {
        self.cut += self.heap.len() as u64;
        self.heap.clear();
    }

    /// Session `index` of `plan` whole, its turns laid out from `start_ns` and moved back, if
    /// need be, to end by `latest_end_ns`: for history and unpaced runs. `emit` gets each turn.
    /// Its turns are kept until the session's end is known, up to [`HELD_SPANS`] spans; a longer
    /// session is drawn twice (its end first, then its turns, from the same streams) rather than
    /// held whole.
    pub fn whole(
        &mut self,
        plan: &Plan,
        (seed, index, tenant): (u64, u64, u32),
        start_ns: u64,
        latest_end_ns: u64,
        emit: &mut dyn FnMut(&mut Iteration),
    ) {
        let Some(session) = &plan.session else {
            return;
        };
        self.started += 1;
        let first = session.start(seed, index);
        let mut state = first.clone();
        let mut turns: Vec<Iteration> = Vec::new();
        let (mut held, mut start, mut last_end) = (0usize, start_ns, start_ns);
        while !state.done() {
            let mut iteration = self.pool.pop().unwrap_or_default();
            let (end, tokens) = draw(plan, &state, tenant, start, &mut iteration);
            held += iteration
                .traces()
                .iter()
                .map(|t| t.spans.len())
                .sum::<usize>();
            if held <= HELD_SPANS {
                turns.push(iteration);
            } else {
                self.pool.append(&mut turns);
                self.pool.push(iteration);
            }
            state.advance(session, tokens);
            last_end = end;
            start = end.saturating_add(session.think_ns(&mut state));
        }
        let back = last_end.saturating_sub(latest_end_ns);
        if held <= HELD_SPANS {
            for mut turn in turns {
                turn.advance(back);
                emit(&mut turn);
                self.pool.push(turn);
            }
            return;
        }
        let (mut state, mut start) = (first, start_ns);
        let mut iteration = self.pool.pop().unwrap_or_default();
        while !state.done() {
            let (end, tokens) = draw(plan, &state, tenant, start, &mut iteration);
            iteration.advance(back);
            emit(&mut iteration);
            state.advance(session, tokens);
            start = end.saturating_add(session.think_ns(&mut state));
        }
        self.pool.push(iteration);
    }
}

/// Spans of a whole session held at once before it is drawn twice instead.
pub(super) const HELD_SPANS: usize = 100_000;

/// Draws the current turn of `state` into `iteration`, starting at `start_ns`; returns when it
/// ends and what its LLM calls drew.
fn draw(
    plan: &Plan,
    state: &SessionState,
    tenant: u32,
    start_ns: u64,
    iteration: &mut Iteration,
) -> (u64, TurnTokens) {
    let tokens = generate_turn(
        plan,
        state.turn_stream(),
        tenant,
        start_ns,
        &state.turn,
        iteration,
    );
    let earliest = iteration.earliest_start().unwrap_or(start_ns);
    iteration.delay(start_ns.saturating_sub(earliest));
    (iteration.latest_end().unwrap_or(start_ns), tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::testing;

    const CHAT: &str = "
root:
  type: vendor.a2a.orchestrate
  latency: 200
  children:
    - type: vendor.llm.call
      attributes:
        gen_ai.usage.input_tokens: 100
session:
  turns: {min: 2, max: 5}
  think_time: {distribution: uniform, low: 1000, high: 2000}
";

    #[test]
    fn turns_follow_each_other_after_their_think_time_in_order_of_their_end() {
        let plan = testing::plan(CHAT);
        let mut sessions = Sessions::default();
        for i in 0..20 {
            sessions.open((&plan, 0), 1, i, 0, 1_000_000_000 * i);
        }
        let mut last_end = 0;
        let mut previous: std::collections::HashMap<u64, u64> = Default::default();
        let mut turns = 0;
        while let Some(p) = sessions.pop() {
            assert!(p.end_ns >= last_end, "in order of end");
            last_end = p.end_ns;
            let start = p.iteration.earliest_start().unwrap();
            if let Some(end) = previous.get(&p.state.index) {
                let think = start - end;
                assert!((1_000_000_000..=2_000_000_000).contains(&think), "{think}");
            }
            previous.insert(p.state.index, p.end_ns);
            turns += 1;
            sessions.follow(&plan, p);
        }
        assert!((40..=100).contains(&turns), "{turns}");
        assert_eq!(sessions.started, 20);
    }

    #[test]
    fn a_session_too_large_to_hold_is_drawn_twice_the_same() {
        let big = "
root:
  type: vendor.a2a.orchestrate
  latency: 200
  children:
    - type: vendor.planner
      count: 2000
      latency: 1
session:
  turns: {min: 60, max: 60}
  think_time: 1000
";
        let plan = testing::plan(big);
        let mut sessions = Sessions::default();
        let mut turns: Vec<(u64, u64, [u8; 16])> = Vec::new();
        let (start, end) = (1_000_000_000_000_000_000, 1_000_000_001_000_000_000);
        sessions.whole(&plan, (1, 0, 0), start, end, &mut |it| {
            let t = &it.traces()[0];
            turns.push((
                it.earliest_start().unwrap(),
                it.latest_end().unwrap(),
                t.trace_id,
            ))
        });
        let spans: usize = turns.len() * 2000;
        assert!(spans > HELD_SPANS, "{spans} spans: the test must not fit");
        assert_eq!(turns.last().unwrap().1, end);
        assert!(
            turns.windows(2).all(|w| w[0].1 < w[1].0),
            "turns in order, apart"
        );
        assert_eq!(turns.len(), 60);
        let ids: std::collections::BTreeSet<_> = turns.iter().map(|t| t.2).collect();
        assert_eq!(ids.len(), 60, "each turn drawn once in the second pass");
    }

    #[test]
    fn a_whole_session_ends_by_the_end_of_its_window() {
        let plan = testing::plan(CHAT);
        let mut sessions = Sessions::default();
        let mut ends = Vec::new();
        sessions.whole(&plan, (1, 0, 0), 5_000_000_000, 6_000_000_000, &mut |it| {
            ends.push(it.latest_end().unwrap())
        });
        assert!(ends.len() >= 2);
        assert_eq!(*ends.last().unwrap(), 6_000_000_000);
        assert!(ends.windows(2).all(|w| w[0] < w[1]));
    }
}
