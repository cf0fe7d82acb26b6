"""Run by scripts/judge-venv in the new venv: the judges' imports must all work."""
import google.protobuf
import grpc
from google.protobuf.internal import api_implementation
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: F401
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: F401
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as G  # noqa: F401
from opentelemetry.sdk.trace import TracerProvider  # noqa: F401
import jsonschema  # noqa: F401  (tests/json_schema.rs)

print(f"judge-venv: protobuf {google.protobuf.__version__} ({api_implementation.Type()}), grpcio {grpc.__version__}")
