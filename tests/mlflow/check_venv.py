"""Run by scripts/mlflow-venv in the new venv: MLflow's tracking server must import."""
from importlib.metadata import version

import mlflow.server  # noqa: F401
import mlflow.server.otel_api  # noqa: F401  (the OTLP/HTTP endpoint, /v1/traces)

print(f"mlflow-venv: mlflow {version('mlflow')}")
