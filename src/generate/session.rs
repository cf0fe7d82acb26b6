//! Sessions in the generator: who a session belongs to, how many turns it has, how long its user
//! thinks, and how the context carried from turn to turn grows.
//!
//! A session is a function of the run's seed and the session's index alone (its own random
//! stream, apart from the turns' streams), so the same seed gives the same sessions whichever
//! worker or shard makes them. Its turns are traces of the scenario's ordinary tree, each drawn
//! from a stream of its own; what links them is a [`Turn`] handed to the trace builder: the ids
//! every span carries, the turn's index, and the history of tokens the turn's LLM calls see.
//! Growing the input tokens happens in one place, [`SessionPlan::grown_input`], called by the
//! builder the moment an LLM call's input tokens are drawn, before any other attribute (the
//! OpenInference copies, the totals) or anything after the span (metrics, logs, a latency
//! computed from tokens) reads them. Keeping the history as a running number in the session,
//! rather than re-reading earlier traces, keeps a session's state a few words, whatever its
//! length.

use super::plan::{AttrPlan, CountPlan, LatencySampler, Plan};
use super::sampler::{Draw, Sampler};
use super::symbols::{Attr, AttrValue, NodeId, Sym};
use super::trace::iteration_rng;
use crate::conventions::OpenInferenceKind;
use crate::scenario::{Context, Count, Overflow, Scenario};
use rand::RngExt;
use rand_distr::{Distribution as _, weighted::WeightedIndex};
use rand_pcg::Pcg64Mcg;

/// Salt that separates a session's own stream (turns, user, think times) from the turns'.
const SESSION_SALT: u64 = 0x5E55_1011_0000_0016;
/// Salt of the turns' streams.
const TURN_SALT: u64 = 0x7042_0000_0000_0016;

/// A scenario's `session:`, compiled.
pub struct SessionPlan {
    turns: CountPlan,
    think: LatencySampler,
    users: UserPlan,
    pub context: Option<Context>,
    /// The LLM step a summarising call is drawn from (`overflow: summarize`).
    pub summarizer: Option<NodeId>,
    pub keys: SessionKeys,
}

/// The keys sessions add to every span.
pub struct SessionKeys {
    pub session_id: Sym,
    pub user_id: Sym,
    pub conversation_id: Sym,
    pub turn_index: Sym,
    /// `{prefix}.context.summary`: true on a summarising LLM call.
    pub summary: Sym,
    pub input_tokens: Sym,
    pub output_tokens: Sym,
}

struct UserPlan {
    ids: Vec<String>,
    population: u64,
    pick: Option<WeightedIndex<f64>>,
    attrs: Vec<AttrPlan>,
}

/// The context of one turn, as the trace builder reads it.
#[derive(Clone, Debug, Default)]
pub struct Turn {
    pub session_id: String,
    pub user_id: String,
    /// 0-based.
    pub index: u32,
    pub last: bool,
    /// Tokens of the earlier turns the LLM calls of this one carry.
    pub history: u64,
    /// This turn starts with a summarising LLM call.
    pub summarize: bool,
    pub user_attrs: Vec<Attr>,
}

/// What a turn's LLM calls drew, for the history of the next turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TurnTokens {
    /// The turn's own input tokens (before the history), over its LLM calls.
    pub fresh_input: u64,
    pub output: u64,
    /// The history was replaced by a summary of `summary_tokens`.
    pub summarized: bool,
}

/// One session in the making: its draws and its running history.
#[derive(Clone, Debug)]
pub struct SessionState {
    pub index: u64,
    pub turns: u32,
    pub turn: Turn,
    /// The previous turn's own input tokens (to foresee an overflow).
    last_fresh: u64,
    rng: Pcg64Mcg,
    seed: u64,
}

