#!/usr/bin/env python3
"""Independent OTLP receiver (HTTP and gRPC): the "judge" of the telemetry-simulator conformance tests.

What it is
----------
A small OTLP/HTTP server that accepts ``POST /v1/traces``, ``/v1/metrics`` and ``/v1/logs``,
decodes every body with the *official* OpenTelemetry protobuf bindings for Python
(the ``opentelemetry-proto`` package from PyPI, on Google's ``protobuf`` runtime) and, when it
is told to stop, writes everything it decoded to one JSON file (the "dump") for the Rust
integration tests to assert on (see ``tests/common/mod.rs``).

Why it is independent of our Rust sink
--------------------------------------
The simulator's own sink (``telemetry-simulator sink``) is built from the same Rust crates
(``opentelemetry-proto`` / ``prost``) and the same hands as the sender, so it can share the
sender's bugs: a wrong field number, a hand-written encoder that prost accepts but nobody else
does, ids in the wrong JSON encoding... This file shares no code with the project: the schema comes from
the upstream .proto files as compiled into ``opentelemetry-proto`` (Python), the wire decoding
from Google's protobuf runtime, and the HTTP side from the standard library
(``http.server.ThreadingHTTPServer``, ``gzip``, ``json``). Nothing else is imported.

Usage
-----
    python3 tests/judge/otlp_receiver.py --port-file PATH --dump PATH [--host 127.0.0.1]
                                         [--port 0] [--max-seconds 900]
                                         [--grpc-port-file PATH]
                                         [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
    python3 tests/judge/otlp_receiver.py --decode-jsonl FILE --dump PATH

* Binds ``--host`` (default 127.0.0.1) on ``--port`` (default 0 = an ephemeral port), then writes
  the port number and a newline to ``--port-file`` atomically (temp file + ``os.replace``), so a
  reader that sees the file sees the whole number. The socket is already listening by then.
* Content types: ``application/x-protobuf`` (``ParseFromString``) and ``application/json``
  (OTLP/JSON). ``Content-Encoding: gzip`` is honoured (``identity`` too); bodies sent with
  ``Transfer-Encoding: chunked`` are de-chunked. HTTP/1.1 with keep-alive; no h2c.
* Success: 200 with the empty ``Export*ServiceResponse`` in the request's content type
  (zero bytes for protobuf, ``{}`` for JSON).
* A body that cannot be decoded: 400, and the error is appended to ``decode_errors``.
  An unsupported content type or content encoding: 415, also a decode error. Unknown path: 404
  (recorded in ``decode_errors`` too, so a wrong URL never goes unnoticed).
* Everything is recorded *before* the response is sent, so whatever a client saw accepted is in
  the dump.
* With ``--grpc-port-file``, also serves OTLP/gRPC (the three ``Export`` services, via the
  official ``grpcio`` and the ``*_pb2_grpc`` stubs shipped in ``opentelemetry-proto``) on another
  ephemeral port of the same host, written to that file the same way. grpcio decodes the
  message (gzip included); each call is recorded like an HTTP request, with ``path`` the gRPC
  method (``/opentelemetry.proto.collector.trace.v1.TraceService/Export``), ``content_type``
  ``application/grpc``, ``content_encoding`` the ``grpc-encoding`` metadata (or null),
  ``headers`` the invocation metadata, and ``bytes``/``decoded_bytes`` the decoded size.
* With ``--decode-jsonl FILE`` it serves nothing: it decodes FILE, one OTLP/JSON export request
  per line (the Collector file exporter's format, what ``--output FILE`` writes), each line
  recorded like a request (``path`` ``/v1/traces`` etc. by its top-level key, ``content_type``
  ``application/json``), writes the dump and exits (1 if a line could not be decoded).
* With ``--partial-reject N`` every successful answer is a partial success rejecting
  min(N, items) items of the request (``rejected`` in its record), with an ``error_message``.
* With ``--tls-cert``/``--tls-key`` both servers speak TLS only (the standard library's ``ssl``
  for HTTP, ``grpc.ssl_server_credentials`` for gRPC); with ``--tls-client-ca`` they also
  require a client certificate signed by that CA (mutual TLS). A failed handshake is not a
  request and is not recorded.
* Stops on SIGTERM, SIGINT or ``POST /shutdown``: writes the dump (atomically) and exits 0.
  It also stops by itself (dump written, exit 3) after ``--max-seconds`` or when its parent
  process goes away, so a crashed test never leaves it running.

OTLP/JSON and ids
-----------------
OTLP/JSON differs from the canonical protobuf JSON mapping in that ``traceId``, ``spanId`` and
``parentSpanId`` (in spans, span links, log records and exemplars) are *hex* strings, not base64.
This receiver walks the parsed JSON, checks that each such id is empty or exactly 32 (trace) /
16 (span) hex digits -- anything else is a decode error, which is how base64 ids sent by
mistake get caught -- converts it to base64, and then hands the document to
``google.protobuf.json_format.ParseDict``. Per the OTLP spec, unknown fields are ignored, but
the receiver first parses strictly and, if only the lenient parse succeeds, records the strict
error under ``warnings``. Enum fields sent as names instead of integers (the spec requires
integers) are accepted by ``json_format`` and also reported under ``warnings``. Duplicate
attribute keys (forbidden by OTLP) are reported under ``warnings`` as well (last one wins in the
dump).

Dump format (all times are integers in ns; ids are lower-case hex)
------------------------------------------------------------------
    {"requests": [{"path", "content_type", "content_encoding" (or null), "headers" {lower-case
                   name: value}, "bytes" (body size as received), "decoded_bytes", "items",
                   "resources" [attributes of each resource in the request],
                   "schema_urls" [the schema_url of each resource's group, "" when unset],
                   "status" (HTTP status sent), "error" (or null)}],
     "decode_errors": ["..."], "warnings": ["..."],
     "spans":   [{"trace_id", "span_id", "parent_span_id" ("" if none), "trace_state", "name",
                  "kind", "start_time_unix_nano", "end_time_unix_nano", "status_code",
                  "status_message", "attributes", "events" [{"name", "time_unix_nano",
                  "attributes"}], "links" [{"trace_id", "span_id", "trace_state", "attributes",
                  "flags"}], "resource", "scope" {"name", "version", "attributes", "schema_url"
                  (of the ScopeSpans/ScopeMetrics/ScopeLogs, "" when unset)}, "flags",
                  "dropped_attributes_count", "dropped_events_count", "dropped_links_count"}],
     "metrics": [{"name", "unit", "description", "type" (sum|gauge|histogram|
                  exponential_histogram|summary|none), "temporality" (0 for gauge/summary),
                  "is_monotonic" (null unless sum), "resource", "scope", "points": [...]}],
     "logs":    [{"time_unix_nano", "observed_time_unix_nano", "severity_number",
                  "severity_text", "body", "event_name", "trace_id", "span_id", "flags",
                  "attributes", "resource", "scope"}]}

``items`` counts spans, metric data points or log records in the request (the units of OTLP's
partial-success counters). Points carry ``attributes``, ``start_time_unix_nano``,
``time_unix_nano``, ``flags``, ``exemplars`` and, by type: sum/gauge ``value`` (int or float as
sent); histogram ``count``, ``sum``, ``bucket_counts``, ``explicit_bounds``, ``min``, ``max``
(null when absent); exponential_histogram ``count``, ``sum``, ``scale``, ``zero_count``,
``zero_threshold``, ``positive``/``negative`` {``offset``, ``bucket_counts``}, ``min``, ``max``;
summary ``count``, ``sum``, ``quantile_values`` [{``quantile``, ``value``}]. Exemplars:
``trace_id``, ``span_id``, ``value``, ``time_unix_nano``, ``filtered_attributes``.

AnyValue becomes JSON as: string, int, float (non-finite floats as the strings "NaN",
"Infinity", "-Infinity"), bool, array -> list, kvlist -> object, bytes -> hex string, unset ->
null. Attribute lists become objects.
"""

