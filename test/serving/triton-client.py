"""Drives the model server with Triton's own Python HTTP client (tritonclient[http] from PyPI), which nobody in this
project wrote: health, metadata, and inference with binary tensors and with JSON tensors, then a request with a bad
value. Prints one JSON object on stdout for the mocha test (test/serving/protocol-clients.test.ts) to check.

    python triton-client.py <host:port> <model> '<json list of raw records>'
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

url, model, rows = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
client = httpclient.InferenceServerClient(url=url)
metadata = client.get_model_metadata(model)


def column(feature, values):
    if feature["datatype"] == "BYTES":
        return np.array([str(v).lower() if isinstance(v, bool) else str(v) for v in values], dtype=np.object_)
    return np.array(values, dtype=np.float64)


def infer(records, binary):
    inputs = []
    for feature in metadata["inputs"]:
        data = column(feature, [r[feature["name"]] for r in records])
        tensor = httpclient.InferInput(feature["name"], [len(records)], feature["datatype"])
        tensor.set_data_from_numpy(data, binary_data=binary)
        inputs.append(tensor)
    outputs = [httpclient.InferRequestedOutput(o["name"], binary_data=binary) for o in metadata["outputs"]]
    result = client.infer(model, inputs, outputs=outputs, request_id="triton-1")
    labels = [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("label").tolist()]
    return {"labels": labels, "probabilities": result.as_numpy("probabilities").tolist(), "response": result.get_response()}


out = {
    "live": client.is_server_live(),
    "ready": client.is_server_ready(),
    "model_ready": client.is_model_ready(model),
    "metadata": metadata,
    "binary": infer(rows, True),
    "json": infer(rows, False),
}
bad = [dict(rows[0], tenure_months=float("nan"))]
try:
    infer(bad, True)
    out["bad"] = "accepted"
except InferenceServerException as err:
    out["bad"] = {"status": err.status(), "message": err.message()}
print(json.dumps(out))
