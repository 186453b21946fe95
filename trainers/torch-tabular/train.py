#!/usr/bin/env python3
"""Reference trainer of temporal-mlops: a PyTorch MLP for tabular classification and regression.

Follows docs/trainer-contract.md: reads the train/validation splits, prints JSON-lines progress on stdout, writes
checkpoints, model.onnx and metrics.json under --output. Only torch + numpy are needed up front; pyarrow (Parquet),
google-cloud-storage (gs://) and onnx tooling are imported when a run needs them.

Exit codes: 0 success, 2 bad input (one-line message on stderr), 143/130 on SIGTERM/SIGINT, 1 anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import random
import re
import shutil
from urllib.parse import unquote
import signal
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import numpy as np

# cuBLAS needs this before it initializes to run deterministically on a GPU.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

# Defaults for small and mid-sized tabular data (docs/hyperparameters.md; src/contracts/hyperparameters.ts holds the
# same values): a generous epoch cap with early stopping on the validation metric, keeping the best epoch's weights.
DEFAULTS = {
    "hidden_sizes": [64, 32],
    "dropout": 0.1,
    "lr": 3e-3,
    "epochs": 300,
    "patience": 25,
    "batch_size": 64,
    "weight_decay": 1e-4,
    "checkpoint_every": 1,
    "export_onnx": True,
}
ONNX_OPSET = 17
EVAL_BATCH = 65536


class InputError(Exception):
    """Bad input: exit code 2, one line on stderr."""


class Terminated(BaseException):
    """SIGTERM/SIGINT: stop promptly without writing a model."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# --------------------------------------------------------------------------------------------------------- output


def emit(obj: dict) -> None:
    """One JSON object per line on stdout, flushed (the trainer contract's progress protocol)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log(msg: str) -> None:
    sys.stderr.write(f"[torch-tabular] {msg}\n")
    sys.stderr.flush()


def finite_or_none(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# ----------------------------------------------------------------------------------------------------------- URIs


def parse_gs(uri: str) -> tuple[str, str]:
    rest = uri[len("gs://"):]
    bucket, _, name = rest.partition("/")
    if not bucket:
        raise InputError(f"bad gs:// URI {uri!r}: expected gs://BUCKET/OBJECT")
    return bucket, name


def local_path(uri: str) -> Path | None:
    """file:// URI or plain path -> Path; None for gs://."""
    if uri.startswith("gs://"):
        return None
    if uri.startswith("file:"):
        parsed = urllib.parse.urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InputError(f"unsupported file URI {uri!r}: use file:///absolute/path")
        return Path(urllib.parse.unquote(parsed.path))
    if "://" in uri:
        raise InputError(f"unsupported URI scheme in {uri!r}: use file://, gs:// or a plain path")
    return Path(uri)


_gcs_client = None


def gcs_client():
    global _gcs_client
    if _gcs_client is None:
        try:
            from google.cloud import storage  # lazy: only for gs:// URIs
        except ImportError:
            raise InputError(
                "gs:// URI given but google-cloud-storage is not installed; "
                "pip install google-cloud-storage (see trainers/torch-tabular/requirements.txt) or use file:// URIs"
            ) from None
        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            _gcs_client = storage.Client(
                project=os.environ.get("GOOGLE_CLOUD_PROJECT", "test"), credentials=AnonymousCredentials()
            )
        else:
            _gcs_client = storage.Client()
    return _gcs_client


def fetch(uri: str, what: str, workdir: Path) -> Path:
    """A readable local path for an input URI (gs:// objects are downloaded into workdir)."""
    path = local_path(uri)
    if path is not None:
        if not path.is_file():
            raise InputError(f"{what} file not found: {path} (check the {what} URI)")
        return path
    bucket, name = parse_gs(uri)
    dest = workdir / f"{len(list(workdir.iterdir()))}-{Path(name).name or 'object'}"
    try:
        blob = gcs_client().bucket(bucket).blob(name)
        blob.download_to_filename(str(dest))
    except InputError:
        raise
    except Exception as e:  # NotFound, auth, network
        first = str(e).splitlines()[0] if str(e) else ""
        raise InputError(f"cannot download {what} {uri}: {type(e).__name__}: {first}")
    return dest


