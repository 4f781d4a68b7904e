"""The models the installed onnx wheel ships as backend test data, and the checks each goes through.

Collections: light/ (reduced-weight model-zoo classics, opset 9), pytorch-converted/ and
pytorch-operator/ (torch exports at opset 6-12), simple/ (hand-made, opset 9-12), plus node/
where the wheel ships it (each a whole single-node model). Every model must pass every step of
`STEPS` or be refused at import with the reason in `REFUSED`.
"""

from __future__ import annotations

import glob
import json
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
COLLECTIONS = ("light", "pytorch-converted", "pytorch-operator", "simple", "node")

# Not applicable to onnxgraph models, by reason: (name prefix, words the import error must contain).
REFUSED = {
    "test_sequence_model": "sequence",
    "test_strnorm_model": "string",
    "test_gradient_of_add": "training ops",
}


class ZooCase:
    """One model: where it is, its test inputs and the outputs stored beside it."""

    def __init__(self, collection: str, name: str, path: str, data_dir: str | None):
        self.collection, self.name, self.path, self.data_dir = collection, name, path, data_dir

    @property
    def id(self) -> str:
        return f"{self.collection}/{self.name}"

    @property
    def refusal(self) -> str | None:
        return next((why for prefix, why in REFUSED.items() if self.name.startswith(prefix)), None)

    def tolerances(self) -> tuple[float, float]:
        meta = os.path.join(os.path.dirname(self.path), "..", "real", f"test_{self.name[len('light_'):]}",
                            "data.json")
        if self.collection == "light" and os.path.exists(meta):
            with open(meta) as f:
                info = json.load(f)
            return max(info.get("rtol", 1e-3), 1e-3), max(info.get("atol", 1e-7), 1e-5)
        return 1e-3, 1e-5

    def inputs_and_outputs(self) -> tuple[list, list]:
        if self.data_dir is not None:
            folder = os.path.join(self.data_dir, "test_data_set_0")
            inputs = [_tensor(p) for p in sorted(glob.glob(os.path.join(folder, "input_*.pb")))]
            outputs = [_tensor(p) for p in sorted(glob.glob(os.path.join(folder, "output_*.pb")))]
            return inputs, outputs
        # light/: the onnx backend runner feeds arange(n)/n in the declared shape (batch 1).
        proto = onnx.load(self.path)
        initializers = {i.name for i in proto.graph.initializer}
        inputs = []
        for value in proto.graph.input:
            if value.name in initializers:
                continue
            shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in value.type.tensor_type.shape.dim)
            n = int(np.prod(shape))
            inputs.append((np.arange(n).reshape(shape) / n).astype(np.float32))
        outputs = [_tensor(p) for p in sorted(glob.glob(self.path[:-len(".onnx")] + "_output_*.pb"))]
        return inputs, outputs


def _tensor(path: str) -> np.ndarray:
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def cases() -> list[ZooCase]:
    found = []
    for collection in COLLECTIONS:
        folder = os.path.join(DATA, collection)
        if collection == "light":
            for path in sorted(glob.glob(os.path.join(folder, "*.onnx"))):
                found.append(ZooCase(collection, os.path.basename(path)[:-len(".onnx")], path, None))
            continue
        for data_dir in sorted(glob.glob(os.path.join(folder, "*"))):
            path = os.path.join(data_dir, "model.onnx")
            if os.path.exists(path):
                found.append(ZooCase(collection, os.path.basename(data_dir), path, data_dir))
    return found


def feed(model, inputs: list):
    return inputs[0] if len(inputs) == 1 else list(inputs)


def as_list(result) -> list:
    if isinstance(result, dict):
        return list(result.values())
    return list(result) if isinstance(result, (list, tuple)) else [result]


def intermediate_value(model, source: onnx.ModelProto) -> str:
    """A float value computed from the inputs, in the middle of the graph (the output if none)."""
    outputs = {o.name for o in source.graph.output}
    produced = {name for node in source.graph.node for name in node.output}
    candidates = []
    for layer in model.layers:
        for node in layer._inbound_nodes[:1]:
            for tensor in node.output_tensors:
                if (tensor.name in produced and tensor.name not in outputs and tensor.dtype.startswith("float")
                        and tensor.name != model.inputs[0].name):
                    candidates.append(tensor.name)
    if not candidates:
        return source.graph.output[0].name
    return candidates[len(candidates) // 2]


def reference_value(path: str, value_name: str, inputs: list) -> np.ndarray:
    """`value_name` computed by onnxruntime on the ORIGINAL file (onnx's reference runtime if it can't)."""
    proto = onnx.load(path)
    if value_name not in {o.name for o in proto.graph.output}:
        del proto.graph.output[:]
        proto.graph.output.append(helper.make_empty_tensor_value_info(value_name))
    initializers = {i.name for i in proto.graph.initializer}
    names = [v.name for v in proto.graph.input if v.name not in initializers]
    feeds = dict(zip(names, inputs))
    try:
        from onnxgraph.runtime import import_onnxruntime

        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return session.run([value_name], feeds)[0]
    except Exception:  # noqa: BLE001 - legacy opsets onnxruntime no longer runs
        from onnx.reference import ReferenceEvaluator

        return ReferenceEvaluator(proto).run([value_name], feeds)[0]
