#!/usr/bin/env bash
# Sets up the Python environment of the model server's client tests (real Open Inference Protocol v2 clients from
# PyPI that nobody in this project wrote), idempotently, the way scripts/setup-python.sh sets up the trainer's:
#
#   scripts/setup-python-clients.sh    -> progress on stderr, the venv's python path on stdout (last line)
#
# The venv lives outside the repo: ${MLOPS_CACHE_DIR:-$HOME/.cache/temporal-mlops}/python/serving-clients-venv
# A stamp file (hash of the pinned requirements, this script and the base interpreter) makes a second run instant.
#
# Environment:
#   MLOPS_CACHE_DIR        cache root (default $HOME/.cache/temporal-mlops)
#   MLOPS_SYSTEM_PYTHON    base interpreter (default /usr/bin/python3)
set -euo pipefail

log() { echo "[setup-python-clients] $*" >&2; }
die() { echo "[setup-python-clients] ERROR: $*" >&2; exit 1; }

CACHE="${MLOPS_CACHE_DIR:-${HOME:-/root}/.cache/temporal-mlops}"
VENV="$CACHE/python/serving-clients-venv"
PY="$VENV/bin/python"
STAMP="$VENV/.setup-stamp"
BASE_PY="${MLOPS_SYSTEM_PYTHON:-/usr/bin/python3}"
# Exact versions: tritonclient's HTTP client needs geventhttpclient and numpy; onnx writes a test model.
REQUIREMENTS=("tritonclient[http]==2.73.0" "geventhttpclient==2.6.1" "numpy==2.2.6" "onnx==1.20.0")

WANT=$({ printf '%s\n' "${REQUIREMENTS[@]}"; cat "${BASH_SOURCE[0]}"; echo "base=$BASE_PY"; } | sha256sum | cut -d' ' -f1)
# shellcheck source=scripts/venv-stamp.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv-stamp.sh"
venv_done_or_lock "$PY" "$STAMP" "$WANT" "$CACHE/python/.serving-clients-venv.lock"

"$BASE_PY" -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || die "$BASE_PY cannot create virtual environments; install python3-venv (apt-get install -y python3-venv) or set MLOPS_SYSTEM_PYTHON"
if [ ! -x "$PY" ]; then
  log "creating venv $VENV"
  "$BASE_PY" -m venv "$VENV" || die "python -m venv failed"
fi
log "pip install ${REQUIREMENTS[*]}"
"$PY" -m pip install --disable-pip-version-check --no-input -q "${REQUIREMENTS[@]}" >&2 || die "pip install failed"
"$PY" -c 'import tritonclient.http, numpy' >&2 || die "the venv does not import tritonclient.http"
echo "$WANT" >"$STAMP"
log "ready"
echo "$PY"
