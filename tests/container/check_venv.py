"""Run by scripts/hadolint-venv in the new venv: the hadolint binary must run."""
import pathlib
import subprocess
import sys

hadolint = pathlib.Path(sys.executable).parent / "hadolint"
out = subprocess.run([str(hadolint), "--version"], check=True, capture_output=True, text=True)
print(f"hadolint-venv: {out.stdout.strip()}")
