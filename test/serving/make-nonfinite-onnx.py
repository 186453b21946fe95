"""Writes a contract-shaped ONNX model (input "features" [n, width], output "probabilities" [n, 2]) whose output
overflows to infinity for any non-zero input, and is 0 for the all-zero probe row: features @ 1e38 · 1e38.
It stands in for a model that misbehaves far outside its training range, to check that the server answers 400
instead of a 200 with non-finite probabilities.

    python make-nonfinite-onnx.py <width> <out.onnx>
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

width, out = int(sys.argv[1]), sys.argv[2]
weights = numpy_helper.from_array(np.full((width, 2), 1e38, dtype=np.float32), "weights")
scale = numpy_helper.from_array(np.array(1e38, dtype=np.float32), "scale")
graph = helper.make_graph(
    [helper.make_node("MatMul", ["features", "weights"], ["big"]), helper.make_node("Mul", ["big", "scale"], ["probabilities"])],
    "nonfinite",
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, width])],
    [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
    initializer=[weights, scale],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.save(model, out)
