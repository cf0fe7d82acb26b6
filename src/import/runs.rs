//! One step seen as two: `[llm, tool?, llm]` recorded. When the optional `tool` is absent, the two
//! `llm` spans are neighbours and the tree walk takes them for one run of count 2; when it is
//! present, for two runs. Fitted as they were seen, the scenario has an `llm` of count 1–2, the
//! tool, and a second `llm` of its own probability, drawn independently: traces with three LLM
//! calls and longer roots than any input had.
//!
//! This pass finds the pattern in a parent's fitted steps (a step, one optional step, a step of
//! the first one's name, with the second `llm` present exactly when the first ran twice or the
//! middle one ran) and folds it back: the first step once, the optional one, the second always.
//! Recording the joint presence of siblings in the walk would find any such dependence, at a cost
//! per pair of nodes; this pattern is the one the scenario format itself produces (a probability
//! between two steps of one type), so it alone is undone.

use super::tree::Node;
use std::collections::BTreeMap;

/// How far presences may be from the pattern's, as a share of the parent's instances.
const SLACK: f64 = 0.01;

/// Folds every `A, A(second instance)?, T?, A'` of `steps` (children of a parent with
/// `instances` instances) into `A, T?, A'` with `A'` always present. `steps` are in order; an
/// `A` that was split into positions appears as two steps of one name.
pub fn fold(steps: &mut Vec<Node>, instances: u64) {
    let near = |a: u64, b: u64| (a as f64 - b as f64).abs() <= SLACK * instances as f64 + 0.5;
    let mut at = 0;
    while at + 2 < steps.len() {
        let same = |a: &Node, b: &Node| a.name == b.name && a.variant == b.variant;
        let split = same(&steps[at], &steps[at + 1]);
        let (first, middle, last) = if split {
            (at, at + 2, at + 3)
        } else {
            (at, at + 1, at + 2)
        };
        if last >= steps.len()
            || !same(&steps[last], &steps[first])
            || same(&steps[middle], &steps[first])
            || steps[middle].counts.keys().any(|&k| k > 1)
        {
            at += 1;
            continue;
        }
        // Instances where the first ran twice: its second position, or its count of 2.
        let twice = if split {
            steps[at + 1].present
        } else {
            steps[first].counts.get(&2).copied().unwrap_or(0)
        };
        let simple = split || steps[first].counts.keys().all(|&k| k <= 2);
        let (t, a2) = (steps[middle].present, steps[last].present);
        if !simple || twice == 0 || !near(t, a2) || !near(twice + a2, instances) {
            at += 1;
            continue;
        }
        if split {
            steps.remove(at + 1);
        } else {
            let once = steps[first].counts.values().sum::<u64>();
            steps[first].counts = BTreeMap::from([(1, once)]);
            steps[first].span_counts = steps[first].counts.clone();
        }
        let last = last - usize::from(split);
        let a = &mut steps[last];
        a.present += twice;
        a.counts = BTreeMap::from([(1, a.present)]);
        a.span_counts = a.counts.clone();
        at = last + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, present: u64, counts: &[(u64, u64)]) -> Node {
        Node {
            name: name.into(),
            present,
            counts: counts.iter().copied().collect(),
            ..Node::default()
        }
    }

    #[test]
    fn an_optional_step_between_two_of_one_name_folds_back() {
        // 1000 parents: the tool in 510; llm twice in a row in the other 490.
        let mut steps = vec![
            node("llm", 1000, &[(1, 510), (2, 490)]),
            node("tool", 510, &[(1, 510)]),
            node("llm", 510, &[(1, 510)]),
        ];
        fold(&mut steps, 1000);
        assert_eq!(steps[0].counts, BTreeMap::from([(1, 1000)]));
        assert_eq!((steps[1].present, steps[2].present), (510, 1000));
        let mut split = vec![
            node("llm", 1000, &[(1, 1000)]),
            node("llm", 490, &[(1, 490)]),
            node("tool", 510, &[(1, 510)]),
            node("llm", 510, &[(1, 510)]),
        ];
        fold(&mut split, 1000);
        let names: Vec<_> = split.iter().map(|s| (s.name.as_str(), s.present)).collect();
        assert_eq!(names, [("llm", 1000), ("tool", 510), ("llm", 1000)]);
    }

    #[test]
    fn independent_steps_are_left_alone() {
        // The second llm appears regardless of the tool: no fold.
        let mut steps = vec![
            node("llm", 1000, &[(1, 700), (2, 300)]),
            node("tool", 500, &[(1, 500)]),
            node("llm", 250, &[(1, 250)]),
        ];
        fold(&mut steps, 1000);
        assert_eq!(steps[2].present, 250);
        assert_eq!(steps[0].counts.len(), 2);
    }
}
