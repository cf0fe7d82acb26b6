//! Shared helpers for the integration tests (`use crate::common::...` in each module of `tests/it`).
//!
//! * [`bin`]: the simulator binary as a user would run it, with a clean environment.
//! * [`Judge`]: the independent OTLP receiver (`tests/judge/otlp_receiver.py`, built only on the
//!   official OpenTelemetry Python protobuf bindings) and what it [`Received`].
//! * [`sdk_send`]: traces sent by the official OpenTelemetry Python SDK (`tests/judge/sdk_sender.py`).
//! * Running it: [`text`] of what it printed, [`simulate`] (or [`Run`] in the background) with
//!   its summary JSON, [`run_to_judge`] / [`send_to_judge`] against a fresh judge, a
//!   [`scenario_dir`] of scenario files, [`n`] for counts.
//! * Small statistics helpers for tests of sampled behaviour ([`assert_proportion`],
//!   [`assert_mean_within`]).
//! * [`http::request`]: one HTTP/1.1 request, for the REST APIs of the real GenAI backends.
//!
//! The judges need a Python with `tests/judge/requirements.txt`: `$PYTHON`, else
//! `target/judge-venv/bin/python` (made by `scripts/judge-venv`), else `python3`.
//!
//! Only std, `serde_json`, `tempfile` and `flate2` are used here.
#![allow(dead_code)]

pub mod http;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// Environment variables the simulator (or the original Python tool it replaces) reads, by
/// prefix. They are removed from the child's environment so that nothing leaks in from the
/// developer's shell.
const CLEARED_PREFIXES: &[&str] = &["OTEL_", "TELEMETRY_", "TENANT_", "OTLP_"];
/// ... and by exact name.
const CLEARED_NAMES: &[&str] = &[
    "SCHEMA_PATH",
    "SCENARIOS_DIR",
    "SERVICE_INSTANCE_ID",
    "DEPLOYMENT_ENVIRONMENT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

fn scrub(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if CLEARED_PREFIXES.iter().any(|p| k.starts_with(p)) || CLEARED_NAMES.contains(&k) {
            cmd.env_remove(k);
        }
    }
    // Tests talk to 127.0.0.1 only: never through a proxy.
    cmd.env("NO_PROXY", "127.0.0.1,localhost,::1");
    cmd.env("no_proxy", "127.0.0.1,localhost,::1");
}

/// The `telemetry-simulator` binary, with OTEL_*/TELEMETRY_*/TENANT_*/OTLP_* (and a few other
/// variables the tool reads, and proxy settings) removed from its environment, and
/// `TENANT_UUID=test-tenant` set. Override with `.env(...)` / `.env_remove(...)`.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_telemetry-simulator"));
    scrub(&mut cmd);
    cmd.env("TENANT_UUID", "test-tenant");
    cmd
}

/// The crate's root directory.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A finished run's stdout, a newline, then its stderr: for failure messages and `contains`
/// checks of what a user would see on the terminal.
pub fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A count in a summary or sink JSON document; a missing or non-count value fails the test.
pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// A port on 127.0.0.1 that was free a moment ago: bound, its number read, the listener
/// dropped. Nothing listens on it (a dead endpoint) until someone binds it again.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// A temporary scenarios folder holding each `(name, yaml)` as `name.yaml`.
/// Waits until the GenAI backend `name` (Phoenix, MLflow), started as `child` on `port` with its
/// output in `dir/server.log`, answers `GET health` with 200. Its first start migrates its store:
/// tens of seconds on 2 cores, so it has 240 s. Panics with the log's tail if it exits first or
/// never answers.
pub fn wait_for_backend(name: &str, child: &mut Child, port: u16, dir: &Path, health: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(240) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{name} exited ({status}) before serving:\n{}",
                log_tail(dir)
            );
        }
        let answer = http::request(port, "GET", health, None, Duration::from_secs(30));
        if matches!(answer, Some((200, _))) {
            let secs = started.elapsed().as_secs_f64();
            eprintln!("{name} is up on 127.0.0.1:{port} after {secs:.0} s");
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("{name} did not serve within 240 s:\n{}", log_tail(dir));
}

