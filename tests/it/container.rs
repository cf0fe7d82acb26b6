//! The Containerfile, checked without a container engine (this machine has none): its stages,
//! user and entrypoint are what docs/README promise, everything the release build embeds is in
//! the build context, and hadolint (from PyPI, via scripts/hadolint-venv) finds nothing. Building
//! and running the image needs podman or docker; the README shows the commands.

use crate::common::{manifest_dir, read};
use std::process::Command;

/// The instructions of the file: (keyword, arguments), continuation lines joined.
fn instructions() -> Vec<(String, String)> {
    let text = read(&manifest_dir().join("Containerfile"));
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                let (keyword, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((keyword.to_uppercase(), rest.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

#[test]
fn a_rust_builder_stage_and_a_small_non_root_final_stage() {
    let all = instructions();
    let froms: Vec<&str> = all
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(
        froms[0].contains("library/rust:") && froms[0].ends_with(" AS builder"),
        "{}",
        froms[0]
    );
    assert!(
        froms[1].contains("distroless/cc") || froms[1].contains("debian:bookworm-slim"),
        "{}",
        froms[1]
    );
    let final_stage = &all[all.iter().rposition(|(k, _)| k == "FROM").unwrap()..];
    let get = |keyword: &str| {
        final_stage
            .iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, a)| a.clone())
            .collect::<Vec<_>>()
    };
    let user = get("USER");
    assert_eq!(user.len(), 1);
    let uid = user[0].split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "numeric non-root user: {user:?}"
    );
    assert_eq!(
        get("ENTRYPOINT"),
        vec![r#"["/usr/local/bin/telemetry-simulator"]"#]
    );
    let copies = get("COPY");
    assert!(
        copies
            .iter()
            .any(|c| c.starts_with("--from=builder") && c.contains("release/telemetry-simulator")),
        "{copies:?}"
    );
    assert!(
        all.iter()
            .any(|(k, a)| k == "RUN" && a.contains("cargo build --release --locked"))
    );
}

#[test]
fn the_build_context_holds_everything_the_binary_embeds() {
    let copied: Vec<String> = instructions()
        .into_iter()
        .filter(|(k, a)| k == "COPY" && !a.starts_with("--from"))
        .flat_map(|(_, a)| {
            let mut words: Vec<String> = a.split_whitespace().map(String::from).collect();
            words.pop(); // the destination
            words
        })
        .collect();
    let ignore = read(&manifest_dir().join(".dockerignore"));
    // Every include_str!/include_bytes! of the crate reads a file under a copied folder.
    let mut embedded = Vec::new();
    for entry in walk(&manifest_dir().join("src")) {
        let text = read(&entry);
        for (i, _) in text.match_indices("include_str!(\"../") {
            let rest = &text[i + "include_str!(\"".len()..];
            let path = &rest[..rest.find('"').unwrap()];
            let top = path.split('/').find(|p| *p != "..").unwrap().to_string();
            embedded.push(top);
        }
    }
    embedded.sort();
    embedded.dedup();
    assert!(embedded.contains(&"scenarios".to_string()), "{embedded:?}");
    for top in &embedded {
        assert!(
            copied.iter().any(|c| c.trim_end_matches('/') == top),
            "{top}/ is embedded but not copied: {copied:?}"
        );
        assert!(
            ignore.contains(&format!("!{top}/")),
            "{top}/ is excluded by .dockerignore"
        );
    }
    for needed in ["Cargo.toml", "Cargo.lock", "src"] {
        assert!(
            copied.iter().any(|c| c.trim_end_matches('/') == needed),
            "{needed}"
        );
    }
    assert!(
        ignore.lines().next() == Some("*") || ignore.contains("\n*\n"),
        "target/ must stay out of the context"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn hadolint_finds_nothing() {
    let venv = Command::new(manifest_dir().join("scripts/hadolint-venv"))
        .output()
        .expect("run scripts/hadolint-venv");
    assert!(
        venv.status.success(),
        "scripts/hadolint-venv failed (it needs python3 and PyPI):\n{}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let python = String::from_utf8_lossy(&venv.stdout).trim().to_string();
    let hadolint = std::path::Path::new(&python).with_file_name("hadolint");
    let out = Command::new(&hadolint)
        .args(["--no-color", "Containerfile"])
        .current_dir(manifest_dir())
        .output()
        .expect("run hadolint");
    assert!(
        out.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
