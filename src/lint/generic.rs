//! `validate`'s checks of generic steps against their conventions: a key the convention
//! requires that the step neither writes nor gets from the generator's defaults, and a name
//! placeholder that no constant (or categorical) attribute fills (it would be sent as written, braces and all).
//!
//! Warnings, not errors: a scenario may describe a system that leaves a recommended key out, and
//! it still runs. The convention data is `src/conventions/generic.rs`, the same rows the plan
//! compiler reads, so what is checked is what is generated; a second list of required keys
//! in the schema file was rejected for that reason (the schema file says what each key means).

use super::Findings;
use crate::conventions::generic as conventions;
use crate::scenario::{AttributeValue, Distribution, Severity, SourceMap, Step, nearest};

/// Warns about generic step `index` (`step`) where it falls short of its convention.
pub(super) fn conventions(out: &mut Findings, source: &SourceMap, index: usize, step: &Step) {
    let (Some(generic), Some(step_source)) = (&step.generic, source.steps.get(index)) else {
        return;
    };
    let row = conventions::of(generic.convention);
    let written = |key: &str| step.attributes.iter().any(|a| a.key == key);
    let defaulted = |key: &str| row.defaults.iter().any(|(k, _)| *k == key);
    let attributes_path = format!("{}.attributes", step_source.path);
    let mark = source
        .key(&attributes_path)
        .or_else(|| source.key(&format!("{}.name", step_source.path)))
        .unwrap_or(step_source.mark);
    let missing: Vec<&str> = row
        .required
        .iter()
        .copied()
        .filter(|k| !written(k) && !defaulted(k))
        .collect();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|k| format!("`{k}`")).collect();
        out.push(
            Severity::Warning,
            Some(mark),
            &attributes_path,
            format!(
                "this `{}` step has no {}, which its convention requires",
                generic.convention,
                list.join(", ")
            ),
            Some(format!(
                "add {} under `attributes`; recommended too: {}",
                list.join(", "),
                row.recommended.join(", ")
            )),
        );
    }
    for key in generic.placeholders() {
        // A categorical one is checked by the decoder (one name per value).
        let constant = step.attributes.iter().any(|a| {
            a.key == key
                && matches!(
                    a.value,
                    AttributeValue::Constant(_)
                        | AttributeValue::Sampled(Distribution::Categorical { .. })
                )
        });
        if constant || defaulted(key) {
            continue;
        }
        let keys = step.attributes.iter().map(|a| a.key.as_str());
        let help = nearest(key, keys)
            .map(|n| format!("did you mean `{{{n}}}`?"))
            .unwrap_or_else(|| format!("write `{key}` under `attributes`"));
        let name_path = format!("{}.name", step_source.path);
        out.push(
            Severity::Warning,
            source.key(&name_path).or(Some(step_source.mark)),
            &name_path,
            format!("placeholder `{{{key}}}` names no constant attribute of this step: the name keeps it as written"),
            Some(help),
        );
    }
}
