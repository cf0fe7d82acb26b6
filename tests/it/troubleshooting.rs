//! What TROUBLESHOOTING.md and the container docs promise, where the cli module does not already
//! cover it: a missing schema file is a usage error, a proxy in the environment never stands
//! between the simulator and a loopback endpoint, and the original image's style of command line
//! (`IMAGE telemetry-simulator scenario ...`) still works with this image's entrypoint.

use crate::common::{bin, text};

#[test]
fn a_missing_schema_file_is_a_usage_error_naming_it() {
    let out = bin()
        .args(["--schema-path", "/no/such/schema.yaml", "scenario"])
        .args(["--name", "tool_retry", "--count", "1", "--local-sink"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("cannot read schema file /no/such/schema.yaml"),
        "{}",
        text(&out)
    );
}

#[test]
fn loopback_endpoints_bypass_proxies() {
    // A proxy nobody listens on: sending through it would fail every request.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = format!("http://{dead}");
    let out = bin()
        .args([
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "5",
        ])
        .args(["--interval", "0", "--local-sink", "--quiet"])
        .env("HTTP_PROXY", &proxy)
        .env("http_proxy", &proxy)
        .env("ALL_PROXY", &proxy)
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("35 accepted, 0 rejected, 0 dropped"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_repeated_program_name_is_ignored_as_in_the_original_container_example() {
    let out = bin()
        .args(["telemetry-simulator", "scenario", "--name", "tool_retry"])
        .args(["--count", "2", "--interval", "0", "--local-sink", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let list = bin()
        .args(["telemetry-simulator", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("tool_retry"));
}
