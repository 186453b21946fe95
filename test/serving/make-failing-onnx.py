"""Writes a contract-shaped ONNX model (input "features" [n, width], output "probabilities" [n, 2]) that fails at run
time for every row whose first feature is above `threshold`: it gathers from a 2-element table at index
1000 · (features[:, 0] > threshold), which onnxruntime refuses as out of bounds. Other rows get [0.5, 0.5]. The
all-zero probe row passes (for threshold >= 0), so the model loads and fails only under live traffic. It stands in
for a model with a run-time fault on part of its inputs, to check that the server answers 500 and counts an error.

    python make-failing-onnx.py <width> <threshold> <out.onnx>
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

width, threshold, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
constants = [
    numpy_helper.from_array(np.zeros((width, 2), dtype=np.float32), "weights"),
    numpy_helper.from_array(np.array([0], dtype=np.int64), "start"),
    numpy_helper.from_array(np.array([1], dtype=np.int64), "end"),
    numpy_helper.from_array(np.array([1], dtype=np.int64), "axis"),
    numpy_helper.from_array(np.array(threshold, dtype=np.float32), "threshold"),
    numpy_helper.from_array(np.array(1000, dtype=np.int64), "far"),
    numpy_helper.from_array(np.zeros(2, dtype=np.float32), "table"),
]
nodes = [
    helper.make_node("Slice", ["features", "start", "end", "axis"], ["first"]),
    helper.make_node("Greater", ["first", "threshold"], ["above"]),
    helper.make_node("Cast", ["above"], ["above_int"], to=TensorProto.INT64),
    helper.make_node("Mul", ["above_int", "far"], ["index"]),
    helper.make_node("Gather", ["table", "index"], ["zero"], axis=0),
    helper.make_node("MatMul", ["features", "weights"], ["logits"]),
    helper.make_node("Softmax", ["logits"], ["even"], axis=1),
    helper.make_node("Add", ["even", "zero"], ["probabilities"]),
]
graph = helper.make_graph(
    nodes,
    "fails-above-threshold",
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, width])],
    [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
    initializer=constants,
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out)
