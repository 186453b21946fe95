"""Writes an ONNX model that loads but breaks the trainer contract in one way, for the checks that refuse it:

    python make-contract-breaking-onnx.py <mode> <features> <classes> <out.onnx>

modes (each a linear map of the features, all weights 0.01, so every row gives the same kind of output):
  logits       "probabilities" [n, classes] without a softmax: values outside [0, 1], rows not summing to 1
  nan          "probabilities" [n, classes] of NaN for any row
  extra-class  "probabilities" [n, classes + 1] with a softmax: one column more than the transform has classes
  one-column   "probabilities" [n, 1]: a sigmoid of P(positive) only
  fixed-batch  "probabilities" [1, classes] with a softmax, its input's batch axis fixed at 1
  wide-value   "prediction" [n, 3]: three values per row for a regression target
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

mode, features, classes, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
width = {"extra-class": classes + 1, "one-column": 1, "wide-value": 3}.get(mode, classes)
name = "prediction" if mode == "wide-value" else "probabilities"
batch = 1 if mode == "fixed-batch" else None
initializers = [numpy_helper.from_array(np.full((features, width), 0.01, dtype=np.float32), "weights")]
nodes = [helper.make_node("MatMul", ["features", "weights"], ["linear"])]
if mode == "nan":
    initializers.append(numpy_helper.from_array(np.array(np.nan, dtype=np.float32), "nan"))
    nodes.append(helper.make_node("Mul", ["linear", "nan"], [name]))
elif mode == "one-column":
    nodes.append(helper.make_node("Sigmoid", ["linear"], [name]))
elif mode in ("logits", "wide-value"):
    initializers.append(numpy_helper.from_array(np.array([3.0] + [-2.0] * (width - 1), dtype=np.float32), "bias"))
    nodes.append(helper.make_node("Add", ["linear", "bias"], [name]))
else:
    nodes.append(helper.make_node("Softmax", ["linear"], [name], axis=1))
graph = helper.make_graph(
    nodes,
    mode,
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, features])],
    [helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, width])],
    initializers,
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out)