impl SessionPlan {
    /// The plan of `scenario.session`, `None` when the scenario has none.
    pub fn compile(scenario: &Scenario, plan: &mut Plan) -> Option<SessionPlan> {
        let session = scenario.session.as_ref()?;
        let p = plan.prefix.clone();
        let keys = SessionKeys {
            session_id: plan.intern("session.id"),
            user_id: plan.intern("user.id"),
            conversation_id: plan.intern("gen_ai.conversation.id"),
            turn_index: plan.intern(&format!("{p}.turn.index")),
            summary: plan.intern(&format!("{p}.context.summary")),
            input_tokens: plan.intern("gen_ai.usage.input_tokens"),
            output_tokens: plan.intern("gen_ai.usage.output_tokens"),
        };
        let attrs = session
            .users
            .attributes
            .iter()
            .map(|a| {
                let key = plan.intern(&a.key);
                match &a.value {
                    crate::scenario::AttributeValue::Constant(l) => AttrPlan::Constant {
                        key,
                        value: plan.constant(l),
                    },
                    crate::scenario::AttributeValue::Sampled(d) => plan.sampled(key, &a.key, d),
                }
            })
            .collect();
        let users = &session.users;
        let pick = (!users.weights.is_empty())
            .then(|| WeightedIndex::new(&users.weights).ok())
            .flatten();
        // Token counts an LLM step writes as constants grow per turn: the encoder must write
        // them per span, not once per step.
        for node in plan
            .nodes
            .iter_mut()
            .filter(|n| n.role == OpenInferenceKind::Llm)
        {
            for attr in &mut node.attrs {
                if let AttrPlan::Constant { key, value } = attr
                    && (*key == keys.input_tokens || *key == keys.output_tokens)
                    && let AttrValue::Int(n) = value
                {
                    *attr = AttrPlan::Sampled {
                        key: *key,
                        sampler: Sampler::Constant(*n as f64),
                        choices: Vec::new(),
                        integer: true,
                    };
                }
            }
        }
        let summarizer = (0..plan.nodes.len())
            .find(|i| plan.nodes[*i].role == OpenInferenceKind::Llm)
            .map(|i| NodeId(i as u32));
        Some(SessionPlan {
            turns: CountPlan::new(&session.turns),
            think: LatencySampler::new(&session.think_time),
            users: UserPlan {
                ids: users.ids.clone(),
                population: users.count.max(1),
                pick,
                attrs,
            },
            context: session.context.clone(),
            summarizer,
            keys,
        })
    }

    /// The input tokens an LLM call of a turn carrying `history` sends, its own being `fresh`:
    /// the history and its own, cut to the context window. The one place input tokens grow.
    pub fn grown_input(&self, history: u64, fresh: u64) -> u64 {
        let total = history.saturating_add(fresh);
        match &self.context {
            Some(c) => total.min(c.window),
            None => fresh,
        }
    }

    /// Session `index` of a run seeded with `seed`, before its first turn.
    pub fn start(&self, seed: u64, index: u64) -> SessionState {
        let mut rng = iteration_rng(seed ^ SESSION_SALT, index);
        let turns = self.turns.draw(&mut rng).max(1);
        let mut id = [0u8; 8];
        rng.fill(&mut id);
        let session_id = format!("sess_{}", hex(&id));
        let user = match (&self.users.pick, self.users.ids.len()) {
            (Some(pick), _) => pick.sample(&mut rng) as u64,
            (None, 0) => rng.random_range(0..self.users.population),
            (None, n) => rng.random_range(0..n as u64),
        };
        let user_id = match self.users.ids.get(user as usize) {
            Some(id) => id.clone(),
            None => format!("user-{:04}", user + 1),
        };
        // A user's attributes are the user's: drawn from a stream of the user alone.
        let mut user_rng = iteration_rng(seed ^ SESSION_SALT ^ 0xA5A5, user);
        let user_attrs = self
            .users
            .attrs
            .iter()
            .map(|a| user_attr(a, &mut user_rng))
            .collect();
        SessionState {
            index,
            turns,
            turn: Turn {
                session_id,
                user_id,
                index: 0,
                last: turns == 1,
                history: 0,
                summarize: false,
                user_attrs,
            },
            last_fresh: 0,
            rng,
            seed,
        }
    }

    /// The think time after a turn, in ns.
    pub fn think_ns(&self, state: &mut SessionState) -> u64 {
        let ms = self.think.sample_ms(&mut state.rng);
        if ms.is_nan() || ms <= 0.0 {
            0
        } else {
            (ms.min(86_400_000.0) * 1e6) as u64
        }
    }

    /// The mean turns per session (for the rate of session starts).
    pub fn mean_turns(&self) -> f64 {
        self.turns.mean().max(1.0)
    }
}

impl SessionState {
    /// The seed and index the current turn's trace is drawn from.
    pub fn turn_stream(&self) -> (u64, u64) {
        (
            self.seed ^ TURN_SALT ^ self.index.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            self.turn.index as u64,
        )
    }

    /// Whether every turn has been made.
    pub fn done(&self) -> bool {
        self.turn.index >= self.turns
    }

