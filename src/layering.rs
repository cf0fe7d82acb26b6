//! The layering of `src`, held by a test that fails: each top-level module imports only modules of
//! lower layers, and the edges the design forbids outright (what encodes or sends OTLP reading the
//! scenario model, the generator reaching a transport) are named.
//!
//! A test over the source text rather than workspace crates: crates would make every boundary a
//! compile error, but each costs a manifest, a build unit and re-exports on 2-core CI machines, and
//! the boundaries here are still moving; one table below is cheaper to change and fails as surely.
//! `docs/architecture.md` draws the same layers for a reader.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom first. A module may import any module of a lower layer, none of its own or a
/// higher one. Leaves (files, input, human, interrupt, value, grpc_code) import nothing of the crate.
const LAYERS: &[&[&str]] = &[
    &["value", "files", "input", "human", "interrupt", "grpc_code"],
    &["yaml"],
    &["scenario", "schema"],
    &["conventions"],
    &["generate"],
    &["lint", "encode"],
    &["export", "check"],
    &["sink", "import"],
    &["workload"],
    &["cli"],
];

/// Edges the rank alone would allow but the design forbids: encoders and transports know nothing
/// of scenarios, and transports nothing of the generator.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("encode", &["scenario", "schema", "lint"]),
    (
        "export",
        &["scenario", "schema", "conventions", "generate", "lint"],
    ),
    ("sink", &["scenario", "schema", "generate", "conventions"]),
    // `import` reads traces and writes scenario text: it neither encodes nor sends.
    ("import", &["encode", "export", "sink", "workload"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The non-test source of a file: what precedes its first `#[cfg(test)]`, without comment lines.
fn production_code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every top-level module of `src` and the other top-level modules its production code names
/// through `crate::`.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let name = rel.to_string_lossy();
            if !name.ends_with(".rs") || name.ends_with("tests.rs") {
                continue;
            }
            let top = name.split('/').next().unwrap().trim_end_matches(".rs");
            if matches!(top, "lib" | "main" | "layering") {
                continue;
            }
            let code = production_code(&std::fs::read_to_string(&path).unwrap());
            let named = edges.entry(top.to_string()).or_default();
            for (i, _) in code.match_indices("crate::") {
                let module: String = code[i + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if module != top && !module.is_empty() {
                    named.insert(module);
                }
            }
        }
    }
    edges
}

#[test]
fn every_module_imports_only_lower_layers_and_no_forbidden_edge() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = imports(&src);
    let mut breaks = Vec::new();
    for (module, named) in &edges {
        let Some(rank) = layer_of(module) else {
            breaks.push(format!("{module} is in no layer: add it to LAYERS"));
            continue;
        };
        for target in named {
            match layer_of(target) {
                Some(r) if r < rank => {}
                Some(_) => breaks.push(format!("{module} imports {target}, a layer not below it")),
                None => breaks.push(format!("{module} imports {target}, which is in no layer")),
            }
            if FORBIDDEN
                .iter()
                .any(|(from, to)| from == module && to.contains(&target.as_str()))
            {
                breaks.push(format!(
                    "{module} imports {target}: forbidden by the design"
                ));
            }
        }
    }
    assert!(breaks.is_empty(), "layering breaks:\n{}", breaks.join("\n"));
    // The test must see the tree it guards.
    assert!(edges["cli"].contains("workload") && edges["encode"].contains("generate"));
}

#[test]
fn the_reader_finds_imports_and_ignores_comments_and_tests() {
    let text = "use crate::yaml::Node;\n// crate::cli in a comment\nfn f() { crate::value::x(); }\n#[cfg(test)]\nmod tests { use crate::cli; }\n";
    let code = production_code(text);
    assert!(code.contains("crate::yaml") && code.contains("crate::value"));
    assert!(!code.contains("crate::cli"));
}