def upload(src: Path, uri: str) -> None:
    bucket, name = parse_gs(uri)
    gcs_client().bucket(bucket).blob(name).upload_from_filename(str(src))


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then os.replace: readers never see a partial file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions of a new file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Output:
    """The --output folder: local, or a local staging folder mirrored to gs://."""

    def __init__(self, uri: str, workdir: Path):
        self.uri = uri.rstrip("/")
        path = local_path(uri)
        self.remote = path is None
        self.dir = (workdir / "output") if self.remote else path.resolve()
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "checkpoints").mkdir(exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot create output folder {self.dir}: {e.strerror} (check --output)")

    def write(self, rel: str, data: bytes) -> str:
        """Atomically write rel under the output; returns its URI."""
        dest = self.dir / rel
        atomic_write_bytes(dest, data)
        if self.remote:
            uri = f"{self.uri}/{rel}"
            upload(dest, uri)
            return uri
        return dest.as_uri()


# ----------------------------------------------------------------------------------------------------------- data


def read_columns(path: Path, uri: str, columns: list[str]) -> dict[str, np.ndarray]:
    """{column: float64 array} from a Parquet, .npz or .csv file."""
    name = path.name.lower()
    hint_uri = uri if uri.endswith(path.name) else f"{uri} ({path})"
    if name.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as z:
                available = list(z.files)
                data = {c: z[c] for c in columns if c in z.files}
        except Exception as e:
            raise InputError(f"cannot read {hint_uri} as .npz: {e}")
    elif name.endswith(".csv"):
        try:
            with open(path, "r", newline="", encoding="utf-8-sig") as f:
                # The header as CSV (a quoted name may hold commas), in UTF-8 whatever the locale, each name exactly
                # as written: never trimmed.
                available = next(csv.reader(f), [])
            idx = {c: i for i, c in enumerate(available)}
            wanted = [c for c in columns if c in idx]
            if wanted and not any(c not in idx for c in columns):
                arr = np.loadtxt(path, delimiter=",", skiprows=1, usecols=[idx[c] for c in wanted], ndmin=2,
                                 dtype=np.float64)
                data = {c: arr[:, i] for i, c in enumerate(wanted)}
            else:
                data = {}
        except csv.Error as e:
            raise InputError(f"cannot read the header line of {hint_uri} as CSV: {e}")
        except ValueError as e:
            msg = str(e).splitlines()[0] if str(e) else "not numeric"
            m = re.search(r"column (\d+)", msg)
            if m and 0 < int(m.group(1)) <= len(available):  # numpy counts columns from 1
                msg += f" (column {available[int(m.group(1)) - 1]!r})"
            raise InputError(f"cannot parse {hint_uri} as numeric CSV: {msg}; every value must be a number")
    else:
        try:
            import pyarrow.parquet as pq  # lazy: only for Parquet input
        except ImportError:
            raise InputError(
                f"{hint_uri} is Parquet but pyarrow is not installed; pip install pyarrow "
                "(see trainers/torch-tabular/requirements.txt) or pass a .npz/.csv file"
            ) from None
        try:
            schema = pq.read_schema(path)
            available = list(schema.names)
            present = [c for c in columns if c in available]
            table = pq.read_table(path, columns=present) if present else None
        except Exception as e:
            raise InputError(f"cannot read {hint_uri} as Parquet: {type(e).__name__}: {str(e).splitlines()[0]}")
        data = {}
        if table is not None and len(present) == len(columns):
            import pyarrow as pa

            for c in columns:
                col = table.column(c)
                t = col.type
                if not (pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)):
                    raise InputError(
                        f"column {c!r} in {hint_uri} has type {col.type}, expected DOUBLE; "
                        "preprocess it into numeric features first"
                    )
                if col.null_count:
                    raise InputError(
                        f"column {c!r} in {hint_uri} has {col.null_count} null value(s); "
                        "impute or drop them in preprocessing"
                    )
                data[c] = col.to_numpy().astype(np.float64, copy=False)
    missing = [c for c in columns if c not in available]
    if missing:
        shown = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
        raise InputError(
            f"column {missing[0]!r} not found in {hint_uri} (it has: {shown or 'no columns'}); "
            "fix --feature-columns/--label-column or the split file"
        )
    for c in columns:
        a = np.asarray(data[c])
        if a.ndim != 1:
            raise InputError(f"column {c!r} in {hint_uri} must be 1-dimensional, got shape {a.shape}")
        data[c] = a.astype(np.float64, copy=False)
    return data


