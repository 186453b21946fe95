"""The Python baseline of bench/serving-throughput.ts: FastAPI + uvicorn + onnxruntime serving the same model.

Reads the same fitted transform (transform.json) and ONNX model as the Node server and answers the same route with
the same body shapes: POST /v1/models/<name>:predict {"instances": [...]} -> {"predictions": [{label, probabilities}]}.
Each instance is checked like the Node server checks it (unknown and missing fields, types, float32 range; null
imputes) and a bad request gets a 400 naming the fields. No prediction log. One intra-op thread per process and no
spinning, as in the Node server.

    MODEL_ONNX=... TRANSFORM_JSON=... MODEL_NAME=churn \
      python -m uvicorn fastapi_server:app --app-dir bench --port 8000 --workers 2 --log-level warning
"""

import json
import math
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

FLOAT32_MAX = 3.4028234663852886e38

with open(os.environ["TRANSFORM_JSON"], encoding="utf-8") as f:
    TRANSFORM = json.load(f)
FEATURES = TRANSFORM["features"]
KNOWN = {f["name"] for f in FEATURES}
WIDTH = len(TRANSFORM["outputColumns"])
CLASSES = TRANSFORM["target"].get("classes") or []
TASK = TRANSFORM["task"]
for feature in FEATURES:
    if feature["kind"] == "categorical":
        feature["index"] = {c: i for i, c in enumerate(feature["categories"])}

options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
options.add_session_config_entry("session.intra_op.allow_spinning", "0")
options.add_session_config_entry("session.inter_op.allow_spinning", "0")
SESSION = ort.InferenceSession(os.environ["MODEL_ONNX"], options, providers=["CPUExecutionProvider"])
OUTPUT = next(n.name for n in SESSION.get_outputs() if n.name in ("probabilities", "prediction"))
MODEL = os.environ.get("MODEL_NAME", "churn")

app = FastAPI()


def numeric(feature, value):
    x = float(value)
    clip = feature.get("clip") or {}
    if clip.get("upper") is not None:
        x = min(x, clip["upper"])
    if clip.get("lower") is not None:
        x = max(x, clip["lower"])
    return x if feature.get("standardize") is False else (x - feature["mean"]) / feature["std"]


def category_of(value, impute):
    if value is None or value == "":
        return impute
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def transform_row(i, record, out, row, problems):
    j = 0
    for feature in FEATURES:
        name = feature["name"]
        if name not in record:
            problems.append(f'instances[{i}]: missing field "{name}" (send null to impute it)')
        value = record.get(name)
        if feature["kind"] == "numeric":
            ok = value is None or (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
                and abs(value) <= FLOAT32_MAX
            )
            if not ok:
                problems.append(f'instances[{i}]: "{name}" must be a finite float32 number or null')
            out[row, j] = numeric(feature, value if ok and value is not None else feature["impute"])
            j += 1
            continue
        if value is not None and not isinstance(value, (str, int, float, bool)):
            problems.append(f'instances[{i}]: "{name}" must be a string, number, boolean or null')
            value = None
        index = feature["index"].get(category_of(value, feature.get("impute") or "__missing__"), -1)
        if feature.get("encoding") == "ordinal":
            out[row, j] = feature["unknownIndex"] if index == -1 else index
            j += 1
        else:
            n = len(feature["categories"])
            out[row, j + (n if index == -1 else index)] = 1.0
            j += n + 1


def bad_request(problems):
    return JSONResponse({"error": "; ".join(problems), "code": "MLOPS_ERR_SERVE_INPUT_INVALID"}, status_code=400)


@app.post("/v1/models/{target}")
async def predict(target: str, request: Request):
    if target != f"{MODEL}:predict":
        return JSONResponse({"error": "no such route"}, status_code=404)
    try:
        body = json.loads(await request.body())
    except ValueError:
        return bad_request(["the body is not JSON"])
    instances = body.get("instances") if isinstance(body, dict) else None
    if not isinstance(instances, list) or not instances:
        return bad_request(['"instances" must be a non-empty array'])
    features = np.zeros((len(instances), WIDTH), dtype=np.float32)
    problems = []
    for i, record in enumerate(instances):
        if not isinstance(record, dict):
            problems.append(f"instances[{i}]: must be an object of feature values")
            continue
        for key in record:
            if key not in KNOWN:
                problems.append(f"instances[{i}]: unknown field {json.dumps(key)}")
        transform_row(i, record, features, i, problems)
    if problems:
        return bad_request(problems)
    output = SESSION.run([OUTPUT], {"features": features})[0]
    if not np.isfinite(output).all():
        return bad_request(["the model's output is not finite for these values"])
    if TASK == "regression":
        predictions = [{"value": float(v[0])} for v in output]
    else:
        names = CLASSES or [str(k) for k in range(output.shape[1])]
        predictions = []
        for row in output.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            predictions.append({"label": names[best], "probabilities": dict(zip(names, row))})
    return Response(json.dumps({"predictions": predictions}), media_type="application/json")


@app.get("/readyz")
async def ready():
    return {"ready": True}
