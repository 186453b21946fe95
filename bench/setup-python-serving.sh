#!/usr/bin/env bash
# Creates the venv of the Python serving baseline (bench/fastapi_server.py): FastAPI, uvicorn, onnxruntime, numpy.
# Used by bench/serving-throughput.ts; not part of npm test.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${HOME}/.cache/temporal-mlops/serving-bench-venv"
if [ ! -x "${venv}/bin/python" ]; then python3 -m venv "${venv}"; fi
"${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${here}/requirements-serving.txt"
echo "${venv}/bin/python"
