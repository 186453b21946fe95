"""Tests of the torch-tabular reference trainer. Run: <venv>/bin/python -m pytest trainers/torch-tabular

The trainer runs as a subprocess (as temporal-mlops runs it) on small synthetic Parquet data, CPU only.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlparse

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

HERE = Path(__file__).resolve().parent
TRAIN_PY = HERE / "train.py"
N_FEATURES = 6
FEATURES = [f"x{i}" for i in range(N_FEATURES)]
FULL_HP = {"epochs": 6, "batch_size": 64, "hidden_sizes": [16, 8], "lr": 0.01, "dropout": 0.1}


def load_train_module():
    spec = importlib.util.spec_from_file_location("torch_tabular_train", TRAIN_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_parquet(path: Path, cols: dict) -> Path:
    pq.write_table(pa.table({k: pa.array(np.asarray(v, dtype=np.float64)) for k, v in cols.items()}), path)
    return path


def binary_data(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    logit = 2.0 * x[:, 0] - 1.5 * x[:, 1] + x[:, 2] * x[:, 3]
    y = (logit + 0.5 * rng.normal(size=n) > 0).astype(np.float64)
    return {**{f: x[:, i] for i, f in enumerate(FEATURES)}, "label": y}


def multiclass_data(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    y = np.argmax(np.stack([x[:, 0], x[:, 1], -x[:, 0] - x[:, 1]], axis=1), axis=1).astype(np.float64)
    return {**{f: x[:, i] for i, f in enumerate(FEATURES)}, "label": y}


def regression_data(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    y = 100.0 + 30.0 * x[:, 0] - 20.0 * x[:, 1] + 10.0 * np.sin(x[:, 2]) + 3.0 * rng.normal(size=n)
    return {**{f: x[:, i] for i, f in enumerate(FEATURES)}, "target": y}


def run_trainer(train, validation, output, *, task="classification", label="label", features=FEATURES, hp=None,
                seed=7, resume=None, extra_env=None, timeout=120):
    cmd = [sys.executable, str(TRAIN_PY), "--train", str(train), "--validation", str(validation),
           "--transform", "file:///nonexistent/transform.json", "--output", str(output), "--task", task,
           "--label-column", label, "--feature-columns", ",".join(features),
           "--hyperparameters", json.dumps(FULL_HP if hp is None else hp), "--seed", str(seed)]
    if resume:
        cmd += ["--resume-from", resume]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", **(extra_env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def events(proc) -> list[dict]:
    out = []
    for line in proc.stdout.splitlines():
        out.append(json.loads(line))  # stdout must be pure JSON lines
    return out


def assert_ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    d = tmp_path_factory.mktemp("binary")
    train = write_parquet(d / "train.parquet", binary_data(2000, 1))
    val = write_parquet(d / "validation.parquet", binary_data(600, 2))
    full = run_trainer(train.as_uri(), val.as_uri(), (d / "full").as_uri())
    assert_ok(full)
    return {"dir": d, "train": train, "val": val, "full": full, "out": d / "full"}


# ------------------------------------------------------------------------------------------------ happy paths


def test_binary_run_learns_and_follows_the_protocol(binary):
    ev = events(binary["full"])
    progress = [e for e in ev if e["type"] == "progress"]
    ckpts = [e for e in ev if e["type"] == "checkpoint"]
    assert [p["epoch"] for p in progress] == list(range(1, 7))
    assert all(p["epochs"] == 6 and p["metric"] == "auc" for p in progress)
    assert progress[-1]["value"] > 0.8
    assert progress[-1]["loss"] < progress[0]["loss"]
    assert [c["epoch"] for c in ckpts] == list(range(1, 7))
    for c in ckpts:
        assert c["uri"].startswith("file:///")
        assert Path(unquote(urlparse(c["uri"]).path)).is_file()
    assert ev[-1] == {"type": "done", "epochs": 6}
    # each checkpoint line follows its epoch's progress line
    kinds = [(e["type"], e.get("epoch")) for e in ev]
    for e in range(1, 7):
        assert kinds.index(("progress", e)) < kinds.index(("checkpoint", e))

    out = binary["out"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [f"epoch-{e:04d}.ckpt" for e in range(1, 7)]
    assert not [p for p in out.rglob("*.tmp")]
    m = json.loads((out / "metrics.json").read_text())
    assert m["epochs"] == 6 and m["device"] == "cpu" and m["train_loss"] > 0
    assert set(m["validation"]) == {"accuracy", "log_loss", "auc"}
    # The model (and its metrics) is the best epoch's, not necessarily the last one's.
    assert m["validation"]["auc"] == pytest.approx(max(p["value"] for p in progress))
    assert m["validation"]["auc"] > 0.8 and m["validation"]["accuracy"] > 0.7
    assert m["duration_seconds"] >= 0


def test_same_seed_gives_byte_identical_onnx(binary):
    d = binary["dir"]
    again = run_trainer(binary["train"], binary["val"], d / "again")  # plain paths work too
    assert_ok(again)
    assert (d / "again" / "model.onnx").read_bytes() == (binary["out"] / "model.onnx").read_bytes()
    other = run_trainer(binary["train"], binary["val"], d / "other-seed", seed=8)
    assert_ok(other)
    assert (d / "other-seed" / "model.onnx").read_bytes() != (binary["out"] / "model.onnx").read_bytes()


def test_resume_from_mid_checkpoint_matches_uninterrupted_run(binary):
    d = binary["dir"]
    ckpt = (binary["out"] / "checkpoints" / "epoch-0003.ckpt").as_uri()
    resumed = run_trainer(binary["train"].as_uri(), binary["val"].as_uri(), (d / "resumed").as_uri(), resume=ckpt)
    assert_ok(resumed)
    ev = events(resumed)
    assert [e["epoch"] for e in ev if e["type"] == "progress"] == [4, 5, 6]
    assert (d / "resumed" / "model.onnx").read_bytes() == (binary["out"] / "model.onnx").read_bytes()
    full_m = json.loads((binary["out"] / "metrics.json").read_text())
    res_m = json.loads((d / "resumed" / "metrics.json").read_text())
    assert res_m["validation"] == full_m["validation"] and res_m["train_loss"] == full_m["train_loss"]
    assert res_m["resumed_from_epoch"] == 3

    # Resuming from the last checkpoint only exports.
    last = (binary["out"] / "checkpoints" / "epoch-0006.ckpt").as_uri()
    done = run_trainer(binary["train"], binary["val"], d / "resumed-last", resume=last)
    assert_ok(done)
    assert [e["type"] for e in events(done)] == ["done"]
    assert (d / "resumed-last" / "model.onnx").read_bytes() == (binary["out"] / "model.onnx").read_bytes()


def test_onnx_loads_in_onnxruntime_and_matches_torch(binary):
    import onnxruntime as ort
    import torch

    mod = load_train_module()
    sess = ort.InferenceSession(str(binary["out"] / "model.onnx"), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    (outp,) = sess.get_outputs()
    assert inp.name == "features" and inp.type == "tensor(float)" and inp.shape[1] == N_FEATURES
    assert outp.name == "probabilities" and outp.shape[1] == 2
    assert isinstance(inp.shape[0], str)  # dynamic batch axis

    ckpt = torch.load(str(binary["out"] / "checkpoints" / "epoch-0006.ckpt"), map_location="cpu")
    net = mod.build_model(torch, N_FEATURES, 2, mod.parse_hyperparameters(json.dumps(FULL_HP)))
    net.load_state_dict(ckpt["best"]["model"])  # the exported model is the best epoch's weights
    net.eval()
    cols = pq.read_table(binary["val"]).to_pydict()
    x = np.stack([np.asarray(cols[f]) for f in FEATURES], axis=1).astype(np.float32)
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()
    for batch in (x[:1], x[:37], x):
        got = sess.run(["probabilities"], {"features": batch})[0]
        assert got.shape == (len(batch), 2) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected[: len(batch)], atol=1e-5, rtol=0)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_regression_reaches_r2_and_exports_prediction(tmp_path):
    import onnxruntime as ort

    train = write_parquet(tmp_path / "train.parquet", regression_data(2000, 3))
    val_cols = regression_data(600, 4)
    val = write_parquet(tmp_path / "validation.parquet", val_cols)
    proc = run_trainer(train, val, tmp_path / "out", task="regression", label="target",
                       hp={"epochs": 8, "batch_size": 64, "lr": 0.01, "hidden_sizes": [32, 16], "dropout": 0.0,
                           "some_unknown_key": "ignored"})
    assert_ok(proc)
    progress = [e for e in events(proc) if e["type"] == "progress"]
    assert all(p["metric"] == "rmse" for p in progress) and progress[-1]["value"] < progress[0]["value"]
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(m["validation"]) == {"rmse", "mae", "r2"}
    assert m["validation"]["r2"] > 0.5, m

    sess = ort.InferenceSession(str(tmp_path / "out" / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["prediction"]
    x = np.stack([val_cols[f] for f in FEATURES], axis=1).astype(np.float32)
    pred = sess.run(None, {"features": x})[0]
    assert pred.shape == (len(x), 1)
    rmse = float(np.sqrt(((pred[:, 0].astype(np.float64) - val_cols["target"]) ** 2).mean()))
    assert rmse == pytest.approx(m["validation"]["rmse"], rel=1e-4)  # the ONNX model includes de-standardizing


def test_stops_early_when_the_validation_metric_stops_improving_and_keeps_the_best_epoch(tmp_path):
    train = write_parquet(tmp_path / "train.parquet", binary_data(300, 11))
    val = write_parquet(tmp_path / "validation.parquet", binary_data(200, 12))
    proc = run_trainer(train, val, tmp_path / "out", hp={**FULL_HP, "epochs": 1000, "patience": 3})
    assert_ok(proc)
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    progress = [e for e in events(proc) if e["type"] == "progress"]
    assert m["stopped_early"] is True and m["epochs"] == len(progress) < 1000
    assert m["best_epoch"] == m["epochs"] - 3
    best = max(progress, key=lambda p: p["value"])
    assert best["epoch"] == m["best_epoch"] and m["validation"]["auc"] == pytest.approx(best["value"], abs=1e-12)


def test_multiclass_reports_accuracy(tmp_path):
    import onnxruntime as ort

    train = write_parquet(tmp_path / "train.parquet", multiclass_data(1500, 5))
    val = write_parquet(tmp_path / "validation.parquet", multiclass_data(500, 6))
    proc = run_trainer(train, val, tmp_path / "out", hp={**FULL_HP, "epochs": 5, "checkpoint_every": 2})
    assert_ok(proc)
    ev = events(proc)
    progress = [e for e in ev if e["type"] == "progress"]
    assert all(p["metric"] == "accuracy" for p in progress) and progress[-1]["value"] > 0.7
    assert [e["epoch"] for e in ev if e["type"] == "checkpoint"] == [2, 4, 5]  # every 2, plus the last
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(m["validation"]) == {"accuracy", "log_loss"} and m["n_classes"] == 3
    sess = ort.InferenceSession(str(tmp_path / "out" / "model.onnx"), providers=["CPUExecutionProvider"])
    p = sess.run(["probabilities"], {"features": np.zeros((4, N_FEATURES), np.float32)})[0]
    assert p.shape == (4, 3)


def test_csv_and_npz_inputs_give_the_same_model_as_parquet(binary, tmp_path):
    cols = {name: pq.read_table(p).to_pydict() for name, p in (("train", binary["train"]), ("val", binary["val"]))}
    paths = {}
    for name, c in cols.items():
        keys = ["label"] + FEATURES  # column order differs from the Parquet files on purpose
        arr = np.stack([np.asarray(c[k]) for k in keys], axis=1)
        np.savetxt(tmp_path / f"{name}.csv", arr, delimiter=",", header=",".join(keys), comments="", fmt="%.17g")
        np.savez(tmp_path / f"{name}.npz", **{k: np.asarray(c[k]) for k in keys})
        paths[name] = tmp_path / f"{name}.csv", tmp_path / f"{name}.npz"
    for i, kind in enumerate(("csv", "npz")):
        proc = run_trainer(paths["train"][i], paths["val"][i], tmp_path / kind)
        assert_ok(proc)
        assert (tmp_path / kind / "model.onnx").read_bytes() == (binary["out"] / "model.onnx").read_bytes(), kind


# One-hot columns of categories with edge spaces, commas, quotes, "=", non-ASCII letters, and a literal "%2C".
ODD_NAMES = ["city=Paris ", "city=  padded  ", "city=a,b", 'city=say "hi"', "city=Zürich=東京", "share 50%2C\tof all"]
ODD_LABEL = " label, as named "


def encode_name(name: str) -> str:
    """A name inside --feature-columns, encoded as src/trainers/contract-flags.ts encodes it."""
    return "".join(quote(c, safe="") if c in "%," or c.isspace() or unicodedata.category(c) == "Cc" else c
                   for c in name)


def test_feature_names_are_taken_exactly_as_decoded_never_trimmed(binary, tmp_path):
    renamed = dict(zip(FEATURES + ["label"], ODD_NAMES + [ODD_LABEL]))
    features = [encode_name(n) for n in ODD_NAMES]
    assert not any(c.isspace() for c in ",".join(features))
    for name, src in (("train", binary["train"]), ("val", binary["val"])):
        cols = pq.read_table(src).to_pydict()
        write_parquet(tmp_path / f"{name}.parquet", {renamed[k]: v for k, v in cols.items()})
        keys = ["label"] + FEATURES
        with open(tmp_path / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow([renamed[k] for k in keys])  # quotes the names holding commas or quotes
            np.savetxt(f, np.stack([np.asarray(cols[k]) for k in keys], axis=1), delimiter=",", fmt="%.17g")
    for kind in ("parquet", "csv"):
        proc = run_trainer(tmp_path / f"train.{kind}", tmp_path / f"val.{kind}", tmp_path / kind, label=ODD_LABEL,
                           features=features)
        assert_ok(proc)
        # The same data under other names: the same model, byte for byte.
        assert (tmp_path / kind / "model.onnx").read_bytes() == (binary["out"] / "model.onnx").read_bytes(), kind


def test_a_name_is_never_trimmed_even_unencoded(tmp_path):
    cols = binary_data(200, 21)
    write_parquet(tmp_path / "train.parquet", {"city=Paris": cols["x0"], **cols})
    write_parquet(tmp_path / "val.parquet", {"city=Paris": cols["x0"], **cols})
    # "city=Paris " is another column than "city=Paris" (the one-hot columns of "Paris " and "Paris").
    proc = run_trainer(tmp_path / "train.parquet", tmp_path / "val.parquet", tmp_path / "out",
                       features=["city=Paris "], hp={**FULL_HP, "epochs": 1})
    assert proc.returncode == 2, proc.stderr
    assert "column 'city=Paris ' not found" in proc.stderr, proc.stderr


def test_export_onnx_false_writes_metrics_only(binary, tmp_path):
    proc = run_trainer(binary["train"], binary["val"], tmp_path / "out", hp={**FULL_HP, "epochs": 1,
                                                                              "export_onnx": False})
    assert_ok(proc)
    assert not (tmp_path / "out" / "model.onnx").exists()
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["onnx_exported"] is False


def test_auc_is_rank_based_with_ties():
    mod = load_train_module()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + y, 1)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    brute = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    assert mod.roc_auc(y, s) == pytest.approx(brute, abs=1e-12)
    assert mod.roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert mod.roc_auc(np.array([1, 1]), np.array([0.1, 0.2])) is None


# ------------------------------------------------------------------------------------------------- bad inputs


def _bad_case(tmp_path, name):
    train_cols = binary_data(200, 11)
    val_cols = binary_data(100, 12)
    kw = {}
    if name == "missing-file":
        train = tmp_path / "nope.parquet"
        expect = "nope.parquet"
    elif name == "missing-feature":
        kw["features"] = FEATURES + ["income"]
        expect = "'income'"
    elif name == "missing-label":
        kw["label"] = "churned"
        expect = "'churned'"
    elif name == "empty":
        train_cols = {k: v[:0] for k, v in train_cols.items()}
        expect = "no rows"
    elif name == "nan-feature":
        train_cols["x3"][17] = np.nan
        expect = "'x3'"
    elif name == "label-out-of-range":
        train_cols["label"][5] = -1.0
        expect = "'label'"
    elif name == "validation-label-unknown-class":
        val_cols["label"][3] = 4.0
        expect = "'label'"
    elif name == "empty-feature-name":
        kw["features"] = FEATURES[:2] + [""] + FEATURES[2:]
        expect = "empty name at position 3"
    elif name == "bad-hyperparameters":
        kw["hp"] = {"epochs": "many"}
        expect = "'epochs'"
    else:
        raise AssertionError(name)
    if name != "missing-file":
        train = write_parquet(tmp_path / "train.parquet", train_cols)
    val = write_parquet(tmp_path / "validation.parquet", val_cols)
    return train, val, kw, expect


@pytest.mark.parametrize("case", ["missing-file", "missing-feature", "missing-label", "empty", "nan-feature",
                                  "label-out-of-range", "validation-label-unknown-class", "empty-feature-name",
                                  "bad-hyperparameters"])
def test_bad_input_exits_2_with_a_clear_message(tmp_path, case):
    train, val, kw, expect = _bad_case(tmp_path, case)
    out = tmp_path / "out"
    proc = run_trainer(train, val, out, **kw)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert expect in lines[0], lines[0]
    assert proc.stdout == ""
    assert not (out / "model.onnx").exists()


def test_resume_with_other_architecture_is_rejected(binary, tmp_path):
    ckpt = binary["out"] / "checkpoints" / "epoch-0002.ckpt"
    proc = run_trainer(binary["train"], binary["val"], tmp_path / "out", hp={**FULL_HP, "hidden_sizes": [4]},
                       resume=str(ckpt))
    assert proc.returncode == 2 and "hidden_sizes" in proc.stderr
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_sigterm_stops_promptly_without_a_model(binary, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(TRAIN_PY), "--train", str(binary["train"]), "--validation", str(binary["val"]),
           "--output", str(out), "--task", "classification", "--label-column", "label",
           "--feature-columns", ",".join(FEATURES), "--hyperparameters",
           json.dumps({"epochs": 100000, "batch_size": 16, "checkpoint_every": 1000}), "--seed", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    try:
        first = json.loads(proc.stdout.readline())
        assert first["type"] == "progress"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        assert time.monotonic() - t0 < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert rc != 0
    assert not (out / "model.onnx").exists()
    assert not list(out.rglob("*.tmp"))


# -------------------------------------------------------------------------------------- gs:// (fake GCS server)


class FakeGCS(BaseHTTPRequestHandler):
    """The two JSON-API calls the trainer uses: media download and multipart upload."""

    objects: dict = {}

    def log_message(self, *args):
        pass

    def _send(self, code, body=b"", ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        parts = u.path.split("/")
        # /download/storage/v1/b/<bucket>/o/<name>  or  /storage/v1/b/<bucket>/o/<name>
        try:
            i = parts.index("b")
            bucket, name = parts[i + 1], unquote("/".join(parts[i + 3:]))
        except (ValueError, IndexError):
            return self._send(404, b"{}")
        data = self.objects.get((bucket, name))
        if data is None:
            return self._send(404, json.dumps({"error": {"code": 404, "message": "No such object"}}).encode())
        if parse_qs(u.query).get("alt") == ["media"]:
            return self._send(200, data, "application/octet-stream")
        return self._send(200, json.dumps({"bucket": bucket, "name": name, "size": str(len(data))}).encode())

    def do_POST(self):
        u = urlparse(self.path)
        parts = u.path.split("/")
        bucket = parts[parts.index("b") + 1]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ctype = self.headers["Content-Type"]
        boundary = ctype.split("boundary=")[1].strip('"').encode()
        chunks = [c for c in body.split(b"--" + boundary) if c.strip() not in (b"", b"--")]
        meta = json.loads(chunks[0].split(b"\r\n\r\n", 1)[1])
        data = chunks[1].split(b"\r\n\r\n", 1)[1]
        if data.endswith(b"\r\n"):
            data = data[:-2]
        self.objects[(bucket, meta["name"])] = data
        self._send(200, json.dumps({"bucket": bucket, "name": meta["name"], "size": str(len(data))}).encode())


def test_gs_uris_with_storage_emulator(binary, tmp_path):
    pytest.importorskip("google.cloud.storage")
    FakeGCS.objects = {("data", "split/train.parquet"): binary["train"].read_bytes(),
                       ("data", "split/validation.parquet"): binary["val"].read_bytes()}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGCS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{server.server_port}"}
        proc = run_trainer("gs://data/split/train.parquet", "gs://data/split/validation.parquet", "gs://models/run1",
                           hp={**FULL_HP, "epochs": 2}, extra_env=env)
        assert_ok(proc)
        ck = [e for e in events(proc) if e["type"] == "checkpoint"]
        assert [c["uri"] for c in ck] == ["gs://models/run1/checkpoints/epoch-0001.ckpt",
                                          "gs://models/run1/checkpoints/epoch-0002.ckpt"]
        assert ("models", "run1/model.onnx") in FakeGCS.objects
        assert json.loads(FakeGCS.objects[("models", "run1/metrics.json")])["epochs"] == 2
        # resume from a gs:// checkpoint
        proc = run_trainer("gs://data/split/train.parquet", "gs://data/split/validation.parquet", tmp_path / "out",
                           hp={**FULL_HP, "epochs": 2}, resume=ck[0]["uri"], extra_env=env)
        assert_ok(proc)
        assert (tmp_path / "out" / "model.onnx").read_bytes() == FakeGCS.objects[("models", "run1/model.onnx")]
        missing = run_trainer("gs://data/split/nope.parquet", "gs://data/split/validation.parquet", tmp_path / "o2",
                              extra_env=env)
        assert missing.returncode == 2 and "gs://data/split/nope.parquet" in missing.stderr
    finally:
        server.shutdown()
        server.server_close()
