//! The documentation, held to the code so it cannot drift:
//!
//! * docs/cli.md holds the `--help` of every command, exactly as the binary prints it
//!   (`UPDATE_DOCS=1 cargo test --test it docs::` rewrites those blocks after a change);
//! * the key index of docs/scenario-reference.md lists exactly the keys the scenario decoder
//!   accepts (`scenario::accepted_keys`, read off src/scenario/format.rs, the tables the decoder
//!   reads keys through);
//! * every `telemetry-simulator ...` command in a shell block of the README, TROUBLESHOOTING.md and
//!   docs/ parses with the real command line, and every `make TARGET` names a Makefile target;
//! * every relative link (and `#anchor`) in them resolves;
//! * shell completions and the man page generate, and name the commands and flags.

use crate::common::{bin, manifest_dir, read};
use clap::Parser;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use telemetry_simulator::cli::Cli;

/// The Markdown files users read.
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let root = manifest_dir();
    let mut files = vec![root.join("README.md"), root.join("TROUBLESHOOTING.md")];
    walk(&root.join("docs"), &mut files);
    files.sort();
    files
}

fn help(args: &str) -> String {
    let out = bin()
        .args(args.split_whitespace())
        .env("COLUMNS", "100")
        .output()
        .expect("run the binary");
    assert!(out.status.success(), "{args}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_cli_reference_is_the_help_the_binary_prints() {
    let path = manifest_dir().join("docs/cli.md");
    let text = read(&path);
    let marker = "<!-- help: ";
    let mut updated = String::new();
    let mut rest = text.as_str();
    let mut stale = Vec::new();
    let mut documented = BTreeSet::new();
    while let Some(at) = rest.find(marker) {
        let (before, from) = rest.split_at(at);
        updated.push_str(before);
        let line_end = from.find('\n').unwrap();
        let args = from[marker.len()..line_end].trim_end_matches("-->").trim();
        let block = &from[line_end + 1..];
        assert!(
            block.starts_with("```text\n"),
            "a text block follows `{args}`"
        );
        let body_start = "```text\n".len();
        let body_end = body_start + block[body_start..].find("```").unwrap();
        let expected = help(args);
        if block[body_start..body_end] != expected {
            stale.push(args.to_string());
        }
        documented.insert(args.split_whitespace().next().unwrap().to_string());
        updated.push_str(&from[..line_end + 1]);
        updated.push_str("```text\n");
        updated.push_str(&expected);
        rest = &block[body_end..];
    }
    updated.push_str(rest);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        stale.is_empty(),
        "docs/cli.md is out of date for {stale:?}: run `UPDATE_DOCS=1 cargo test --test it docs::`"
    );
    // Every visible command is documented.
    use clap::CommandFactory;
    for sub in Cli::command().get_subcommands() {
        if !sub.is_hide_set() {
            assert!(
                documented.contains(sub.get_name()),
                "docs/cli.md has no help block for `{}`",
                sub.get_name()
            );
        }
    }
}

#[test]
fn the_scenario_reference_lists_exactly_the_keys_the_decoder_accepts() {
    let text = read(&manifest_dir().join("docs/scenario-reference.md"));
    let index = &text[text.find("## Key index").expect("a key index section")..];
    let listed: BTreeSet<String> = index
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l[..l.find('`').unwrap()].to_string())
        .collect();
    let accepted: BTreeSet<String> = telemetry_simulator::scenario::accepted_keys()
        .into_iter()
        .map(String::from)
        .collect();
    let missing: Vec<_> = accepted.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&accepted).collect();
    assert!(
        missing.is_empty(),
        "keys the decoder accepts but docs/scenario-reference.md does not list: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "keys docs/scenario-reference.md lists but the decoder does not accept: {extra:?}"
    );
}

/// Shell-ish words of one command: quotes grouped, a trailing `# comment` dropped.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// The shell commands of every ```bash / ```sh block, continuation lines joined, split at
/// `;`, `&&`, `||`, `|` and `&`.
fn shell_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(lang) = trimmed.strip_prefix("```") {
            in_block = !in_block && ["bash", "sh", "shell", "console"].contains(&lang);
            continue;
        }
        if !in_block {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(trimmed);
                let line = std::mem::take(&mut pending);
                let line = line.replace("&&", ";").replace("||", ";");
                out.extend(
                    line.split([';', '|', '&'])
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                );
            }
        }
    }
    out
}