/// The last 40 lines of a backend's `dir/server.log`.
pub fn log_tail(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(40).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// The Python of a GenAI backend's venv: `$var` when set, else the one `script` builds (and
/// prints) in target/, as the backend stage of scripts/test does.
pub fn venv_python(var: &str, script: &str) -> String {
    if let Ok(p) = std::env::var(var)
        && !p.trim().is_empty()
    {
        return p;
    }
    let out = Command::new(manifest_dir().join(script))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} could not build its venv ({}); it needs python3 and PyPI",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The bundled scenarios made only of agent spans in one service (every one but
/// `distributed_agent`, whose generic and SERVER spans carry no OpenInference kind nor vendor
/// class: `services.rs` and `generic.rs` check those), for tests of the agent spans' conventions.
pub fn agent_scenarios() -> tempfile::TempDir {
    let files: Vec<(&str, &str)> = telemetry_simulator::scenario::BUNDLED
        .iter()
        .copied()
        .filter(|(name, _)| !matches!(*name, "distributed_agent" | "example_scenario"))
        .collect();
    scenario_dir(&files)
}

pub fn scenario_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(format!("{name}.yaml")), text).unwrap();
    }
    dir
}

/// The binary running in the background with `--summary-json` written to a file of its own, so
/// that a test can act on it (stop a receiver, send a signal) before collecting it with
/// [`Run::wait`].
pub struct Run {
    pub child: Child,
    dir: tempfile::TempDir,
}

impl Run {
    /// Starts the binary with `args` and `envs`, stdin closed, stdout and stderr captured.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let child = bin()
            .args(args)
            .arg("--summary-json")
            .arg(dir.path().join("summary.json"))
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the simulator starts");
        Run { child, dir }
    }

    /// Waits for the end: what it printed, and its summary JSON (`Null` if it wrote none).
    pub fn wait(self) -> (Output, Value) {
        let out = self.child.wait_with_output().expect("the simulator ends");
        let summary = std::fs::read_to_string(self.dir.path().join("summary.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        (out, summary)
    }
}

/// Runs the binary to its end with `args` and `envs`: what it printed, and its summary JSON
/// (`Null` if it wrote none). Success is the caller's to check.
pub fn simulate(args: &[&str], envs: &[(&str, &str)]) -> (Output, Value) {
    Run::start(args, envs).wait()
}

/// The Python that runs the judges: `$PYTHON`, else the virtual environment that
/// `scripts/judge-venv` makes (or finds up to date) in `target/judge-venv`, so that a plain
/// `cargo test` sets up its own judges; `python3` only if that script fails.
pub fn python() -> String {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Ok(p) = std::env::var("PYTHON")
                && !p.trim().is_empty()
            {
                return p;
            }
            let made = Command::new(manifest_dir().join("scripts/judge-venv"))
                .stderr(Stdio::inherit())
                .output();
            match made {
                Ok(out) if out.status.success() => {
                    String::from_utf8_lossy(&out.stdout).trim().to_string()
                }
                _ => "python3".to_string(),
            }
        })
        .clone()
}