    /// Moves on to the next turn, carrying what this one's LLM calls drew.
    pub fn advance(&mut self, plan: &SessionPlan, tokens: TurnTokens) {
        if plan.context.is_some() {
            let carried = if tokens.summarized {
                plan.context.as_ref().map_or(0, |c| c.summary_tokens)
            } else {
                self.turn.history
            };
            self.turn.history = carried
                .saturating_add(tokens.fresh_input)
                .saturating_add(tokens.output);
            self.last_fresh = tokens.fresh_input;
        }
        self.turn.index += 1;
        self.turn.last = self.turn.index + 1 >= self.turns;
        self.turn.summarize = plan.context.as_ref().is_some_and(|c| {
            c.overflow == Overflow::Summarize
                && plan.summarizer.is_some()
                && self.turn.history.saturating_add(self.last_fresh) > c.window
        });
    }
}

/// One user attribute's value: a constant, or a draw that is never text made per trace.
fn user_attr(plan: &AttrPlan, rng: &mut Pcg64Mcg) -> Attr {
    let value = match plan {
        AttrPlan::Constant { value, .. } => *value,
        AttrPlan::Sampled {
            sampler,
            choices,
            integer,
            ..
        } => match sampler.draw(rng) {
            Draw::Choice(i) => choices[i],
            Draw::Number(x) if *integer => AttrValue::Int(x.round() as i64),
            Draw::Number(x) => AttrValue::Double(x),
        },
        _ => AttrValue::Bool(false),
    };
    Attr {
        key: plan.key(),
        value,
    }
}

impl CountPlan {
    pub(crate) fn new(count: &Count) -> CountPlan {
        match count {
            Count::Fixed(n) => CountPlan::Fixed(*n),
            Count::Uniform { min, max } => CountPlan::Uniform {
                min: *min,
                max: *max,
            },
            Count::Distribution {
                min,
                max,
                distribution,
            } => CountPlan::Distribution {
                min: *min,
                max: *max,
                sampler: Sampler::new(distribution),
            },
        }
    }

    /// One draw.
    pub(crate) fn draw<R: rand::Rng>(&self, rng: &mut R) -> u32 {
        match self {
            CountPlan::Fixed(n) => *n,
            CountPlan::Uniform { min, max } => rng.random_range(*min..=*max),
            CountPlan::Distribution { min, max, sampler } => {
                let x = sampler.number(rng).round();
                x.clamp(*min as f64, *max as f64) as u32
            }
        }
    }

    /// The mean of a draw, estimated from a fixed stream where it has no closed form.
    pub(crate) fn mean(&self) -> f64 {
        match self {
            CountPlan::Fixed(n) => *n as f64,
            CountPlan::Uniform { min, max } => (*min as f64 + *max as f64) / 2.0,
            CountPlan::Distribution { .. } => {
                let mut rng = iteration_rng(0x3EA7, 0);
                let n = 20_000;
                (0..n).map(|_| self.draw(&mut rng) as f64).sum::<f64>() / n as f64
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::testing;

    const CHAT: &str = "
root:
  type: vendor.a2a.orchestrate
  children:
    - type: vendor.llm.call
      attributes:
        gen_ai.usage.input_tokens: 100
        gen_ai.usage.output_tokens: {distribution: uniform, low: 50, high: 150}
session:
  turns: {min: 2, max: 8}
  think_time: {distribution: exponential, mean: 3000}
  users: {ids: [ann, bob, cy], weights: [1, 0, 1], attributes: {user.tier: {distribution: categorical, values: [free, pro]}}}
  context: {window: 1000}
";

    #[test]
    fn a_session_depends_on_its_seed_and_index_alone() {
        let plan = testing::plan(CHAT);
        let session = plan.session.as_ref().unwrap();
        let a = session.start(7, 3);
        let b = session.start(7, 3);
        assert_eq!(
            (a.turns, &a.turn.session_id, &a.turn.user_id),
            (b.turns, &b.turn.session_id, &b.turn.user_id)
        );
        assert_ne!(a.turn.session_id, session.start(7, 4).turn.session_id);
        for i in 0..200 {
            let s = session.start(1, i);
            assert!((2..=8).contains(&s.turns));
            assert_ne!(s.turn.user_id, "bob", "weight 0 is never picked");
            assert_eq!(s.turn.user_attrs.len(), 1);
        }
    }

    #[test]
    fn history_grows_by_each_turns_tokens_and_is_cut_at_the_window() {
        let plan = testing::plan(CHAT);
        let session = plan.session.as_ref().unwrap();
        let mut s = session.start(1, 0);
        assert_eq!(session.grown_input(s.turn.history, 100), 100);
        s.advance(
            session,
            TurnTokens {
                fresh_input: 100,
                output: 80,
                summarized: false,
            },
        );
        assert_eq!(s.turn.history, 180);
        assert_eq!(session.grown_input(s.turn.history, 100), 280);
        assert_eq!(session.grown_input(5000, 100), 1000);
        assert_eq!(session.grown_input(5000, 3000), 1000);
    }
}