#[test]
fn every_command_in_the_docs_parses_and_every_make_target_exists() {
    let makefile = read(&manifest_dir().join("Makefile"));
    let targets: BTreeSet<&str> = makefile
        .lines()
        .filter(|l| !l.starts_with(['\t', '#', '.', ' ']))
        .filter_map(|l| l.split_once(':'))
        .filter(|(t, rest)| !rest.starts_with('=') && !t.contains(['=', '$', ' ']))
        .map(|(t, _)| t)
        .collect();
    let mut checked = 0;
    for file in markdown_files() {
        for command in shell_commands(&read(&file)) {
            let mut w = words(&command);
            // Leading `VAR=value` assignments, and shell keywords before a command.
            while w
                .first()
                .is_some_and(|x| x.contains('=') && !x.starts_with('-') || x == "do" || x == "then")
            {
                w.remove(0);
            }
            let args: Vec<String> = match w.first().map(String::as_str) {
                Some("telemetry-simulator") => w.clone(),
                Some("cargo") if w.get(1).is_some_and(|s| s == "run") => {
                    let Some(dashes) = w.iter().position(|x| x == "--") else {
                        continue;
                    };
                    std::iter::once("telemetry-simulator".to_string())
                        .chain(w[dashes + 1..].iter().cloned())
                        .collect()
                }
                Some("make") => {
                    for target in w[1..]
                        .iter()
                        .filter(|x| !x.contains('=') && !x.starts_with('-'))
                    {
                        assert!(
                            targets.contains(target.as_str()),
                            "{}: `{command}`: no Makefile target `{target}`",
                            file.display()
                        );
                    }
                    checked += 1;
                    continue;
                }
                _ => continue,
            };
            // Redirections are the shell's, not the command's; a shell variable stands for a
            // value (numbers are the strictest).
            let args: Vec<String> = args
                .iter()
                .take_while(|a| !a.starts_with('>') && !a.starts_with('<'))
                .map(|a| shell_variables_as_one(a))
                .collect();
            match Cli::try_parse_from(&args) {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        clap::error::ErrorKind::DisplayHelp
                            | clap::error::ErrorKind::DisplayVersion
                    ) => {}
                Err(e) => panic!("{}: `{command}` does not parse:\n{e}", file.display()),
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} commands found in the docs");
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        if let Some(h) = line.strip_prefix('#') {
            let s = slug(h.trim_start_matches('#'));
            let mut candidate = s.clone();
            let mut n = 0;
            while out.contains(&candidate) {
                n += 1;
                candidate = format!("{s}-{n}");
            }
            out.insert(candidate);
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut checked = 0;
    for file in markdown_files() {
        let text = read(&file);
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let target = &rest[..rest.find(')').unwrap()];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            assert!(
                resolved.exists(),
                "{}: link to {target}: no such file",
                file.display()
            );
            if !anchor.is_empty() && resolved.extension().is_some_and(|e| e == "md") {
                assert!(
                    anchors(&read(&resolved)).contains(anchor),
                    "{}: link to {target}: no such heading",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} links found");
}

#[test]
fn completions_and_the_man_page_generate() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in [
            "scenario",
            "validate",
            "scenarios-dir",
            "content",
            "project",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        if shell == "bash" {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("ts.bash");
            std::fs::write(&file, &script).unwrap();
            let syntax = std::process::Command::new("bash")
                .arg("-n")
                .arg(&file)
                .status()
                .expect("bash");
            assert!(syntax.success(), "the bash completion script is valid bash");
        }
    }
    let bad = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let out = bin().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "roff");
    assert!(page.contains(".TH telemetry-simulator 1"));
    for section in [
        "COMMAND: scenario",
        "COMMAND: run",
        "COMMAND: validate",
        "COMMAND: sink",
    ] {
        assert!(page.contains(section), "man page lacks {section}");
    }
    assert!(page.contains("openinference.project.name"));
    // Hidden commands stay out of it and of --help.
    assert!(!page.contains("COMMAND: completions"));
    let help = help("--help");
    assert!(!help.contains("completions") && !help.contains("\n  man"));
}

/// `a` with every shell variable (`$k`, `${k}`) replaced by `1`: `$k/4` → `1/4`.
fn shell_variables_as_one(a: &str) -> String {
    let mut out = String::new();
    let mut chars = a.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.next_if_eq(&'{').is_some();
        while chars
            .next_if(|c| c.is_ascii_alphanumeric() || *c == '_')
            .is_some()
        {}
        if braced {
            chars.next_if_eq(&'}');
        }
        out.push('1');
    }
    out
}

/// The README names one test command; CI runs exactly it, and it sets up what the tests need
/// (so a fresh machine needs nothing installed by hand) before running all of them.
#[test]
fn the_readme_test_command_is_what_ci_runs_and_it_sets_up_the_tests() {
    let readme = read(&manifest_dir().join("README.md"));
    let section = &readme[readme
        .find("Run all the tests")
        .expect("the README's test section")..];
    let block = section
        .split("```bash\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a bash block in the test section");
    let command = block
        .lines()
        .next()
        .and_then(|l| l.split('#').next())
        .map(str::trim)
        .expect("the test command");
    assert_eq!(command, "scripts/test");
    let ci = read(&manifest_dir().join(".ci/run"));
    assert!(
        ci.lines().any(|l| l.trim() == command),
        ".ci/run must run the README's test command, {command}:\n{ci}"
    );
    let script = read(&manifest_dir().join(command));
    for step in [
        "cargo fmt --all -- --check",
        "cargo clippy --all-targets -- -D warnings",
        "apt-get",
        "make",
        "openssl",
        "chromium",
        "python3-venv",
        "scripts/judge-venv",
        "scripts/hadolint-venv",
        "cargo test --no-fail-fast",
        "scripts/phoenix-venv",
        "cargo test --test it phoenix -- --ignored",
    ] {
        assert!(script.contains(step), "{command} does not mention {step}");
    }
    // The gates run first (after the header): they are fast, and fail before the slow stages.
    let body = &script[script
        .find("\nset ")
        .expect("a `set` line after the header")..];
    let at = |step: &str| {
        body.find(step)
            .unwrap_or_else(|| panic!("{command} runs no {step}"))
    };
    assert!(at("cargo clippy --all-targets") < at("apt-get"));
    assert!(at("cargo fmt --all") < at("cargo test --no-fail-fast"));
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(manifest_dir().join(command))
        .status()
        .unwrap();
    assert!(syntax.success(), "{command} is not valid bash");
    let help = std::process::Command::new(manifest_dir().join(command))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--no-phoenix"));
    let wrong = std::process::Command::new(manifest_dir().join(command))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
}