/// A `python()` command running `tests/judge/<script>`, with the same scrubbed environment.
pub fn judge_script(script: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(manifest_dir().join("tests/judge").join(script));
    scrub(&mut cmd);
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

const SETUP_HINT: &str = "the test judges need a Python with tests/judge/requirements.txt: \
     run scripts/judge-venv once (or set PYTHON to such an interpreter)";

/// A running `tests/judge/otlp_receiver.py`. Start it, point the simulator at
/// [`Judge::endpoint`], then [`Judge::finish`] to stop it and read what it decoded.
pub struct Judge {
    child: Option<Child>,
    port: u16,
    grpc_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl Judge {
    /// Spawns the receiver (OTLP/HTTP only) and waits (at most ~20 s) until it has written its
    /// port. Panics with the receiver's stderr if it does not come up.
    pub fn start() -> Judge {
        Judge::spawn(false, &[])
    }

    /// [`Judge::start`], serving OTLP/gRPC (grpcio) too.
    pub fn start_with_grpc() -> Judge {
        Judge::spawn(true, &[])
    }

    /// HTTP and gRPC, with extra receiver arguments (e.g. `--tls-cert`).
    pub fn start_with(args: &[&str]) -> Judge {
        Judge::spawn(true, args)
    }

    fn spawn(grpc: bool, args: &[&str]) -> Judge {
        let dir = tempfile::Builder::new()
            .prefix("otlp-judge-")
            .tempdir()
            .expect("temp dir for the judge");
        let port_file = dir.path().join("port");
        let dump = dir.path().join("dump.json");
        let stderr = std::fs::File::create(dir.path().join("stderr")).expect("judge stderr file");
        let stdout = std::fs::File::create(dir.path().join("stdout")).expect("judge stdout file");
        let mut cmd = judge_script("otlp_receiver.py");
        cmd.arg("--port-file")
            .arg(&port_file)
            .arg("--dump")
            .arg(&dump)
            .arg("--host")
            .arg("127.0.0.1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let grpc_port_file = dir.path().join("grpc-port");
        if grpc {
            cmd.arg("--grpc-port-file").arg(&grpc_port_file);
        }
        cmd.args(args);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start the OTLP judge with `{}`: {e}; {SETUP_HINT}",
                python()
            )
        });
        let mut judge = Judge {
            child: Some(child),
            port: 0,
            grpc_port: None,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Ok(port) = text.trim().parse::<u16>()
            {
                judge.port = port;
                if grpc {
                    // Written before the HTTP port file.
                    let text = read(&grpc_port_file);
                    judge.grpc_port = Some(text.trim().parse().expect("gRPC port"));
                }
                return judge;
            }
            let child = judge.child.as_mut().expect("child present");
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the OTLP judge exited ({status}) before listening; {SETUP_HINT}.\nstderr:\n{}",
                    judge.stderr()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "the OTLP judge did not write its port within 20 s.\nstderr:\n{}",
                    judge.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `http://127.0.0.1:PORT`: the OTLP/HTTP base URL (signals go to `/v1/traces` etc.).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` of the OTLP/gRPC server (see [`Judge::start_with_grpc`]).
    pub fn grpc_endpoint(&self) -> String {
        let port = self.grpc_port.expect("the judge was started without gRPC");
        format!("http://127.0.0.1:{port}")
    }

    /// What the receiver wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Stops the receiver with SIGTERM, waits for it (at most 30 s) and returns what it
    /// decoded. Panics if it does not exit cleanly or leaves no readable dump.
    pub fn finish(mut self) -> Received {
        let mut child = self.child.take().expect("judge already finished");
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "the OTLP judge did not exit within 30 s of SIGTERM.\nstderr:\n{}",
                        self.stderr()
                    );
                }
            }
        };
        assert!(
            status.success(),
            "the OTLP judge exited with {status}.\nstderr:\n{}",
            self.stderr()
        );
        let path = self.dir.path().join("dump.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "no judge dump at {}: {e}.\nstderr:\n{}",
                path.display(),
                self.stderr()
            )
        });
        let raw: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("judge dump is not JSON: {e}"));
        Received::from_value(raw)
    }
}

impl Drop for Judge {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One span as the judge decoded it (ids in lower-case hex; times in ns since the epoch).
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: i64,
    pub start: u64,
    pub end: u64,
    /// OTLP StatusCode: 0 unset, 1 ok, 2 error.
    pub status_code: i64,
    pub status_message: String,
    pub attributes: Map<String, Value>,
    pub resource: Map<String, Value>,
    /// `{"name", "version", "attributes"}` of the instrumentation scope.
    pub scope: Map<String, Value>,
    /// `[{"name", "time_unix_nano", "attributes"}]`
    pub events: Vec<Value>,
    /// `[{"trace_id", "span_id", "trace_state", "attributes", "flags"}]`
    pub links: Vec<Value>,
    pub flags: u64,
}

impl Span {
    fn from_value(v: &Value) -> Span {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let u = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or_default();
        let i = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or_default();
        let m = |k: &str| {
            v.get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let a = |k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        Span {
            trace_id: s("trace_id"),
            span_id: s("span_id"),
            parent_span_id: s("parent_span_id"),
            name: s("name"),
            kind: i("kind"),
            start: u("start_time_unix_nano"),
            end: u("end_time_unix_nano"),
            status_code: i("status_code"),
            status_message: s("status_message"),
            attributes: m("attributes"),
            resource: m("resource"),
            scope: m("scope"),
            events: a("events"),
            links: a("links"),
            flags: u("flags"),
        }
    }

    pub fn attr_str(&self, k: &str) -> Option<&str> {
        self.attributes.get(k).and_then(Value::as_str)
    }

    pub fn attr_i64(&self, k: &str) -> Option<i64> {
        self.attributes.get(k).and_then(Value::as_i64)
    }

    /// A double attribute (an int attribute is accepted too).
    pub fn attr_f64(&self, k: &str) -> Option<f64> {
        self.attributes.get(k).and_then(Value::as_f64)
    }

    pub fn attr_bool(&self, k: &str) -> Option<bool> {
        self.attributes.get(k).and_then(Value::as_bool)
    }

    pub fn resource_str(&self, k: &str) -> Option<&str> {
        self.resource.get(k).and_then(Value::as_str)
    }

    /// `end - start` (0 if end is before start).
    pub fn duration_ns(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_empty()
    }
}

/// Everything the judge decoded, as written in its dump (see the top of otlp_receiver.py).
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: Value,
    pub spans: Vec<Span>,
    pub requests: Vec<Value>,
    pub metrics: Vec<Value>,
    pub logs: Vec<Value>,
    pub decode_errors: Vec<String>,
    /// Non-fatal protocol findings (duplicate attribute keys, unknown OTLP/JSON fields, enums
    /// sent as names in OTLP/JSON).
    pub warnings: Vec<String>,
}

impl Received {
    pub fn from_value(raw: Value) -> Received {
        let arr = |k: &str| {
            raw.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let strings = |k: &str| {
            arr(k)
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect()
        };
        Received {
            spans: arr("spans").iter().map(Span::from_value).collect(),
            requests: arr("requests"),
            metrics: arr("metrics"),
            logs: arr("logs"),
            decode_errors: strings("decode_errors"),
            warnings: strings("warnings"),
            raw,
        }
    }

    /// Spans grouped by trace id; within a trace, in start order (ties: a root first, then
    /// the longer span first, so a parent precedes a child that starts with it).
    pub fn traces(&self) -> BTreeMap<String, Vec<&Span>> {
        let mut out: BTreeMap<String, Vec<&Span>> = BTreeMap::new();
        for s in &self.spans {
            out.entry(s.trace_id.clone()).or_default().push(s);
        }
        for spans in out.values_mut() {
            spans.sort_by(|a, b| {
                a.start
                    .cmp(&b.start)
                    .then(b.is_root().cmp(&a.is_root()))
                    .then(b.end.cmp(&a.end))
                    .then(a.span_id.cmp(&b.span_id))
            });
        }
        out
    }

    /// Spans with this name.
    pub fn spans_named(&self, name: &str) -> Vec<&Span> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    /// Requests the judge received on this path (e.g. "/v1/traces").
    pub fn requests_to(&self, path: &str) -> Vec<&Value> {
        self.requests.iter().filter(|r| r["path"] == path).collect()
    }

    /// Panics, listing them, if the judge recorded any decode error.
    pub fn assert_no_decode_errors(&self) {
        assert!(
            self.decode_errors.is_empty(),
            "the judge could not decode {} request(s):\n{}",
            self.decode_errors.len(),
            self.decode_errors.join("\n")
        );
    }
}

/// Sends `traces` traces of `spans_per_trace` spans to `endpoint` with the official Python SDK
/// (`tests/judge/sdk_sender.py`, OTLP/HTTP protobuf) and returns its JSON summary
/// `{"traces", "spans", "trace_ids", ...}`. Panics if the SDK reports a failed export.
pub fn sdk_send(
    endpoint: &str,
    traces: usize,
    spans_per_trace: usize,
    extra_args: &[&str],
) -> Value {
    let out = judge_script("sdk_sender.py")
        .args(["--endpoint", endpoint])
        .args(["--traces", &traces.to_string()])
        .args(["--spans-per-trace", &spans_per_trace.to_string()])
        .args(extra_args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run sdk_sender.py with `{}`: {e}; {SETUP_HINT}",
                python()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sdk_sender.py failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!("sdk_sender.py printed no JSON summary ({e}):\n{stdout}\n{stderr}")
    })
}

/// Decodes a file of OTLP/JSON lines (what `--output FILE` writes) with the judge's official
/// bindings (`otlp_receiver.py --decode-jsonl`); each line is one of the returned requests.
pub fn judge_decode_jsonl(path: &Path) -> Received {
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = dir.path().join("dump.json");
    let out = judge_script("otlp_receiver.py")
        .arg("--decode-jsonl")
        .arg(path)
        .arg("--dump")
        .arg(&dump)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the judge with `{}`: {e}; {SETUP_HINT}",
                python()
            )
        });
    let raw: Value = serde_json::from_str(&read(&dump)).unwrap_or_else(|e| {
        panic!(
            "no judge dump ({e}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Received::from_value(raw)
}

/// A running `telemetry-simulator sink` (HTTP and gRPC on ephemeral ports of 127.0.0.1), started
/// with extra arguments (faults, `--dump`). [`Sink::finish`] stops it with SIGTERM and returns
/// its `--summary-json`.
pub struct Sink {
    child: Option<Child>,
    pub http_port: u16,
    pub grpc_port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    pub fn start(args: &[&str]) -> Sink {
        let dir = tempfile::Builder::new()
            .prefix("sink-")
            .tempdir()
            .expect("temp dir for the sink");
        Sink::start_on(dir, "127.0.0.1:0", "127.0.0.1:0", args)
    }

    /// A sink on given addresses, e.g. to restart one on the ports a previous one had.
    pub fn start_on(dir: tempfile::TempDir, http: &str, grpc: &str, args: &[&str]) -> Sink {
        let http_file = dir.path().join("http-port");
        let grpc_file = dir.path().join("grpc-port");
        let _ = std::fs::remove_file(&http_file);
        let _ = std::fs::remove_file(&grpc_file);
        let stderr = std::fs::File::create(dir.path().join("stderr")).expect("sink stderr file");
        let child = bin()
            .args(["sink", "--quiet", "--listen", http, "--grpc-listen", grpc])
            .arg("--port-file")
            .arg(&http_file)
            .arg("--grpc-port-file")
            .arg(&grpc_file)
            .arg("--summary-json")
            .arg(dir.path().join("summary.json"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("the sink starts");
        let mut sink = Sink {
            child: Some(child),
            http_port: 0,
            grpc_port: 0,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let port = |f: &Path| {
                std::fs::read_to_string(f)
                    .ok()
                    .and_then(|t| t.trim().parse::<u16>().ok())
            };
            if let (Some(h), Some(g)) = (port(&http_file), port(&grpc_file)) {
                sink.http_port = h;
                sink.grpc_port = g;
                return sink;
            }
            if let Ok(Some(status)) = sink.child.as_mut().expect("child").try_wait() {
                panic!(
                    "the sink exited ({status}) before listening:\n{}",
                    sink.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the sink did not start within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The sink's peak resident memory so far, in bytes (VmHWM of /proc/PID/status; Linux).
    pub fn peak_rss(&self) -> u64 {
        let pid = self.child.as_ref().expect("sink running").id();
        let status = read(Path::new(&format!("/proc/{pid}/status")));
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM in /proc/PID/status");
        kb * 1024
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Stops the sink with SIGTERM and returns its summary JSON and its folder (for a restart).
    pub fn finish(mut self) -> (Value, tempfile::TempDir) {
        let mut child = self.child.take().expect("sink already finished");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().expect("the sink exits");
        assert!(
            status.success(),
            "the sink exited with {status}:\n{}",
            self.stderr()
        );
        let summary = read(&self.dir.path().join("summary.json"));
        let summary = serde_json::from_str(&summary).expect("the sink's summary is JSON");
        let dir = tempfile::Builder::new()
            .prefix("sink-")
            .tempdir()
            .expect("temp dir");
        (summary, std::mem::replace(&mut self.dir, dir))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `bytes` gzip'd (best compression: a run of one repeated pattern shrinks about 1,000 times).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Reads a whole file into a string, with the path in the panic message.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Statistics for tests of sampled behaviour. Each check is two-sided at 99.9% (z = 3.29), so a
// correct implementation fails about once in a thousand runs of one check; use fixed seeds
// where the code allows, and enough samples that a real bug is far outside the interval.
// ---------------------------------------------------------------------------------------------

/// z for a two-sided 99.9% normal interval.
pub const Z_999: f64 = 3.29;

/// Arithmetic mean (NaN for an empty slice).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Median (sorts `xs` in place; NaN for an empty slice).
pub fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Sample standard deviation (n - 1 in the denominator; NaN for fewer than 2 values).
pub fn stddev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// The `q` quantile (0..=1, nearest rank) of `xs` (sorts in place).
pub fn quantile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * xs.len() as f64).ceil() as usize;
    xs[rank.saturating_sub(1).min(xs.len() - 1)]
}

/// Asserts that `successes` out of `n` is consistent with probability `p`: the observed
/// proportion must lie within p ± (3.29·sqrt(p(1-p)/n) + 0.5/n) (normal approximation at
/// 99.9%, with a continuity allowance). For p = 0 or 1 this demands exactly 0 or n.
pub fn assert_proportion(successes: usize, n: usize, p: f64, what: &str) {
    assert!(n > 0, "{what}: no trials");
    assert!(
        (0.0..=1.0).contains(&p),
        "{what}: expected probability {p} is not in [0, 1]"
    );
    assert!(
        successes <= n,
        "{what}: {successes} successes out of {n} trials"
    );
    let observed = successes as f64 / n as f64;
    let se = (p * (1.0 - p) / n as f64).sqrt();
    let allowance = Z_999 * se + 0.5 / n as f64;
    assert!(
        (observed - p).abs() <= allowance,
        "{what}: observed proportion {observed:.5} ({successes}/{n}), expected {p:.5} ± {allowance:.5} \
         (99.9% interval [{:.5}, {:.5}])",
        p - allowance,
        p + allowance
    );
}

/// Asserts that the mean of `xs` is consistent with `expected`: |mean - expected| ≤ 3.29·s/√n,
/// with s the sample standard deviation. If every value is the same, the mean must equal
/// `expected` (to a relative 1e-9).
pub fn assert_mean_within(xs: &[f64], expected: f64, what: &str) {
    assert!(
        xs.len() >= 2,
        "{what}: need at least 2 samples, got {}",
        xs.len()
    );
    let m = mean(xs);
    let se = stddev(xs) / (xs.len() as f64).sqrt();
    let allowance = if se > 0.0 {
        Z_999 * se
    } else {
        1e-9 * expected.abs().max(1e-300)
    };
    assert!(
        (m - expected).abs() <= allowance,
        "{what}: observed mean {m} over {} samples (standard error {se}), expected {expected} ± {allowance} \
         (99.9% interval [{}, {}])",
        xs.len(),
        expected - allowance,
        expected + allowance
    );
}

/// The OpenInference span kind a span of this name must carry (`operation` is its
/// `gen_ai.operation.name`): the mapping as the tests read it, written apart from the code's.
pub fn openinference_kind(name: &str, operation: Option<&str>) -> &'static str {
    let suffix = name.split_once('.').map_or(name, |(first, rest)| {
        // `vendor.llm.call` and `rag.retrieve` alike: strip a vendor prefix, keep the rest.
        if ["rag", "a2a", "cp"].contains(&first) {
            name
        } else {
            rest
        }
    });
    match suffix {
        "a2a.orchestrate" | "a2a.call" => "AGENT",
        "llm.call" if operation == Some("embeddings") => "EMBEDDING",
        "llm.call" => "LLM",
        "llm.embeddings" => "EMBEDDING",
        "mcp.tool.execute" | "mcp.tool.execute.attempt" => "TOOL",
        "rag.retrieve" => "RETRIEVER",
        "cp.request" => "GUARDRAIL",
        "planner" | "task.execute" | "response.compose" | "llm.tool.response.bridge" => "CHAIN",
        other => panic!("unexpected span name {other}"),
    }
}

/// Runs the binary with `args` and `envs` (plus `--endpoint`) against a fresh judge, asserts it
/// succeeded, and returns what it printed and what the judge decoded (checked free of decode
/// errors).
pub fn run_to_judge(args: &[&str], envs: &[(&str, &str)]) -> (Output, Received) {
    let judge = Judge::start();
    let out = bin()
        .args(args)
        .args(["--endpoint", &judge.endpoint()])
        .envs(envs.iter().copied())
        .output()
        .expect("run the simulator");
    assert!(
        out.status.success(),
        "simulator failed ({}):\n{}",
        out.status,
        text(&out)
    );
    let received = judge.finish();
    received.assert_no_decode_errors();
    (out, received)
}

/// [`run_to_judge`] with `--quiet`, for what the judge decoded only.
pub fn send_to_judge(args: &[&str], envs: &[(&str, &str)]) -> Received {
    let quiet: Vec<&str> = args.iter().copied().chain(["--quiet"]).collect();
    run_to_judge(&quiet, envs).1
}
