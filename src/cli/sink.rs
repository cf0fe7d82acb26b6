//! `sink`: the built-in OTLP receiver, run until a signal, then its summary.

use super::Outcome;
use super::out::outln;
use crate::sink::faults::Faults;
use crate::sink::{PortFiles, SinkLimits, SinkOptions};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Address to listen on for OTLP/HTTP
    #[arg(long, default_value = "127.0.0.1:4318")]
    pub listen: SocketAddr,
    /// Address to listen on for OTLP/gRPC
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317")]
    pub grpc_listen: SocketAddr,
    /// Do not serve OTLP/gRPC
    #[arg(long)]
    pub no_grpc: bool,
    /// Write the bound HTTP port to this file once listening (useful with port 0)
    #[arg(long, value_name = "FILE")]
    pub port_file: Option<PathBuf>,
    /// Write the bound gRPC port to this file once listening
    #[arg(long, value_name = "FILE")]
    pub grpc_port_file: Option<PathBuf>,
    /// Write the final summary as JSON to this file (`-` or /dev/stdout: to stdout, and the human summary to stderr)
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Write every accepted request as one line of OTLP/JSON to this file
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Fail the first N requests (to test exporters' retries)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fail_first: u64,
    /// HTTP status of the failed requests; gRPC gets the matching code
    #[arg(long, value_name = "CODE", default_value_t = 503, value_parser = clap::value_parser!(u16).range(400..600))]
    pub fail_status: u16,
    /// Ask clients to retry after this many seconds (Retry-After, gRPC RetryInfo) when failing
    #[arg(long, value_name = "SECONDS")]
    pub retry_after: Option<u64>,
    /// Count the items of OTLP/HTTP protobuf requests without decoding or checking them, so
    /// that the sink costs far less than the sender it measures (gRPC is still decoded)
    #[arg(long)]
    pub count_only: bool,
    /// Wait this long before answering each request
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency: u64,
    /// Print the distinct request headers seen in the summary (credentials redacted)
    #[arg(long)]
    pub show_headers: bool,
    /// Count requests per value of this header (the senders' --tenant-header) beside the
    /// tenant.id of their resources, and report requests whose header and data disagree
    #[arg(long, value_name = "NAME", value_parser = super::args::parse_header_name)]
    pub tenant_header: Option<String>,
    /// Refuse (413 / RESOURCE_EXHAUSTED) bodies larger than this, before or after gzip
    #[arg(long, value_name = "BYTES", default_value_t = crate::sink::MAX_BODY_BYTES)]
    pub max_body: usize,
    /// Refuse requests holding more messages than this (resources, scopes, spans, attributes,
    /// values, data points, log records, ...), counted before decoding
    #[arg(long, value_name = "N", default_value_t = crate::sink::SinkLimits::default().max_items)]
    pub max_items: u64,
    /// Refuse requests that would take more memory than this once decoded, estimated before
    /// decoding
    #[arg(long, value_name = "BYTES", default_value_t = crate::sink::SinkLimits::default().max_decoded_bytes)]
    pub max_decoded_bytes: u64,
    /// Requests decompressed and decoded at once (others wait) [default: the number of cores,
    /// at least 2]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_concurrent_decodes: Option<u32>,
    /// Connections served at once, both ports together; at the cap, a new one replaces the
    /// oldest that has not yet sent a whole request head, or else waits
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Close connections that have not sent a request's headers within this time (also idle
    /// HTTP/1.1 keep-alive connections; HTTP/2 peers must answer pings within it)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::args::parse_interval)]
    pub header_timeout: Duration,
    /// Answer 408 (DEADLINE_EXCEEDED over gRPC) to requests whose body has not arrived within
    /// this time
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::args::parse_interval)]
    pub body_timeout: Duration,
    /// No live progress line
    #[arg(long, short)]
    pub quiet: bool,
}

fn sink_limits(args: &SinkArgs) -> SinkLimits {
    let defaults = SinkLimits::default();
    SinkLimits {
        max_body: args.max_body,
        max_items: args.max_items,
        max_decoded_bytes: args.max_decoded_bytes,
        max_concurrent_decodes: args
            .max_concurrent_decodes
            .map_or(defaults.max_concurrent_decodes, |n| n as usize),
        max_connections: args.max_connections as usize,
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
    }
}

pub fn sink(args: &SinkArgs) -> Outcome {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return Outcome::Failure;
        }
    };
    let options = SinkOptions {
        listen: args.listen,
        grpc_listen: (!args.no_grpc).then_some(args.grpc_listen),
        quiet: args.quiet,
        faults: Faults {
            fail_first: args.fail_first,
            status: args.fail_status,
            retry_after: args.retry_after.map(Duration::from_secs),
            latency: Duration::from_millis(args.latency),
        },
        dump: args.dump.clone(),
        count_only: args.count_only,
        limits: sink_limits(args),
        show_headers: args.show_headers,
        tenant_header: args.tenant_header.clone(),
    };
    let port_files = PortFiles {
        http: args.port_file.clone(),
        grpc: args.grpc_port_file.clone(),
    };
    match runtime.block_on(crate::sink::run_until_signal(
        options,
        port_files,
        args.summary_json.clone(),
    )) {
        Ok(summary) => {
            // As for a run: with the JSON summary on stdout, the human one goes to stderr.
            if args
                .summary_json
                .as_deref()
                .is_some_and(crate::files::is_stdout)
            {
                eprintln!("{}", summary.render());
            } else {
                outln!("{}", summary.render());
            }
            Outcome::Success
        }
        Err(error) => {
            eprintln!("error: {error}");
            if let crate::sink::SinkError::Bind { addr, error } = &error
                && error.kind() == std::io::ErrorKind::AddrInUse
            {
                eprintln!(
                    "hint: another sink or collector is listening on port {} (an earlier `sink &` still running?); \
                     stop it, or listen elsewhere with --listen 127.0.0.1:0 --port-file FILE",
                    addr.port()
                );
            }
            Outcome::Failure
        }
    }
}