import argparse
import base64
import gzip
import http.server
import json
import math
import os
import signal
import ssl
import sys
import threading
import time

try:
    import grpc
    from concurrent import futures
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
except ImportError as e:  # pragma: no cover - environment problem, reported clearly
    sys.stderr.write(
        f"otlp_receiver: cannot import the OpenTelemetry protobuf bindings ({e}).\n"
        "Install tests/judge/requirements.txt (run scripts/judge-venv) and point PYTHON at it.\n"
    )
    sys.exit(2)


# path -> (request message class, response message class)
SIGNALS = {
    "/v1/traces": (
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
    ),
    "/v1/metrics": (
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
    "/v1/logs": (
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
    ),
}

MAX_BODY = 256 * 1024 * 1024  # refuse absurd bodies rather than eat the machine's memory

# OTLP/JSON id fields (both the lowerCamelCase and the proto names are accepted by json_format).
ID_LENGTHS = {
    "traceId": 32, "trace_id": 32,
    "spanId": 16, "span_id": 16,
    "parentSpanId": 16, "parent_span_id": 16,
}
ENUM_FIELDS = {
    "kind", "code", "aggregationTemporality", "aggregation_temporality",
    "severityNumber", "severity_number",
}
HEX = set("0123456789abcdefABCDEF")


class BadBody(Exception):
    """A body that is not a valid OTLP request (-> 400)."""


class Unsupported(Exception):
    """A content type or encoding the receiver does not speak (-> 415)."""


# ----------------------------------------------------------------------------------------------
# Conversion of decoded messages to plain JSON
# ----------------------------------------------------------------------------------------------

def _float(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def any_value(v):
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        return v.string_value
    if which == "bool_value":
        return v.bool_value
    if which == "int_value":
        return int(v.int_value)
    if which == "double_value":
        return _float(v.double_value)
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return attrs(v.kvlist_value.values, None)
    if which == "bytes_value":
        return v.bytes_value.hex()
    if which == "string_value_strindex":
        return {"string_value_strindex": int(v.string_value_strindex)}
    return {"unknown_any_value_field": which}


def attrs(kvs, warnings, where=""):
    out = {}
    for kv in kvs:
        if warnings is not None and kv.key in out:
            warnings.append(f"duplicate attribute key {kv.key!r} in {where}")
        out[kv.key] = any_value(kv.value)
    return out


def scope_of(s):
    return {"name": s.scope.name, "version": s.scope.version, "attributes": attrs(s.scope.attributes, None),
            "schema_url": s.schema_url}


def exemplar(e):
    which = e.WhichOneof("value")
    value = None
    if which == "as_double":
        value = _float(e.as_double)
    elif which == "as_int":
        value = int(e.as_int)
    return {
        "trace_id": e.trace_id.hex(),
        "span_id": e.span_id.hex(),
        "value": value,
        "time_unix_nano": int(e.time_unix_nano),
        "filtered_attributes": attrs(e.filtered_attributes, None),
    }


def point_common(p, warnings, where):
    return {
        "attributes": attrs(p.attributes, warnings, where),
        "start_time_unix_nano": int(p.start_time_unix_nano),
        "time_unix_nano": int(p.time_unix_nano),
        "flags": int(p.flags),
        "exemplars": [exemplar(e) for e in p.exemplars],
    }


def opt_float(p, field):
    return _float(getattr(p, field)) if p.HasField(field) else None


def metric_points(m, warnings):
    """-> (type, temporality, is_monotonic, points)"""
    which = m.WhichOneof("data")
    where = f"metric {m.name!r}"
    points = []
    if which in ("sum", "gauge"):
        data = getattr(m, which)
        for p in data.data_points:
            d = point_common(p, warnings, where)
            kind = p.WhichOneof("value")
            d["value"] = int(p.as_int) if kind == "as_int" else (_float(p.as_double) if kind == "as_double" else None)
            points.append(d)
        if which == "sum":
            return which, int(data.aggregation_temporality), bool(data.is_monotonic), points
        return which, 0, None, points
    if which == "histogram":
        for p in m.histogram.data_points:
            d = point_common(p, warnings, where)
            d.update({
                "count": int(p.count),
                "sum": opt_float(p, "sum"),
                "bucket_counts": [int(c) for c in p.bucket_counts],
                "explicit_bounds": [_float(b) for b in p.explicit_bounds],
                "min": opt_float(p, "min"),
                "max": opt_float(p, "max"),
            })
            points.append(d)
        return which, int(m.histogram.aggregation_temporality), None, points
    if which == "exponential_histogram":
        for p in m.exponential_histogram.data_points:
            d = point_common(p, warnings, where)
            d.update({
                "count": int(p.count),
                "sum": opt_float(p, "sum"),
                "scale": int(p.scale),
                "zero_count": int(p.zero_count),
                "zero_threshold": _float(p.zero_threshold),
                "positive": {"offset": int(p.positive.offset), "bucket_counts": [int(c) for c in p.positive.bucket_counts]},
                "negative": {"offset": int(p.negative.offset), "bucket_counts": [int(c) for c in p.negative.bucket_counts]},
                "min": opt_float(p, "min"),
                "max": opt_float(p, "max"),
            })
            points.append(d)
        return which, int(m.exponential_histogram.aggregation_temporality), None, points
    if which == "summary":
        for p in m.summary.data_points:
            d = {
                "attributes": attrs(p.attributes, warnings, where),
                "start_time_unix_nano": int(p.start_time_unix_nano),
                "time_unix_nano": int(p.time_unix_nano),
                "flags": int(p.flags),
                "count": int(p.count),
                "sum": _float(p.sum),
                "quantile_values": [{"quantile": _float(q.quantile), "value": _float(q.value)} for q in p.quantile_values],
            }
            points.append(d)
        return which, 0, None, points
    warnings.append(f"metric {m.name!r} has no data (none of gauge/sum/histogram/exponential_histogram/summary set)")
    return "none", 0, None, points


def resources_of(req):
    """The attributes of each resource of an export request, in order."""
    groups = (getattr(req, "resource_spans", None) or getattr(req, "resource_metrics", None)
              or getattr(req, "resource_logs", None) or [])
    return [attrs(g.resource.attributes, [], "resource") for g in groups]


def schema_urls_of(req):
    """The schema_url of each ResourceSpans/ResourceMetrics/ResourceLogs of a request, in order."""
    groups = (getattr(req, "resource_spans", None) or getattr(req, "resource_metrics", None)
              or getattr(req, "resource_logs", None) or [])
    return [g.schema_url for g in groups]


def convert_traces(req, out, warnings):
    n = 0
    for rs in req.resource_spans:
        resource = attrs(rs.resource.attributes, warnings, "resource")
        for ss in rs.scope_spans:
            scope = scope_of(ss)
            for s in ss.spans:
                where = f"span {s.name!r}"
                out.append({
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(),
                    "trace_state": s.trace_state,
                    "name": s.name,
                    "kind": int(s.kind),
                    "start_time_unix_nano": int(s.start_time_unix_nano),
                    "end_time_unix_nano": int(s.end_time_unix_nano),
                    "status_code": int(s.status.code),
                    "status_message": s.status.message,
                    "attributes": attrs(s.attributes, warnings, where),
                    "events": [
                        {"name": e.name, "time_unix_nano": int(e.time_unix_nano),
                         "attributes": attrs(e.attributes, warnings, f"event {e.name!r} of {where}")}
                        for e in s.events
                    ],
                    "links": [
                        {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(),
                         "trace_state": link.trace_state, "attributes": attrs(link.attributes, warnings, f"link of {where}"),
                         "flags": int(link.flags)}
                        for link in s.links
                    ],
                    "resource": resource,
                    "scope": scope,
                    "flags": int(s.flags),
                    "dropped_attributes_count": int(s.dropped_attributes_count),
                    "dropped_events_count": int(s.dropped_events_count),
                    "dropped_links_count": int(s.dropped_links_count),
                })
                n += 1
    return n


def convert_metrics(req, out, warnings):
    n = 0
    for rm in req.resource_metrics:
        resource = attrs(rm.resource.attributes, warnings, "resource")
        for sm in rm.scope_metrics:
            scope = scope_of(sm)
            for m in sm.metrics:
                typ, temporality, monotonic, points = metric_points(m, warnings)
                out.append({
                    "name": m.name,
                    "unit": m.unit,
                    "description": m.description,
                    "type": typ,
                    "temporality": temporality,
                    "is_monotonic": monotonic,
                    "resource": resource,
                    "scope": scope,
                    "points": points,
                })
                n += len(points)
    return n


def convert_logs(req, out, warnings):
    n = 0
    for rl in req.resource_logs:
        resource = attrs(rl.resource.attributes, warnings, "resource")
        for sl in rl.scope_logs:
            scope = scope_of(sl)
            for r in sl.log_records:
                out.append({
                    "time_unix_nano": int(r.time_unix_nano),
                    "observed_time_unix_nano": int(r.observed_time_unix_nano),
                    "severity_number": int(r.severity_number),
                    "severity_text": r.severity_text,
                    "body": any_value(r.body) if r.HasField("body") else None,
                    "event_name": r.event_name,
                    "trace_id": r.trace_id.hex(),
                    "span_id": r.span_id.hex(),
                    "flags": int(r.flags),
                    "attributes": attrs(r.attributes, warnings, "log record"),
                    "resource": resource,
                    "scope": scope,
                })
                n += 1
    return n


# ----------------------------------------------------------------------------------------------
# OTLP/JSON: hex ids -> base64, then json_format
# ----------------------------------------------------------------------------------------------

def _fix_json_ids(node, warnings, path="$"):
    """Rewrites OTLP/JSON hex ids in place to the base64 that json_format expects."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key in ID_LENGTHS:
                if not isinstance(value, str):
                    raise BadBody(f"{here}: id must be a hex string, got {type(value).__name__}")
                want = ID_LENGTHS[key]
                if value and (len(value) != want or not set(value) <= HEX):
                    raise BadBody(f"{here}: id must be empty or {want} hex digits, got {value!r}")
                node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            else:
                if key in ENUM_FIELDS and isinstance(value, str):
                    warnings.append(f"{here}: enum given as a name ({value!r}); OTLP/JSON requires an integer")
                _fix_json_ids(value, warnings, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _fix_json_ids(value, warnings, f"{path}[{i}]")


def parse_json(body, msg_cls, warnings):
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadBody(f"not JSON: {e}")
    if not isinstance(doc, dict):
        raise BadBody(f"top-level JSON value must be an object, got {type(doc).__name__}")
    _fix_json_ids(doc, warnings)
    msg = msg_cls()
    try:
        json_format.ParseDict(doc, msg)
        return msg
    except json_format.ParseError as strict:
        msg = msg_cls()
        try:
            json_format.ParseDict(doc, msg, ignore_unknown_fields=True)
        except json_format.ParseError as e:
            raise BadBody(f"OTLP/JSON does not match the schema: {e}")
        warnings.append(f"unknown JSON fields ignored: {strict}")
        return msg


# ----------------------------------------------------------------------------------------------
# State and HTTP server
# ----------------------------------------------------------------------------------------------

class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.decode_errors = []
        self.warnings = []
        self.spans = []
        self.metrics = []
        self.logs = []

    def dump(self):
        with self.lock:
            return {
                "requests": list(self.requests),
                "decode_errors": list(self.decode_errors),
                "warnings": list(self.warnings),
                "spans": list(self.spans),
                "metrics": list(self.metrics),
                "logs": list(self.logs),
            }


STATE = State()
PARTIAL_REJECT = [0]  # --partial-reject: items of each request to reject in a partial success
PARTIAL_FIELD = {"/v1/traces": "rejected_spans", "/v1/metrics": "rejected_data_points", "/v1/logs": "rejected_log_records"}


def response_for(signal_path, resp_cls, items):
    """The Export*ServiceResponse: empty, or a partial success rejecting --partial-reject items."""
    resp = resp_cls()
    rejected = min(PARTIAL_REJECT[0], items)
    if rejected:
        setattr(resp.partial_success, PARTIAL_FIELD[signal_path], rejected)
        resp.partial_success.error_message = f"judge rejected {rejected} (--partial-reject)"
    return resp
STOP = threading.Event()
STOP_REASON = ["signal"]


def decode(path, content_type, content_encoding, body):
    """-> (request message, response body, response content type, warnings, decoded body size).

    Raises BadBody (-> 400) or Unsupported (-> 415)."""
    warnings = []
    msg_cls, resp_cls = SIGNALS[path]
    enc = (content_encoding or "identity").strip().lower()
    if enc == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, ValueError) as e:
            raise BadBody(f"Content-Encoding gzip but the body is not gzip: {e}")
    elif enc != "identity":
        raise Unsupported(f"unsupported Content-Encoding {content_encoding!r}")
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime == "application/x-protobuf":
        msg = msg_cls()
        try:
            msg.ParseFromString(body)
        except DecodeError as e:
            raise BadBody(f"protobuf decode failed: {e}")
        return msg, resp_cls().SerializeToString(), "application/x-protobuf", warnings, len(body)
    if mime == "application/json":
        msg = parse_json(body, msg_cls, warnings)
        return msg, json_format.MessageToJson(resp_cls()).encode("utf-8"), "application/json", warnings, len(body)
    raise Unsupported(f"unsupported Content-Type {content_type!r} (want application/x-protobuf or application/json)")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "otlp-judge/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_BODY:
                    raise BadBody("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after the chunk
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise BadBody("body too large")
        return self.rfile.read(length)

    def _reply(self, status, body=b"", content_type="text/plain; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        self._reply(405 if self.path in SIGNALS else 404, b"OTLP judge: POST only\n")

    def do_POST(self):
        path = self.path.split("?")[0]
        try:
            body = self._read_body()
        except (BadBody, ValueError) as e:
            with STATE.lock:
                STATE.decode_errors.append(f"{path}: cannot read body: {e}")
            self.close_connection = True
            self._reply(400, f"{e}\n".encode())
            return
        if path == "/shutdown":
            self._reply(200, b"bye\n")
            STOP_REASON[0] = "POST /shutdown"
            STOP.set()
            return
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        content_type = self.headers.get("Content-Type")
        content_encoding = self.headers.get("Content-Encoding")
        record = {
            "path": path,
            "content_type": content_type,
            "content_encoding": content_encoding,
            "headers": headers,
            "bytes": len(body),
            "decoded_bytes": None,
            "items": 0,
            "status": 200,
            "error": None,
        }
        if path not in SIGNALS:
            record.update(status=404, error=f"unknown path {path!r}")
            with STATE.lock:
                STATE.requests.append(record)
                STATE.decode_errors.append(f"{path}: unknown path (want /v1/traces, /v1/metrics or /v1/logs)")
            self._reply(404, b"unknown path\n")
            return
        try:
            msg, resp, resp_type, warnings, decoded_len = decode(path, content_type, content_encoding, body)
            spans, metrics, logs = [], [], []
            if path == "/v1/traces":
                items = convert_traces(msg, spans, warnings)
            elif path == "/v1/metrics":
                items = convert_metrics(msg, metrics, warnings)
            else:
                items = convert_logs(msg, logs, warnings)
        except (BadBody, Unsupported) as e:
            status = 415 if isinstance(e, Unsupported) else 400
            record.update(status=status, error=str(e))
            with STATE.lock:
                STATE.requests.append(record)
                STATE.decode_errors.append(f"{path} ({content_type}, encoding {content_encoding}): {e}")
            self._reply(status, f"{e}\n".encode())
            return
        except Exception as e:  # a bug here must show up in the dump, not as a hung client
            record.update(status=500, error=f"receiver error: {e!r}")
            with STATE.lock:
                STATE.requests.append(record)
                STATE.decode_errors.append(f"{path}: receiver error: {e!r}")
            self._reply(500, f"{e!r}\n".encode())
            return
        record.update(items=items, decoded_bytes=decoded_len, rejected=min(PARTIAL_REJECT[0], items),
                      resources=resources_of(msg), schema_urls=schema_urls_of(msg))
        if PARTIAL_REJECT[0]:
            partial = response_for(path, SIGNALS[path][1], items)
            resp = (partial.SerializeToString() if resp_type == "application/x-protobuf"
                    else json_format.MessageToJson(partial).encode("utf-8"))
        with STATE.lock:  # record first, then answer: a 200 seen by a client is in the dump
            STATE.requests.append(record)
            STATE.warnings.extend(f"{path}: {w}" for w in warnings)
            STATE.spans.extend(spans)
            STATE.metrics.extend(metrics)
            STATE.logs.extend(logs)
        self._reply(200, resp, resp_type)


# ----------------------------------------------------------------------------------------------
# gRPC
# ----------------------------------------------------------------------------------------------

GRPC_SIGNALS = {
    # method -> (signal path, response class, converter)
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export":
        ("/v1/traces", trace_service_pb2.ExportTraceServiceResponse),
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export":
        ("/v1/metrics", metrics_service_pb2.ExportMetricsServiceResponse),
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export":
        ("/v1/logs", logs_service_pb2.ExportLogsServiceResponse),
}


def record_grpc(method, request, context):
    """Records one gRPC Export call like an HTTP request; returns the (empty) response."""
    signal_path, resp_cls = GRPC_SIGNALS[method]
    headers = {}
    for key, value in context.invocation_metadata():
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    size = request.ByteSize()
    record = {
        "path": method,
        "content_type": "application/grpc",
        "content_encoding": headers.get("grpc-encoding"),
        "headers": headers,
        "bytes": size,
        "decoded_bytes": size,
        "items": 0,
        "status": 0,
        "error": None,
    }
    warnings, spans, metrics, logs = [], [], [], []
    if signal_path == "/v1/traces":
        items = convert_traces(request, spans, warnings)
    elif signal_path == "/v1/metrics":
        items = convert_metrics(request, metrics, warnings)
    else:
        items = convert_logs(request, logs, warnings)
    record["items"] = items
    record["resources"] = resources_of(request)
    record["schema_urls"] = schema_urls_of(request)
    record["rejected"] = min(PARTIAL_REJECT[0], items)
    with STATE.lock:  # record first, then answer
        STATE.requests.append(record)
        STATE.warnings.extend(f"{method}: {w}" for w in warnings)
        STATE.spans.extend(spans)
        STATE.metrics.extend(metrics)
        STATE.logs.extend(logs)
    return response_for(signal_path, resp_cls, items)


class TraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):
        return record_grpc("/opentelemetry.proto.collector.trace.v1.TraceService/Export", request, context)


class MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def Export(self, request, context):
        return record_grpc("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", request, context)


class LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
    def Export(self, request, context):
        return record_grpc("/opentelemetry.proto.collector.logs.v1.LogsService/Export", request, context)


def start_grpc(host, tls):
    """-> (server, port); tls is None or (cert path, key path, client CA path or None)"""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_receive_message_length", MAX_BODY)],
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceServicer(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(MetricsServicer(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(LogsServicer(), server)
    if tls is None:
        port = server.add_insecure_port(f"{host}:0")
    else:
        cert, key, client_ca = tls
        with open(cert, "rb") as c, open(key, "rb") as k:
            pair = (k.read(), c.read())
        root = open(client_ca, "rb").read() if client_ca else None
        credentials = grpc.ssl_server_credentials(
            [pair], root_certificates=root, require_client_auth=bool(client_ca))
        port = server.add_secure_port(f"{host}:0", credentials)
    server.start()
    return server, port


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False


def write_atomic(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


JSONL_KEYS = {"resourceSpans": "/v1/traces", "resourceMetrics": "/v1/metrics", "resourceLogs": "/v1/logs"}


def decode_jsonl(path):
    """Decodes a file of OTLP/JSON lines into STATE; returns the number of bad lines."""
    bad = 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            record = {"path": None, "content_type": "application/json", "content_encoding": None,
                      "headers": {}, "bytes": len(line), "decoded_bytes": len(line), "items": 0,
                      "status": 200, "error": None}
            try:
                doc = json.loads(line)
                keys = [k for k in JSONL_KEYS if k in doc]
                if len(keys) != 1:
                    raise BadBody(f"want exactly one of {sorted(JSONL_KEYS)} at the top level, got {sorted(doc)}")
                signal_path = JSONL_KEYS[keys[0]]
                record["path"] = signal_path
                warnings, spans, metrics, logs = [], [], [], []
                msg = parse_json(line, SIGNALS[signal_path][0], warnings)
                if signal_path == "/v1/traces":
                    items = convert_traces(msg, spans, warnings)
                elif signal_path == "/v1/metrics":
                    items = convert_metrics(msg, metrics, warnings)
                else:
                    items = convert_logs(msg, logs, warnings)
            except (BadBody, ValueError) as e:
                bad += 1
                record.update(status=400, error=str(e))
                STATE.requests.append(record)
                STATE.decode_errors.append(f"{where}: {e}")
                continue
            record["items"] = items
            record["resources"] = resources_of(msg)
            record["schema_urls"] = schema_urls_of(msg)
            STATE.requests.append(record)
            STATE.warnings.extend(f"{where}: {w}" for w in warnings)
            STATE.spans.extend(spans)
            STATE.metrics.extend(metrics)
            STATE.logs.extend(logs)
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description="Independent OTLP/HTTP receiver (test judge).")
    ap.add_argument("--port-file", help="where to write the bound port (atomically); required unless --decode-jsonl")
    ap.add_argument("--decode-jsonl", metavar="FILE", help="decode a file of OTLP/JSON lines instead of serving")
    ap.add_argument("--dump", required=True, help="where to write the JSON dump on shutdown")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = an ephemeral port (default)")
    ap.add_argument("--grpc-port-file", help="also serve OTLP/gRPC; write its port here")
    ap.add_argument("--partial-reject", type=int, default=0, metavar="N",
                    help="answer every request with a partial success rejecting N of its items")
    ap.add_argument("--tls-cert", help="serve TLS with this PEM certificate chain")
    ap.add_argument("--tls-key", help="PEM private key of --tls-cert")
    ap.add_argument("--tls-client-ca", help="require client certificates signed by this PEM CA")
    ap.add_argument("--max-seconds", type=float, default=900.0,
                    help="stop by itself after this long (dump written, exit 3); 0 = never")
    args = ap.parse_args(argv)
    PARTIAL_REJECT[0] = args.partial_reject
    if args.decode_jsonl:
        bad = decode_jsonl(args.decode_jsonl)
        write_atomic(args.dump, json.dumps(STATE.dump(), allow_nan=False))
        return 1 if bad else 0
    if not args.port_file:
        ap.error("--port-file is required")

    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]
    tls = None
    if args.tls_cert:
        tls = (args.tls_cert, args.tls_key, args.tls_client_ca)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.tls_client_ca)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)

    def on_signal(signum, _frame):
        if not STOP.is_set():  # keep the first reason (e.g. POST /shutdown, then SIGTERM)
            STOP_REASON[0] = signal.Signals(signum).name
        STOP.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    grpc_server = None
    if args.grpc_port_file:
        grpc_server, grpc_port = start_grpc(args.host, tls)
        write_atomic(args.grpc_port_file, f"{grpc_port}\n")
    write_atomic(args.port_file, f"{port}\n")

    parent = os.getppid()
    deadline = time.monotonic() + args.max_seconds if args.max_seconds > 0 else None
    code = 0
    # The signal handler only sets STOP; the main thread polls it (signals are delivered to the
    # main thread, and server.shutdown() must not be called from the serving thread).
    while not STOP.wait(0.2):
        if deadline is not None and time.monotonic() > deadline:
            STOP_REASON[0] = f"--max-seconds {args.max_seconds} elapsed"
            code = 3
            break
        if os.getppid() != parent:
            STOP_REASON[0] = "parent process exited"
            code = 3
            break
    # Stopping already: a later SIGTERM (a test that POSTed /shutdown and then stops us the usual
    # way) must not kill the interpreter while it finishes, which it would once it has restored
    # the default handlers on exit.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server.shutdown()
    server.server_close()
    if grpc_server is not None:
        grpc_server.stop(grace=5).wait()
    dump = STATE.dump()
    dump["stopped_by"] = STOP_REASON[0]
    write_atomic(args.dump, json.dumps(dump, allow_nan=False))
    if code:
        sys.stderr.write(f"otlp_receiver: stopped by itself ({STOP_REASON[0]}); dump written to {args.dump}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