def load_split(uri: str, what: str, features: list[str], label: str, workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    path = fetch(uri, what, workdir)
    cols = read_columns(path, uri, features + [label])
    n = len(cols[label])
    if n == 0:
        raise InputError(f"{what} file {uri} has no rows; check the split (it must not be empty)")
    for c in features:
        if len(cols[c]) != n:
            raise InputError(f"column {c!r} in {uri} has {len(cols[c])} values but {label!r} has {n}")
    x = np.stack([cols[c] for c in features], axis=1) if features else np.zeros((n, 0))
    bad = ~np.isfinite(x)
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        raise InputError(
            f"column {features[j]!r} in {what} file {uri} has {int(bad[:, j].sum())} NaN/infinite value(s); "
            "impute or drop them in preprocessing"
        )
    y = cols[label]
    if not np.isfinite(y).all():
        raise InputError(
            f"label column {label!r} in {what} file {uri} has {int((~np.isfinite(y)).sum())} NaN/infinite value(s); "
            "drop those rows in preprocessing"
        )
    return x, y


def check_class_labels(y: np.ndarray, label: str, uri: str, n_classes: int | None) -> None:
    if (y != np.round(y)).any() or (y < 0).any():
        bad = y[(y != np.round(y)) | (y < 0)][0]
        raise InputError(
            f"label column {label!r} in {uri} has value {bad!r}, out of range: classification labels must be "
            "class indices 0..k-1; encode the label or use --task regression"
        )
    if n_classes is not None and y.max() >= n_classes:
        raise InputError(
            f"label column {label!r} in {uri} has class {int(y.max())}, out of range: the model has {n_classes} "
            f"classes (0..{n_classes - 1}, from the training split or num_classes); fix the split or set num_classes"
        )


# -------------------------------------------------------------------------------------------------------- metrics


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Rank-based (Mann-Whitney) ROC AUC with average ranks for ties; None if only one class is present."""
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    s = np.asarray(score)[order]
    ranks = np.empty(len(s), dtype=np.float64)
    # Average rank (1-based) per run of equal scores.
    boundaries = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(s)]))
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict:
    yi = y.astype(np.int64)
    p = np.clip(proba[np.arange(len(yi)), yi], 1e-15, 1.0)
    out = {
        "accuracy": float((proba.argmax(axis=1) == yi).mean()),
        "log_loss": float(-np.log(p).mean()),
    }
    if proba.shape[1] == 2:
        out["auc"] = roc_auc(yi, proba[:, 1])
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict:
    err = pred - y
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt((err ** 2).mean())),
        "mae": float(np.abs(err).mean()),
        "r2": (1.0 - float((err ** 2).sum()) / ss_tot) if ss_tot > 0 else None,
    }


# ---------------------------------------------------------------------------------------------- hyperparameters


def parse_hyperparameters(text: str) -> dict:
    try:
        raw = json.loads(text) if text else {}
    except json.JSONDecodeError as e:
        raise InputError(f"--hyperparameters is not valid JSON: {e}")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError("--hyperparameters must be a JSON object, e.g. '{\"epochs\": 10}'")
    hp = dict(DEFAULTS)
    hp["num_classes"] = None

    def num(key, cast, lo=None, lo_open=False):
        if key not in raw or raw[key] is None:
            return
        v = raw[key]
        try:
            if isinstance(v, bool):
                raise ValueError
            v2 = cast(v)
            if cast is int and float(v) != v2:
                raise ValueError
        except (TypeError, ValueError):
            raise InputError(f"hyperparameter {key!r} must be a {cast.__name__}, got {v!r}") from None
        if lo is not None and (v2 <= lo if lo_open else v2 < lo):
            raise InputError(f"hyperparameter {key!r} must be {'>' if lo_open else '>='} {lo}, got {v!r}")
        hp[key] = v2

    num("epochs", int, 1)
    num("patience", int, 0)
    num("batch_size", int, 1)
    num("lr", float, 0, lo_open=True)
    num("weight_decay", float, 0)
    num("dropout", float, 0)
    num("checkpoint_every", int, 1)
    num("num_classes", int, 2)
    if hp["dropout"] >= 1:
        raise InputError(f"hyperparameter 'dropout' must be < 1, got {raw['dropout']!r}")
    if "hidden_sizes" in raw and raw["hidden_sizes"] is not None:
        v = raw["hidden_sizes"]
        if isinstance(v, str):
            v = [s for s in v.replace(" ", "").split(",") if s]
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            v = [v]
        try:
            sizes = [int(s) for s in v]
            if any(s < 1 for s in sizes) or any(float(a) != b for a, b in zip(v, sizes)):
                raise ValueError
        except (TypeError, ValueError):
            raise InputError(f"hyperparameter 'hidden_sizes' must be a list of positive integers, got {v!r}") from None
        hp["hidden_sizes"] = sizes
    if "export_onnx" in raw and raw["export_onnx"] is not None:
        v = raw["export_onnx"]
        if isinstance(v, str):
            v = v.strip().lower() not in ("false", "0", "no", "off", "")
        hp["export_onnx"] = bool(v)
    return hp


# ---------------------------------------------------------------------------------------------------------- model


def build_model(torch, n_features: int, n_out: int, hp: dict):
    nn = torch.nn
    layers = []
    prev = n_features
    for h in hp["hidden_sizes"]:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        if hp["dropout"] > 0:
            layers.append(nn.Dropout(hp["dropout"]))
        prev = h
    layers.append(nn.Linear(prev, n_out))
    return nn.Sequential(*layers)


def make_export_module(torch, net, task: str, y_mean: float, y_std: float):
    nn = torch.nn

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, features):
            return torch.softmax(self.net(features), dim=1)

    class Regressor(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.register_buffer("y_mean", torch.tensor(y_mean, dtype=torch.float32))
            self.register_buffer("y_std", torch.tensor(y_std, dtype=torch.float32))

        def forward(self, features):
            return self.net(features) * self.y_std + self.y_mean

    return (Classifier() if task == "classification" else Regressor()).eval()


@contextlib.contextmanager
def stdout_to_stderr():
    """Keep stdout pure JSON lines while torch may print (also from C++) during export."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def export_onnx(torch, module, n_features: int, task: str) -> bytes:
    import inspect

    out_name = "probabilities" if task == "classification" else "prediction"
    kwargs = dict(
        input_names=["features"],
        output_names=[out_name],
        dynamic_axes={"features": {0: "batch"}, out_name: {0: "batch"}},
        opset_version=ONNX_OPSET,
        do_constant_folding=True,
    )
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript-based exporter: no onnxscript needed, deterministic bytes
    buf = io.BytesIO()
    dummy = torch.zeros(2, n_features, dtype=torch.float32)
    import warnings

    with stdout_to_stderr(), torch.no_grad(), warnings.catch_warnings():
        # Deliberately the legacy exporter (torch >= 2.9 warns that it is deprecated); tracing warnings stay visible.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        torch.onnx.export(module, (dummy,), buf, **kwargs)
    return buf.getvalue()


def torch_load(torch, path: Path):
    import inspect

    kw = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kw["weights_only"] = False  # our own checkpoints hold RNG states (numpy arrays, tuples)
    return torch.load(str(path), **kw)


# ------------------------------------------------------------------------------------------------------- training


def parse_args(argv):
    p = argparse.ArgumentParser(description="temporal-mlops reference trainer (PyTorch MLP, tabular)")
    p.add_argument("--train", required=True)
    p.add_argument("--validation", required=True)
    p.add_argument("--transform", default=None, help="transform.json URI (accepted, not needed by this trainer)")
    p.add_argument("--output", required=True)
    p.add_argument("--task", required=True, choices=["classification", "regression"])
    p.add_argument("--label-column", required=True)
    p.add_argument("--feature-columns", required=True)
    p.add_argument("--hyperparameters", default="{}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume-from", default=None)
    return p.parse_args(argv)


def parse_feature_columns(value: str) -> list[str]:
    """The names in --feature-columns: comma-separated, each percent-decoded and otherwise taken exactly as given.

    A name is never trimmed: the one-hot column of the category "Paris " ends in a space (sent as "city=Paris%20"),
    and "city=Paris" may be another column (docs/trainer-contract.md).
    """
    if value == "":
        raise InputError("--feature-columns is empty; pass the feature column names, comma-separated")
    features = [unquote(c) for c in value.split(",")]
    if "" in features:
        raise InputError(
            f"--feature-columns has an empty name at position {features.index('') + 1} of {len(features)} "
            "(two commas in a row, or one at either end); pass the names comma-separated, a comma inside a name as %2C"
        )
    return features


def train(args, workdir: Path) -> None:
    t_start = time.time()
    features = parse_feature_columns(args.feature_columns)
    if len(set(features)) != len(features):
        raise InputError("--feature-columns names a column twice")
    if args.label_column in features:
        raise InputError(f"label column {args.label_column!r} is also in --feature-columns; remove it from there")
    hp = parse_hyperparameters(args.hyperparameters)
    task = args.task

    # Validate all inputs before importing torch (fast failure, exit 2).
    x_tr, y_tr = load_split(args.train, "train", features, args.label_column, workdir)
    x_va, y_va = load_split(args.validation, "validation", features, args.label_column, workdir)
    n_features = len(features)
    if task == "classification":
        check_class_labels(y_tr, args.label_column, args.train, hp["num_classes"])
        n_classes = hp["num_classes"] or max(2, int(y_tr.max()) + 1)
        check_class_labels(y_va, args.label_column, args.validation, n_classes)
        n_out = n_classes
        metric = "auc" if n_classes == 2 else "accuracy"
        y_mean, y_std = 0.0, 1.0
    else:
        n_classes = None
        n_out = 1
        metric = "rmse"
        y_mean = float(y_tr.mean())
        y_std = float(y_tr.std()) or 1.0
    ckpt_path = fetch(args.resume_from, "resume-from checkpoint", workdir) if args.resume_from else None
    output = Output(args.output, workdir)
    if not output.remote:
        for stale in ("model.onnx", "metrics.json"):  # never leave an older model next to a failed run
            with contextlib.suppress(FileNotFoundError):
                (output.dir / stale).unlink()

    t_data = time.time() - t_start
    import torch  # noqa: E402  (lazy: argument and data errors exit before this ~1 s import)

    device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    random.seed(args.seed)
    np.random.seed(args.seed % (2 ** 32))
    torch.manual_seed(args.seed)
    try:
        torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    except TypeError:  # very old torch without warn_only
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
    log(f"torch {torch.__version__} on {device}; {len(y_tr)} train / {len(y_va)} validation rows, "
        f"{n_features} features, task {task}" + (f" ({n_classes} classes)" if n_classes else "")
        + f"; data read in {t_data:.2f}s, torch ready after {time.time() - t_start:.2f}s")

    net = build_model(torch, n_features, n_out, hp).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    shuffle_gen = torch.Generator().manual_seed(args.seed)

    start_epoch = 1
    last_train_loss = None
    # Early stopping: the best validation value so far, its epoch and weights, and epochs since it was reached.
    best = {"value": None, "epoch": 0, "model": None, "since": 0}
    if ckpt_path is not None:
        try:
            ckpt = torch_load(torch, ckpt_path)
            assert isinstance(ckpt, dict) and ckpt.get("format") == "torch-tabular/1"
        except Exception:
            raise InputError(f"--resume-from {args.resume_from} is not a torch-tabular checkpoint") from None
        want = {"task": task, "n_features": n_features, "n_out": n_out, "hidden_sizes": hp["hidden_sizes"],
                "features": features}
        for k, v in want.items():
            if ckpt["config"].get(k) != v:
                raise InputError(
                    f"--resume-from {args.resume_from} was written for {k}={ckpt['config'].get(k)!r}, "
                    f"this run has {k}={v!r}; resume with the same settings or start without --resume-from"
                )
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        for group in optimizer.param_groups:  # lr/weight_decay follow this run's hyperparameters
            group["lr"] = hp["lr"]
            group["weight_decay"] = hp["weight_decay"]
        rng = ckpt["rng"]
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        shuffle_gen.set_state(rng["shuffle"])
        if device.type == "cuda" and rng.get("cuda") is not None:
            with contextlib.suppress(Exception):
                torch.cuda.set_rng_state_all(rng["cuda"])
        start_epoch = int(ckpt["epoch"]) + 1
        last_train_loss = ckpt.get("train_loss")
        best = ckpt.get("best") or best
        log(f"resumed from {args.resume_from} (epoch {ckpt['epoch']})")

    xt = torch.from_numpy(x_tr.astype(np.float32)).to(device)
    xv = torch.from_numpy(x_va.astype(np.float32)).to(device)
    if task == "classification":
        yt = torch.from_numpy(y_tr.astype(np.int64)).to(device)
        loss_fn = torch.nn.CrossEntropyLoss()
    else:
        yt = torch.from_numpy(((y_tr - y_mean) / y_std).astype(np.float32)).unsqueeze(1).to(device)
        loss_fn = torch.nn.MSELoss()

    def predict(x):
        """Probabilities (classification) or de-standardized predictions (regression), as float64 numpy."""
        net.eval()
        outs = []
        with torch.no_grad():
            for i in range(0, x.shape[0], EVAL_BATCH):
                o = net(x[i:i + EVAL_BATCH])
                o = torch.softmax(o, dim=1) if task == "classification" else o[:, 0] * y_std + y_mean
                outs.append(o.double().cpu())
        return torch.cat(outs).numpy()

    def evaluate():
        p = predict(xv)
        return classification_metrics(y_va, p) if task == "classification" else regression_metrics(y_va, p)

    epochs = hp["epochs"]
    n = xt.shape[0]
    bs = hp["batch_size"]
    val = None
    lower_is_better = metric == "rmse"

    def improved(value) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if best["value"] is None:
            return True
        return value < best["value"] if lower_is_better else value > best["value"]

    def patience_spent() -> bool:
        return hp["patience"] > 0 and best["value"] is not None and best["since"] >= hp["patience"]

    last_epoch = start_epoch - 1
    for epoch in range(start_epoch, epochs + 1):
        if patience_spent():
            break
        t_epoch = time.time()
        net.train()
        perm = torch.randperm(n, generator=shuffle_gen).to(device)
        total = torch.zeros((), dtype=torch.float64, device=device)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += loss.detach().double() * idx.shape[0]
        last_train_loss = float(total.item()) / n
        if not math.isfinite(last_train_loss):
            raise RuntimeError(f"training diverged at epoch {epoch} (loss is {last_train_loss}); lower 'lr'")
        t_eval = time.time()
        val = evaluate()
        last_epoch = epoch
        if improved(val[metric]):
            best = {"value": float(val[metric]), "epoch": epoch, "since": 0,
                    "model": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}}
        else:
            best["since"] += 1
        log(f"epoch {epoch}/{epochs}: train {t_eval - t_epoch:.3f}s, validation {time.time() - t_eval:.3f}s")
        emit({"type": "progress", "epoch": epoch, "epochs": epochs, "loss": finite_or_none(last_train_loss),
              "metric": metric, "value": finite_or_none(val[metric])})

        if epoch % hp["checkpoint_every"] == 0 or epoch == epochs or patience_spent():
            state = {
                "format": "torch-tabular/1",
                "epoch": epoch,
                "best": best,
                "train_loss": last_train_loss,
                "config": {"task": task, "n_features": n_features, "n_out": n_out,
                           "hidden_sizes": hp["hidden_sizes"], "features": features},
                "hyperparameters": hp,
                "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                "optimizer": optimizer.state_dict(),
                "rng": {
                    "python": random.getstate(),
                    "numpy": np.random.get_state(),
                    "torch": torch.get_rng_state(),
                    "shuffle": shuffle_gen.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
                },
            }
            buf = io.BytesIO()
            torch.save(state, buf)
            uri = output.write(f"checkpoints/epoch-{epoch:04d}.ckpt", buf.getvalue())
            emit({"type": "checkpoint", "epoch": epoch, "uri": uri})

    if best["model"] is not None:  # the model is the best epoch's weights, not the last epoch's
        net.load_state_dict(best["model"])
    val = evaluate()

    metrics = {
        "epochs": last_epoch,
        "epoch_cap": epochs,
        "best_epoch": best["epoch"] or last_epoch,
        "stopped_early": last_epoch < epochs,
        "train_loss": finite_or_none(last_train_loss),
        "validation": {k: finite_or_none(v) for k, v in val.items()},
        "device": str(device),
        "duration_seconds": round(time.time() - t_start, 3),
        "task": task,
        "metric": metric,
        "n_features": n_features,
        "n_classes": n_classes,
        "rows": {"train": int(len(y_tr)), "validation": int(len(y_va))},
        "resumed_from_epoch": start_epoch - 1 if ckpt_path is not None else None,
        "seed": args.seed,
        "torch_version": torch.__version__,
        "hyperparameters": hp,
        "onnx_exported": bool(hp["export_onnx"]),
    }

    model_bytes = None
    if hp["export_onnx"]:
        net_cpu = net.to("cpu").eval()
        module = make_export_module(torch, net_cpu, task, y_mean, y_std)
        try:
            model_bytes = export_onnx(torch, module, n_features, task)
        except ImportError as e:
            raise RuntimeError(
                f"ONNX export needs a package that is missing ({e}); install it (e.g. pip install onnx) "
                "or set the hyperparameter export_onnx=false"
            ) from e
    else:
        log("export_onnx=false: not writing model.onnx")
    output.write("metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    if model_bytes is not None:
        output.write("model.onnx", model_bytes)  # last: its presence means the run completed
    emit({"type": "done", "epochs": last_epoch})


def main(argv=None) -> int:
    def on_signal(signum, _frame):
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="torch-tabular-"))
    try:
        train(args, workdir)
        return 0
    except InputError as e:
        sys.stderr.write("error: " + " ".join(str(e).split()) + "\n")
        return 2
    except Terminated as t:
        log(f"stopped by signal {t.signum}; no model written")
        return 128 + t.signum
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
