"""Writes traces recorded by the official OpenTelemetry Python SDK as OTLP/JSON, for `import`.

A small instrumented "service": each request is a SERVER span `GET /orders` with one to three
`SELECT orders` CLIENT spans and one `chat gpt-4o` span carrying GenAI attributes; every tenth
request's database call fails. The SDK's own OTLP encoder (`encode_spans`, what its OTLP
exporters send) makes the export requests, and protobuf's JSON mapping writes each twice: in
lowerCamelCase to CAMEL and in the original proto field names to SNAKE, one request per line
(as the Collector's file exporter writes them).

usage: sdk_traces.py CAMEL SNAKE TRACES
"""

import json
import random
import sys

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode


def main():
    camel, snake, traces = sys.argv[1], sys.argv[2], int(sys.argv[3])
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "orders-api"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("sdk-traces")
    rng = random.Random(7)
    with open(camel, "w") as f, open(snake, "w") as g:
        for i in range(traces):
            with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER) as root:
                root.set_attribute("http.request.method", "GET")
                for _ in range(rng.randint(1, 3)):
                    with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT) as db:
                        db.set_attribute("db.system.name", "postgresql")
                        if i % 10 == 0:
                            db.set_status(Status(StatusCode.ERROR, "timeout"))
                with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT) as llm:
                    llm.set_attribute("gen_ai.operation.name", "chat")
                    llm.set_attribute("gen_ai.request.model", "gpt-4o")
                    llm.set_attribute("gen_ai.usage.input_tokens", rng.randint(100, 900))
            request = encode_spans(exporter.get_finished_spans())
            exporter.clear()
            f.write(json.dumps(MessageToDict(request)) + "\n")
            g.write(json.dumps(MessageToDict(request, preserving_proto_field_name=True)) + "\n")


if __name__ == "__main__":
    main()
