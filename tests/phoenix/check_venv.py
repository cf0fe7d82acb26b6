"""Run by scripts/phoenix-venv in the new venv: Phoenix's server must import."""
from importlib.metadata import version

import phoenix.server.main  # noqa: F401

print(f"phoenix-venv: arize-phoenix {version('arize-phoenix')}")
