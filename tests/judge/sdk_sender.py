#!/usr/bin/env python3
"""Sends traces INTO an OTLP endpoint with the official OpenTelemetry Python SDK.

What it is
----------
The other half of the independent judges (see otlp_receiver.py): where the receiver checks what
*we send*, this script checks what *we accept*. It produces spans with the official
OpenTelemetry Python SDK (``opentelemetry-sdk``) and exports them with the official OTLP/HTTP
protobuf exporter (``opentelemetry-exporter-otlp-proto-http``), so our sink (and anything else
under test) is fed bytes that no code of ours has touched.

Usage
-----
    python3 tests/judge/sdk_sender.py --endpoint http://127.0.0.1:PORT --traces N --spans-per-trace M
                                      [--compression none|gzip] [--service-name NAME]
                                      [--timeout SECONDS] [--header k=v ...]
                                      [--protocol http/protobuf|grpc]

Creates N traces, each a root span (kind SERVER) with M-1 child spans (kind CLIENT) under it,
with string, int, double and bool attributes and one event on the root, through a
TracerProvider + BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")). Then
force_flush and shutdown. Prints one JSON line on stdout:

    {"traces": N, "spans": N*M, "trace_ids": ["32 hex", ...], "exported": N*M, "export_calls": K}

Failures are never silent: the exporter is wrapped so that every export() result is recorded;
the script exits 1 (with the reason on stderr, and no JSON line) if any export call failed,
if force_flush timed out, or if the number of spans the exporter reported as exported is not
N*M. Exit 2 means the SDK packages are missing.

With ``--protocol grpc`` the official OTLP/gRPC exporter (``opentelemetry-exporter-otlp-proto-grpc``)
is used instead, sending to ``--endpoint`` (``http://host:port``, plaintext).
"""

import argparse
import json
import sys
import threading

try:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context
except ImportError as e:  # pragma: no cover - environment problem, reported clearly
    sys.stderr.write(
        f"sdk_sender: cannot import the OpenTelemetry SDK ({e}).\n"
        "Install tests/judge/requirements.txt (run scripts/judge-venv) and point PYTHON at it.\n"
    )
    sys.exit(2)


class RecordingExporter(SpanExporter):
    """Wraps a real exporter and remembers what each export() call returned."""

    def __init__(self, inner):
        self.inner = inner
        self.lock = threading.Lock()
        self.calls = 0
        self.exported = 0
        self.failures = []

    def export(self, spans):
        try:
            result = self.inner.export(spans)
        except Exception as e:  # the SDK would swallow it; we must not
            result = None
            err = f"export raised {e!r}"
        else:
            err = None if result == SpanExportResult.SUCCESS else f"export returned {result}"
        with self.lock:
            self.calls += 1
            if err is None:
                self.exported += len(spans)
            else:
                self.failures.append(f"{err} for a batch of {len(spans)} spans")
        return result if result is not None else SpanExportResult.FAILURE

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Send traces with the official OpenTelemetry Python SDK.")
    ap.add_argument("--endpoint", required=True, help="base URL, e.g. http://127.0.0.1:4318")
    ap.add_argument("--traces", type=int, default=1)
    ap.add_argument("--spans-per-trace", type=int, default=3)
    ap.add_argument("--compression", choices=["none", "gzip"], default="none")
    ap.add_argument("--service-name", default="sdk-sender")
    ap.add_argument("--timeout", type=float, default=10.0, help="per-export HTTP timeout in seconds")
    ap.add_argument("--header", action="append", default=[], metavar="K=V", help="extra HTTP header")
    ap.add_argument("--protocol", choices=["http/protobuf", "grpc"], default="http/protobuf")
    args = ap.parse_args(argv)
    if args.traces < 0 or args.spans_per_trace < 1:
        ap.error("--traces must be >= 0 and --spans-per-trace >= 1")

    headers = {}
    for h in args.header:
        k, sep, v = h.partition("=")
        if not sep:
            ap.error(f"--header wants K=V, got {h!r}")
        headers[k] = v

    if args.protocol == "grpc":
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
        exporter = GrpcSpanExporter(
            endpoint=args.endpoint.rstrip("/"),
            insecure=True,
            compression=grpc.Compression.Gzip if args.compression == "gzip" else grpc.Compression.NoCompression,
            timeout=args.timeout,
            headers=headers or None,
        )
    else:
        exporter = OTLPSpanExporter(
            endpoint=f"{args.endpoint.rstrip('/')}/v1/traces",
            compression=Compression.Gzip if args.compression == "gzip" else Compression.NoCompression,
            timeout=args.timeout,
            headers=headers or None,
        )
    recorder = RecordingExporter(exporter)
    provider = TracerProvider(resource=Resource.create({
        "service.name": args.service_name,
        "deployment.environment.name": "test",
    }))
    provider.add_span_processor(BatchSpanProcessor(recorder, max_export_batch_size=512))
    tracer = provider.get_tracer("telemetry-simulator.judge.sdk_sender", "1.0.0")

    trace_ids = []
    for t in range(args.traces):
        with tracer.start_as_current_span(
            "agent.turn",
            kind=SpanKind.SERVER,
            attributes={"judge.trace_index": t, "gen_ai.operation.name": "invoke_agent", "judge.ok": True},
        ) as root:
            trace_ids.append(format(root.get_span_context().trace_id, "032x"))
            root.add_event("turn.started", {"judge.note": "hello"})
            ctx = set_span_in_context(root)
            for c in range(args.spans_per_trace - 1):
                child = tracer.start_span(
                    "llm.call",
                    context=ctx,
                    kind=SpanKind.CLIENT,
                    attributes={
                        "gen_ai.request.model": "judge-model",
                        "gen_ai.usage.input_tokens": 100 + c,
                        "judge.temperature": 0.25,
                        "judge.child_index": c,
                    },
                )
                child.end()
            root.set_status(Status(StatusCode.OK))

    flushed = provider.force_flush(timeout_millis=int(max(args.timeout, 1.0) * 3000))
    provider.shutdown()

    want = args.traces * args.spans_per_trace
    problems = []
    if not flushed:
        problems.append("force_flush timed out")
    problems.extend(recorder.failures)
    if recorder.exported != want:
        problems.append(f"exported {recorder.exported} spans, wanted {want}")
    if problems:
        sys.stderr.write("sdk_sender: export FAILED to " + args.endpoint + ":\n  " + "\n  ".join(problems) + "\n")
        return 1
    print(json.dumps({
        "traces": args.traces,
        "spans": want,
        "trace_ids": trace_ids,
        "exported": recorder.exported,
        "export_calls": recorder.calls,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
