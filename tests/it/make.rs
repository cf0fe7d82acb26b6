//! The Makefile, as a user drives it: `make -n` shows what each target would run with the
//! variables the original tool's Makefile took (OTLP_ENDPOINT, SCENARIOS_DIR, SCHEMA_PATH,
//! SCENARIO, COUNT, INTERVAL), and `make list` / `make validate` really run (against the binary under test, through
//! SIMULATOR, so no release build is needed).

use crate::common::manifest_dir;
use std::process::{Command, Output};

/// `make ARGS` in the repository, with the simulator's variables cleared from the environment.
fn make(args: &[&str]) -> Output {
    let mut cmd = Command::new("make");
    cmd.arg("--no-print-directory")
        .args(args)
        .current_dir(manifest_dir());
    for var in [
        "OTLP_ENDPOINT",
        "SCENARIOS_DIR",
        "SCHEMA_PATH",
        "SCENARIO",
        "COUNT",
        "INTERVAL",
        "ARGS",
        "SIMULATOR",
        "CONTAINER_ENGINE",
        "MAKEFLAGS",
        "MFLAGS",
        "TENANT_UUID",
        "TELEMETRY_TENANT_UUIDS",
    ] {
        cmd.env_remove(var);
    }
    cmd.output()
        .expect("`make` is needed for this test: run scripts/test, which installs it (or apt-get install make)")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The commands `make -n TARGET VARS...` would run.
fn dry_run(args: &[&str]) -> String {
    let out = make(&[&["-n"], args].concat());
    assert!(
        out.status.success(),
        "make -n {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

fn simulator() -> String {
    format!("SIMULATOR={}", env!("CARGO_BIN_EXE_telemetry-simulator"))
}

#[test]
fn every_target_has_a_recipe() {
    for target in [
        "install",
        "build",
        "run",
        "run-fast",
        "run-count",
        "run-scenario",
        "list",
        "list-scenarios",
        "validate",
        "run-validate",
        "sink",
        "test",
        "test-phoenix",
        "bench",
        "jaeger-down",
        "phoenix",
        "lint-container",
        "man",
        "completions",
        "help",
    ] {
        assert!(!dry_run(&[target]).trim().is_empty(), "{target}");
    }
    assert!(dry_run(&["install"]).contains("cargo install --path . --locked"));
    assert_eq!(dry_run(&["test"]).trim(), "scripts/test");
}

#[test]
fn run_targets_pass_the_make_variables() {
    let run = dry_run(&[
        "run",
        "OTLP_ENDPOINT=http://collector:4318",
        "SCENARIOS_DIR=/defs",
        "COUNT=7",
        "INTERVAL=3",
        "ARGS=--seed 9",
    ]);
    assert!(
        run.contains(
            "run --count 7 --interval 3 --endpoint http://collector:4318 --scenarios-dir /defs --seed 9"
        ),
        "{run}"
    );
    // Defaults: the seed's `run --count 500 --interval 200` style, and the binary's own endpoint.
    let run = dry_run(&["run"]);
    assert!(run.contains("run --count 100 --interval 500"), "{run}");
    assert!(!run.contains("--endpoint"), "{run}");
    assert!(run.contains("cargo run --release"), "{run}");

    let one = dry_run(&["run-scenario", "SCENARIO=tool_retry", "COUNT=50"]);
    assert!(
        one.contains("scenario --name tool_retry --count 50"),
        "{one}"
    );
    // Without COUNT/INTERVAL a scenario runs its own repeat_count and interval_ms.
    let one = dry_run(&["run-scenario", "SCENARIO=tool_retry"]);
    assert!(
        !one.contains("--count") && !one.contains("--interval"),
        "{one}"
    );

    let fast = dry_run(&["run-fast"]);
    assert!(fast.contains("--interval 0"), "{fast}");
}

#[test]
fn schema_path_reaches_every_generating_target_and_run_count_needs_a_count() {
    for target in ["run", "run-fast", "run-count", "run-scenario", "validate"] {
        let line = dry_run(&[target, "COUNT=5", "SCHEMA_PATH=/conv/semconv.yaml"]);
        assert!(
            line.contains("--schema-path /conv/semconv.yaml"),
            "{target}: {line}"
        );
        let line = dry_run(&[target, "COUNT=5"]);
        assert!(!line.contains("--schema-path"), "{target}: {line}");
    }
    let count = dry_run(&[
        "run-count",
        "COUNT=50",
        "INTERVAL=20",
        "SCENARIOS_DIR=/defs",
    ]);
    assert!(
        count.contains("run --count 50 --interval 20") && count.contains("--scenarios-dir /defs"),
        "{count}"
    );
    let missing = make(&["run-count", "SIMULATOR=false"]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("run-count needs COUNT"), "{err}");
}

#[test]
fn bench_runs_the_benchmark_script_with_its_count_and_scenario() {
    let bench = dry_run(&["bench"]);
    assert!(
        bench.contains("scripts/bench 1000000 successful_agent_turn"),
        "{bench}"
    );
    let smaller = dry_run(&["bench", "BENCH_COUNT=5000", "BENCH_SCENARIO=tool_retry"]);
    assert!(
        smaller.contains("scripts/bench 5000 tool_retry"),
        "{smaller}"
    );
}

#[test]
fn jaeger_targets_use_the_engine_found_or_say_there_is_none() {
    let up = dry_run(&["jaeger-up", "CONTAINER_ENGINE=podman"]);
    assert!(up.contains("podman run -d --rm --name"), "{up}");
    for port in ["16686:16686", "4317:4317", "4318:4318"] {
        assert!(up.contains(port), "{port} in {up}");
    }
    assert!(up.contains("jaegertracing/jaeger:2."), "{up}");
    let down = dry_run(&["jaeger-down", "CONTAINER_ENGINE=docker"]);
    assert!(down.contains("docker stop"), "{down}");

    let none = make(&["jaeger-up", "CONTAINER_ENGINE="]);
    assert!(!none.status.success());
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(err.contains("needs podman or docker"), "{err}");
}

#[test]
fn make_list_and_validate_really_run() {
    let list = make(&["list", &simulator()]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let text = stdout(&list);
    assert!(text.contains("successful_agent_turn") && text.contains("tool_retry"));

    let validate = make(&["validate", &simulator()]);
    assert!(validate.status.success());
    assert!(
        stdout(&validate).contains("0 invalid"),
        "{}",
        stdout(&validate)
    );

    // SCENARIOS_DIR reaches the binary, and a bad file fails the target.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.yaml"),
        "name: broken\nroot:\n  type: vendor.a2a.orchestrate\n  latncy: 5\n",
    )
    .unwrap();
    let scenarios_dir = format!("SCENARIOS_DIR={}", dir.path().display());
    let bad = make(&["validate", &simulator(), &scenarios_dir]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("broken.yaml") && err.contains("latency"),
        "{err}"
    );
    let listed = stdout(&make(&["list", &simulator(), &scenarios_dir]));
    assert!(
        listed.contains("broken") && !listed.contains("tool_retry"),
        "{listed}"
    );
}

#[test]
fn the_default_tenant_is_set_only_when_no_tenant_variable_is() {
    let tenant_seen = |extra: &[&str]| {
        // SIMULATOR prints the tenant the tool would see, then ignores the target's arguments.
        let out = make(
            &[
                &["-s", "run", "SIMULATOR=printenv TENANT_UUID; true"],
                extra,
            ]
            .concat(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out).trim().to_string()
    };
    assert_eq!(tenant_seen(&[]), "dev-tenant-1");
    assert_eq!(tenant_seen(&["TENANT_UUID=acme"]), "acme");
    // Beside TELEMETRY_TENANT_UUIDS the default would only be ignored (with a warning).
    assert_eq!(tenant_seen(&["TELEMETRY_TENANT_UUIDS=a,b"]), "");
}
