#!/usr/bin/env bash
# Creates the venv of the Evidently baseline (bench/evidently_drift.py): Evidently, pandas, pyarrow. Idempotent: pip
# installs only what bench/requirements-drift.txt pins and the venv lacks. Used by bench/drift-vs-evidently.ts; not part
# of npm test. Prints the venv's python.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${HOME}/.cache/temporal-mlops/python/drift-bench-venv"
if [ ! -x "${venv}/bin/python" ]; then python3 -m venv "${venv}"; fi
"${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${here}/requirements-drift.txt"
echo "${venv}/bin/python"
