#!/usr/bin/env bash
# GPU check of the torch-tabular trainer: the same synthetic binary-classification data (200k x 32 train,
# 50k validation) trained on CUDA and then on CPU; timings and metrics of both as JSON lines on stdout and in
# $OUT/gpu-check.json. Needs only python3 with torch (CUDA) + numpy: no network, pyarrow/onnx optional.
#
#   OUT=/some/folder bash trainers/torch-tabular/gpu-check.sh
#
# Environment: OUT (required, a folder), PYTHON (default python3), GPU_CHECK_ROWS (default 200000),
# GPU_CHECK_EPOCHS (default 10). Exits non-zero, loudly, when CUDA is not available or a run fails.
# GPU_CHECK_ALLOW_NO_CUDA=1 only rehearses the script on a machine without a GPU (both runs on CPU, exit 1).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-python3}
: "${OUT:?set OUT to a folder for gpu-check.json}"
ROWS=${GPU_CHECK_ROWS:-200000}
EPOCHS=${GPU_CHECK_EPOCHS:-10}
RUN_TIMEOUT=${GPU_CHECK_RUN_TIMEOUT:-100}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
say() { echo "[gpu-check] $*" >&2; }

# 1. CUDA must be there.
if ! "$PY" - >"$WORK/env.json" <<'EOF'
import json, sys
import torch, numpy
ok = torch.cuda.is_available()
info = {"torch": torch.__version__, "numpy": numpy.__version__, "cuda_available": ok,
        "cuda_runtime": torch.version.cuda, "python": sys.version.split()[0]}
if ok:
    info["gpu"] = torch.cuda.get_device_name(0)
    info["gpu_count"] = torch.cuda.device_count()
for mod in ("pyarrow", "onnx", "onnxruntime"):
    try:
        info[mod] = __import__(mod).__version__
    except Exception:
        info[mod] = None
print(json.dumps(info))
sys.exit(0 if ok else 3)
EOF
then
  cat "$WORK/env.json" >&2 || true
  if [ "${GPU_CHECK_ALLOW_NO_CUDA:-}" = 1 ]; then
    say "WARNING: CUDA is NOT available; rehearsing with both runs on CPU (this check will fail at the end)"
    NO_CUDA=1
  else
    say "FAILED: CUDA is not available to $PY (torch.cuda.is_available() is False, or torch is missing)."
    say "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-<unset>}; check nvidia-smi and that torch is a CUDA build."
    exit 1
  fi
fi
say "environment: $(cat "$WORK/env.json")"

# 2. Synthetic data: Parquet when pyarrow is importable, else .npz (train.py reads both).
"$PY" - "$WORK" "$ROWS" >"$WORK/data.txt" <<'EOF'
import sys
import numpy as np
work, rows = sys.argv[1], int(sys.argv[2])
n_features = 32
rng = np.random.default_rng(12345)
w = rng.normal(size=n_features) / np.sqrt(n_features)
def make(n):
    x = rng.normal(size=(n, n_features))
    logit = 2.0 * (x @ w) + 0.8 * x[:, 0] * x[:, 1] - 0.5 * x[:, 2] ** 2 + 0.5
    y = (logit + rng.logistic(size=n) > 0).astype(np.float64)
    cols = {f"f{i:02d}": x[:, i] for i in range(n_features)}
    cols["label"] = y
    return cols
try:
    import pyarrow as pa, pyarrow.parquet as pq
    ext = "parquet"
except ImportError:
    ext = "npz"
for name, n in (("train", rows), ("validation", max(1000, rows // 4))):
    cols = make(n)
    path = f"{work}/{name}.{ext}"
    if ext == "parquet":
        pq.write_table(pa.table(cols), path)
    else:
        np.savez(path, **cols)
print(ext, ",".join(f"f{i:02d}" for i in range(n_features)))
EOF
read -r EXT FEATURES <"$WORK/data.txt"
say "data: $ROWS train rows x 32 features as .$EXT"

# 3. Can this torch export ONNX here (newer torch may need the onnx package even for the legacy exporter)?
EXPORT=true
if ! "$PY" - >"$WORK/onnx-probe.log" 2>&1 <<'EOF'
import inspect, io, torch
kw = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
torch.onnx.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),), io.BytesIO(), input_names=["features"],
                  opset_version=17, **kw)
EOF
then
  EXPORT=false
  say "NOTE: ONNX export is not possible with this torch here ($(tail -n 1 "$WORK/onnx-probe.log")); running with export_onnx=false, so no model.onnx is written. This does not affect the training timings."
fi

HP="{\"epochs\": $EPOCHS, \"batch_size\": 1024, \"hidden_sizes\": [256, 128], \"lr\": 0.001, \"dropout\": 0.1, \"export_onnx\": $EXPORT}"

