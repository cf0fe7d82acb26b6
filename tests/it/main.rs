//! The integration tests, as one test binary (`cargo test --test it`): each file beside this one
//! is a module testing one concern through the built binary, as a user runs it, and `common`
//! holds the helpers they share, each defined once.
//!
//! One binary rather than one per file (Cargo's default for `tests/*.rs`): every test binary
//! links the whole crate and its dependencies, so nineteen of them cost most of CI's compile
//! time; as modules of one they link once. Filter as before by module path, e.g.
//! `cargo test --test it export::` or `cargo test --test it phoenix -- --ignored`.

mod common;

mod check;
mod cli;
mod container;
mod docs;
mod export;
mod faults;
mod fuzz_corpus;
mod genai;
mod generic;
mod import;
mod json_schema;
mod judge_selftest;
mod llm;
mod llm_failures;
mod make;
mod mlflow;
mod pacing;
mod phoenix;
mod schema;
mod semconv;
mod services;
mod sessions;
mod signals;
mod tls;
mod traces;
mod troubleshooting;
mod validate;
