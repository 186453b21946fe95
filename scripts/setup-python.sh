#!/usr/bin/env bash
# Sets up the Python environment of the reference trainer (trainers/torch-tabular), idempotently.
#
#   scripts/setup-python.sh            -> progress on stderr, the venv's python path on stdout (last line)
#
# PyTorch comes CPU-only and small from Debian (python3-torch, ~150 MB of .debs) instead of PyPI, whose default
# torch wheel pulls several GB of CUDA libraries. The venv lives outside the repo:
#   ${MLOPS_CACHE_DIR:-$HOME/.cache/temporal-mlops}/python/torch-tabular-venv
# and is created with --system-site-packages so it sees Debian's torch and numpy; pip then adds
# trainers/torch-tabular/requirements.txt, constrained to the system's numpy.
#
# Environment:
#   MLOPS_CACHE_DIR        cache root (default $HOME/.cache/temporal-mlops)
#   MLOPS_SYSTEM_PYTHON    base interpreter that already has torch (default /usr/bin/python3, given torch by apt)
#
# A stamp file (hash of requirements.txt, this script and the base interpreter) makes a second run instant.
set -euo pipefail

log() { echo "[setup-python] $*" >&2; }
die() { echo "[setup-python] ERROR: $*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQ="$ROOT/trainers/torch-tabular/requirements.txt"
CACHE="${MLOPS_CACHE_DIR:-${HOME:-/root}/.cache/temporal-mlops}"
VENV="$CACHE/python/torch-tabular-venv"
PY="$VENV/bin/python"
STAMP="$VENV/.setup-stamp"
BASE_PY="${MLOPS_SYSTEM_PYTHON:-/usr/bin/python3}"
APT_PACKAGES=(python3-torch python3-venv)

[ -f "$REQ" ] || die "missing $REQ"

hash_inputs() {
  { cat "$REQ" "${BASH_SOURCE[0]}"; echo "base=$BASE_PY"; } | sha256sum | cut -d' ' -f1
}
WANT=$(hash_inputs)

# Fast path: nothing changed since the last successful run; concurrent runs wait for one another.
# shellcheck source=scripts/venv-stamp.sh
. "$ROOT/scripts/venv-stamp.sh"
venv_done_or_lock "$PY" "$STAMP" "$WANT" "$CACHE/python/.torch-tabular-venv.lock"

START=$(date +%s)

base_ready() {
  [ -x "$BASE_PY" ] && "$BASE_PY" -c 'import torch, numpy, venv, ensurepip' >/dev/null 2>&1
}

# 1. A base interpreter with torch + numpy + venv.
if base_ready; then
  log "base python $BASE_PY already has torch $("$BASE_PY" -c 'import torch; print(torch.__version__)')"
elif [ -n "${MLOPS_SYSTEM_PYTHON:-}" ]; then
  die "MLOPS_SYSTEM_PYTHON=$BASE_PY cannot import torch, numpy and venv; install PyTorch (CPU) for it, or unset MLOPS_SYSTEM_PYTHON to use Debian's python3-torch"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    die "no apt-get here. Install Python 3 with PyTorch (CPU build) and numpy, then rerun with MLOPS_SYSTEM_PYTHON=/path/to/that/python3 (on Debian/Ubuntu: apt-get install -y --no-install-recommends ${APT_PACKAGES[*]})"
  fi
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
      SUDO=(sudo -n)
    else
      die "not root and no passwordless sudo. Run once as root: apt-get update && apt-get install -y --no-install-recommends ${APT_PACKAGES[*]}  (then rerun this script)"
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Package lists may be missing or stale on a fresh machine: update first when apt knows no candidate.
  if ! apt-cache policy python3-torch 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
  fi
  log "apt-get install ${APT_PACKAGES[*]} (CPU-only PyTorch from Debian, ~150 MB download)"
  if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >&2; then
    log "install failed; apt-get update and retry"
    "${SUDO[@]}" apt-get update -qq >&2 || die "apt-get update failed"
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >&2 \
      || die "apt-get install ${APT_PACKAGES[*]} failed"
  fi
  base_ready || die "$BASE_PY still cannot import torch/numpy/venv after installing ${APT_PACKAGES[*]}"
  log "installed torch $("$BASE_PY" -c 'import torch; print(torch.__version__)')"
fi

# 2. The venv (recreated when broken or made from another base interpreter).
if [ -x "$PY" ] && "$PY" -c 'import sys; sys.exit(0 if sys.base_prefix == sys.argv[1] else 1)' \
     "$("$BASE_PY" -c 'import sys; print(sys.base_prefix)')" >/dev/null 2>&1; then
  log "reusing venv $VENV"
else
  log "creating venv $VENV (--system-site-packages, base $BASE_PY)"
  rm -rf "$VENV"
  "$BASE_PY" -m venv --system-site-packages "$VENV" || die "python -m venv failed (is python3-venv installed?)"
fi

# 3. pip packages, never replacing the system numpy that torch was built against.
NUMPY_VERSION=$("$PY" -c 'import numpy; print(numpy.__version__)')
CONSTRAINTS="$VENV/.numpy-constraint.txt"
echo "numpy==$NUMPY_VERSION" >"$CONSTRAINTS"
log "pip install -r trainers/torch-tabular/requirements.txt (numpy pinned to system $NUMPY_VERSION)"
"$PY" -m pip install --disable-pip-version-check --no-input -q -r "$REQ" -c "$CONSTRAINTS" >&2 \
  || die "pip install -r $REQ failed"

# 4. Check that everything imports together.
"$PY" - >&2 <<'EOF' || die "the venv does not import torch/numpy/pyarrow/onnxruntime together"
import numpy, torch, pyarrow, onnxruntime
torch.from_numpy(numpy.zeros(2))
print(f"[setup-python] torch {torch.__version__} (cuda: {torch.cuda.is_available()}), numpy {numpy.__version__}, "
      f"pyarrow {pyarrow.__version__}, onnxruntime {onnxruntime.__version__}")
EOF

echo "$WANT" >"$STAMP"
log "ready in $(( $(date +%s) - START ))s"
echo "$PY"