run() {  # run NAME CUDA_VISIBLE_DEVICES-value-or-"inherit"
  local name=$1 cvd=$2 t0 t1 rc=0
  say "training on $name ..."
  t0=$(date +%s.%N)
  if [ "$cvd" = inherit ]; then
    timeout "$RUN_TIMEOUT" "$PY" "$HERE/train.py" --train "$WORK/train.$EXT" --validation "$WORK/validation.$EXT" \
      --output "$WORK/out-$name" --task classification --label-column label --feature-columns "$FEATURES" \
      --hyperparameters "$HP" --seed 42 >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" || rc=$?
  else
    CUDA_VISIBLE_DEVICES="$cvd" timeout "$RUN_TIMEOUT" "$PY" "$HERE/train.py" --train "$WORK/train.$EXT" \
      --validation "$WORK/validation.$EXT" --output "$WORK/out-$name" --task classification --label-column label \
      --feature-columns "$FEATURES" --hyperparameters "$HP" --seed 42 >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" || rc=$?
  fi
  t1=$(date +%s.%N)
  cp "$WORK/$name.stdout" "$OUT/gpu-check-$name.stdout.jsonl"
  cp "$WORK/$name.stderr" "$OUT/gpu-check-$name.stderr.log"
  echo "$t0 $t1 $rc" >"$WORK/$name.time"
  if [ "$rc" -ne 0 ]; then
    say "FAILED: the $name run exited $rc (124 = timed out after ${RUN_TIMEOUT}s); stderr tail:"
    tail -n 20 "$WORK/$name.stderr" >&2
    return 1
  fi
}

FAIL=0
run gpu inherit || FAIL=1
run cpu "" || FAIL=1

# 4. Report.
"$PY" - "$WORK" "$OUT" "$ROWS" "$EPOCHS" "$EXPORT" "$FAIL" "${NO_CUDA:-0}" <<'EOF' || exit 1
import json, sys
work, out, rows, epochs, export, fail, no_cuda = sys.argv[1:]
rows, epochs = int(rows), int(epochs)
env = json.load(open(f"{work}/env.json"))
report = {"check": "torch-tabular gpu-check", "environment": env, "rows": rows, "features": 32, "epochs": epochs,
          "onnx_exported": export == "true", "runs": {}}
problems = []
for name in ("gpu", "cpu"):
    t0, t1, rc = open(f"{work}/{name}.time").read().split()
    r = {"run": name, "exit_code": int(rc), "wall_seconds": round(float(t1) - float(t0), 3)}
    try:
        m = json.load(open(f"{work}/out-{name}/metrics.json"))
        r.update(device=m["device"], duration_seconds=m["duration_seconds"], train_loss=m["train_loss"],
                 validation=m["validation"],
                 train_samples_per_second=round(rows * epochs / m["duration_seconds"], 1))
    except Exception as e:
        problems.append(f"{name}: no metrics.json ({e})")
    prog = []
    for line in open(f"{work}/{name}.stdout"):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("type") == "progress":
            prog.append(round(ev["value"], 4) if ev.get("value") is not None else None)
    r["auc_per_epoch"] = prog
    # Seconds in the epoch loop (train + validation), from the trainer's stderr log: excludes import/CUDA start-up.
    loop = 0.0
    for line in open(f"{work}/{name}.stderr"):
        if "] epoch " in line and ": train " in line:
            parts = line.replace("s,", " ").replace("s\n", " ").split()
            loop += float(parts[parts.index("train") + 1]) + float(parts[parts.index("validation") + 1])
    r["epoch_loop_seconds"] = round(loop, 3)
    if export == "true" and int(rc) == 0:
        import os
        r["model_onnx_bytes"] = os.path.getsize(f"{work}/out-{name}/model.onnx")
    report["runs"][name] = r
    print(json.dumps(r), flush=True)
g, c = report["runs"]["gpu"], report["runs"]["cpu"]
if g.get("device") != "cuda:0":
    problems.append(f"gpu run used device {g.get('device')!r}, expected 'cuda:0'")
if c.get("device") != "cpu":
    problems.append(f"cpu run used device {c.get('device')!r}, expected 'cpu'")
for name, r in report["runs"].items():
    auc = (r.get("validation") or {}).get("auc")
    if auc is None or auc < 0.75:
        problems.append(f"{name} run: validation auc {auc} < 0.75")
if g.get("duration_seconds") and c.get("duration_seconds"):
    report["speedup_cpu_over_gpu"] = round(c["duration_seconds"] / g["duration_seconds"], 2)
    if g.get("epoch_loop_seconds") and c.get("epoch_loop_seconds"):
        report["epoch_loop_speedup_cpu_over_gpu"] = round(c["epoch_loop_seconds"] / g["epoch_loop_seconds"], 2)
    report["auc_difference_gpu_minus_cpu"] = round(g["validation"]["auc"] - c["validation"]["auc"], 5)
if fail == "1":
    problems.append("a training run failed")
if no_cuda == "1":
    problems.append("CUDA not available (rehearsal only)")
report["ok"] = not problems
report["problems"] = problems
summary = {k: report.get(k) for k in ("check", "ok", "problems", "speedup_cpu_over_gpu",
                                      "epoch_loop_speedup_cpu_over_gpu", "auc_difference_gpu_minus_cpu",
                                      "onnx_exported")}
summary["gpu"] = env.get("gpu")
summary["torch"] = env["torch"]
print(json.dumps(summary), flush=True)
json.dump(report, open(f"{out}/gpu-check.json", "w"), indent=2)
sys.exit(0 if report["ok"] else 1)
EOF
say "OK; report in $OUT/gpu-check.json"
