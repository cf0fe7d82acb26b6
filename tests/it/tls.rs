//! TLS and mutual TLS, over OTLP/HTTP and OTLP/gRPC, against the judge serving TLS with
//! certificates made for the test by `openssl` (a private CA, a server certificate for
//! 127.0.0.1, a client certificate): trusted with `--ca-cert`, refused without it, and with
//! client authentication required, accepted only with `--client-cert`/`--client-key`.

use crate::common::{Judge, bin, text};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ca.pem, server.pem/server.key (for 127.0.0.1 and localhost), client.pem/client.key.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ];
    ca.extend(ec);
    ca.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        ),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ] {
        let mut req = vec!["req", "-subj"];
        let subject = format!("/CN=test-{name}");
        let (key, csr, pem, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        req.extend([subject.as_str(), "-keyout", &key, "-out", &csr]);
        req.extend(ec);
        openssl(dir, &req);
        std::fs::write(dir.join(&extfile), ext).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                &extfile,
            ],
        );
    }
}

fn send_tls(endpoint: &str, protocol: &str, tls: &[&str]) -> Output {
    bin()
        .args([
            "scenario",
            "--name",
            "successful_agent_turn",
            "--count",
            "5",
            "--interval",
            "0",
            "-q",
        ])
        .args([
            "--endpoint",
            endpoint,
            "--protocol",
            protocol,
            "--no-metrics",
            "--no-logs",
        ])
        .args(tls)
        .output()
        .unwrap()
}

fn https(endpoint: String) -> String {
    endpoint.replace("http://", "https://")
}

#[test]
fn tls_is_verified_against_the_given_ca() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let judge = Judge::start_with(&[
        "--tls-cert",
        &p("server.pem"),
        "--tls-key",
        &p("server.key"),
    ]);
    for (endpoint, protocol) in [
        (https(judge.endpoint()), "http/protobuf"),
        (https(judge.grpc_endpoint()), "grpc"),
    ] {
        let out = send_tls(&endpoint, protocol, &["--ca-cert", &p("ca.pem")]);
        assert!(out.status.success(), "{protocol}: {}", text(&out));
        assert!(text(&out).contains("35 accepted"), "{}", text(&out));
        // Without the CA the server is not trusted: a permanent failure, reported at once.
        let started = Instant::now();
        let out = send_tls(&endpoint, protocol, &[]);
        assert_eq!(out.status.code(), Some(1), "{protocol}: {}", text(&out));
        assert!(
            text(&out).contains("TLS with"),
            "{protocol}: {}",
            text(&out)
        );
        assert!(
            text(&out).contains("35 rejected"),
            "{protocol}: {}",
            text(&out)
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    let received = judge.finish();
    received.assert_no_decode_errors();
    assert_eq!(received.spans.len(), 70);
}

#[test]
fn mutual_tls_presents_the_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let judge = Judge::start_with(&[
        "--tls-cert",
        &p("server.pem"),
        "--tls-key",
        &p("server.key"),
        "--tls-client-ca",
        &p("ca.pem"),
    ]);
    for (endpoint, protocol) in [
        (https(judge.endpoint()), "http/protobuf"),
        (https(judge.grpc_endpoint()), "grpc"),
    ] {
        let identity = [
            "--ca-cert",
            &p("ca.pem"),
            "--client-cert",
            &p("client.pem"),
            "--client-key",
            &p("client.key"),
        ];
        let out = send_tls(&endpoint, protocol, &identity);
        assert!(out.status.success(), "{protocol}: {}", text(&out));
        let out = send_tls(&endpoint, protocol, &["--ca-cert", &p("ca.pem")]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{protocol} without a client certificate: {}",
            text(&out)
        );
    }
    let received = judge.finish();
    assert_eq!(received.spans.len(), 70);
    // A certificate file that is not one is a usage error, named before anything is sent.
    let out = send_tls(
        "https://127.0.0.1:1",
        "grpc",
        &["--ca-cert", &p("client.key")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("holds no PEM certificate"),
        "{}",
        text(&out)
    );
}
