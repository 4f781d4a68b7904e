"""Hostile model files, generated (nothing shipped): each maker writes `<folder>/model.onnx`.

The outside secret is float32 [1000, 1001, ...]: a model `y = x + W` whose W points outside would
answer with those values, so a read outside shows in any prediction as well as in the audit.
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SECRET = np.arange(1000, 1006, dtype=np.float32)
OPSET = [helper.make_opsetid("", 21)]


def write_secret(outside):
    os.makedirs(outside, exist_ok=True)
    path = os.path.join(outside, "secret.bin")
    with open(path, "wb") as f:
        f.write(SECRET.tobytes())
    return path


def _io():
    return ([helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 6])])


def _model(nodes, initializers=(), functions=(), opsets=OPSET):
    inputs, outputs = _io()
    graph = helper.make_graph(nodes, "crafted", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=opsets, functions=list(functions))
    model.ir_version = 10
    return model


def _save(folder, model):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def _external(tensor, location, offset=None, length=None):
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=location)
    if offset is not None:
        tensor.external_data.add(key="offset", value=str(offset))
    if length is not None:
        tensor.external_data.add(key="length", value=str(length))
    return tensor


def add_model(folder, location=None):
    """y = x + W, W (6 floats) in an external file at `location` (or inline zeros)."""
    weight = numpy_helper.from_array(np.zeros(6, np.float32), "W")
    if location is not None:
        _external(weight, location)
    return _save(folder, _model([helper.make_node("Add", ["x", "W"], ["y"])], [weight]))


def external(kind, folder, outside):
    """External data that escapes the folder in one of several ways."""
    secret = write_secret(outside)
    os.makedirs(folder, exist_ok=True)
    if kind == "parent":
        rel = os.path.relpath(secret, folder)
        return add_model(folder, rel)
    if kind == "absolute":
        return add_model(folder, secret)
    if kind == "symlink":
        os.symlink(secret, os.path.join(folder, "w.bin"))
        return add_model(folder, "w.bin")
    if kind == "symlinked_dir":
        os.symlink(outside, os.path.join(folder, "data"))
        return add_model(folder, "data/secret.bin")
    if kind == "fifo":
        os.mkfifo(os.path.join(folder, "w.bin"))
        return add_model(folder, "w.bin")
    if kind == "dev":
        return add_model(folder, "/dev/zero")
    if kind == "beyond":
        with open(os.path.join(folder, "w.bin"), "wb") as f:
            f.write(b"\0" * 8)
        return add_model(folder, "w.bin")
    if kind == "in_function":
        value = _external(numpy_helper.from_array(np.zeros(6, np.float32), "hidden"), os.path.relpath(secret, folder))
        body = helper.make_function("crafted", "Hidden", ["a"], ["b"],
                                    [helper.make_node("Constant", [], ["c"], value=value),
                                     helper.make_node("Add", ["a", "c"], ["b"])], OPSET)
        return _save(folder, _model([helper.make_node("Hidden", ["x"], ["y"], domain="crafted")], functions=[body],
                                    opsets=OPSET + [helper.make_opsetid("crafted", 1)]))
    if kind == "in_subgraph":
        value = _external(numpy_helper.from_array(np.zeros(6, np.float32), "hidden"), secret)
        branch = helper.make_graph([helper.make_node("Constant", [], ["c"], value=value)], "b", [],
                                   [helper.make_tensor_value_info("c", TensorProto.FLOAT, [6])])
        cond = numpy_helper.from_array(np.array(True), "cond")
        nodes = [helper.make_node("If", ["cond"], ["w"], then_branch=branch, else_branch=branch),
                 helper.make_node("Add", ["x", "w"], ["y"])]
        return _save(folder, _model(nodes, [cond]))
    raise ValueError(kind)


def _call(name):
    return helper.make_node(name, ["x"], ["y"], domain="crafted")


def _function(name, body_nodes):
    return helper.make_function("crafted", name, ["x"], ["y"], body_nodes, OPSET + [helper.make_opsetid("crafted", 1)])


def recursion(kind, folder, n=20_000):
    """Local functions that recurse, chain very deep, or fan out exponentially."""
    opsets = OPSET + [helper.make_opsetid("crafted", 1)]
    if kind == "self":
        functions = [_function("F", [_call("F")])]
    elif kind == "mutual":
        functions = [_function("F", [_call("G")]), _function("G", [_call("F")])]
    elif kind == "chain":
        functions = [_function(f"F{k}", [_call(f"F{k + 1}")]) for k in range(n)]
        functions.append(_function(f"F{n}", [helper.make_node("Relu", ["x"], ["y"])]))
    elif kind == "fanout":  # F_k calls F_{k+1} twice: 2**40 nodes once inlined
        functions = []
        for k in range(40):
            functions.append(_function(f"F{k}", [helper.make_node(f"F{k + 1}", ["x"], ["h"], domain="crafted"),
                                                 helper.make_node(f"F{k + 1}", ["h"], ["y"], domain="crafted")]))
        functions.append(_function("F40", [helper.make_node("Relu", ["x"], ["y"])]))
    else:
        raise ValueError(kind)
    first = functions[0].name
    return _save(folder, _model([_call(first)], functions=functions, opsets=opsets))


def nested_if(folder, depth):
    """y = x + 1 computed inside `depth` nested If bodies (all conditions true)."""
    one = numpy_helper.from_array(np.ones(6, np.float32), "one")
    body = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"])], "leaf", [],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    for level in range(depth):
        out = f"y{level}"
        node = helper.make_node("If", ["cond"], [out], then_branch=body, else_branch=other)
        body = helper.make_graph([node, helper.make_node("Identity", [out], ["y"])], f"level{level}", [],
                                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    cond = numpy_helper.from_array(np.array(True), "cond")
    return _save(folder, _model(list(body.node), [cond, one]))


def garbage(kind, folder):
    """Files that are not ONNX models at all."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    if kind == "empty":
        data = b""
    elif kind == "truncated":
        data = onnx.shape_inference.infer_shapes(_model([helper.make_node("Relu", ["x"], ["y"])])).SerializeToString()
        data = data[: len(data) // 2]
    elif kind == "random":
        data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    elif kind == "json":
        data = json.dumps({"class_name": "Functional", "config": {}}).encode()
    elif kind == "npy":
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.ones(3))
        data = buffer.getvalue()
    elif kind == "not_a_model":  # parses as a ModelProto, but holds no IR version and no graph
        data = onnx.ModelProto(doc_string="not a model", producer_name="crafted").SerializeToString()
    else:
        raise ValueError(kind)
    with open(path, "wb") as f:
        f.write(data)
    return path


def onnxgraph_model(folder, edit=None):
    """A small onnxgraph model saved by model.save; `edit(proto, config)` doctors the file."""
    import onnxgraph as og
    from onnxgraph import layers
    from onnxgraph.models._export import CONFIG_KEY

    inputs = og.Input((6,), name="x")
    model = og.Model(inputs, layers.Dense(6, name="y")(inputs))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    model.save(path)
    if edit is not None:
        proto = onnx.load(path)
        entry = next(p for p in proto.metadata_props if p.key == CONFIG_KEY)
        config = json.loads(entry.value)
        result = edit(proto, config)
        entry.value = result if isinstance(result, str) else json.dumps(config)
        with open(path, "wb") as f:
            f.write(proto.SerializeToString())
    return model, path


def config_bomb(kind, folder):
    """Configs that make the loader allocate or recurse far beyond what the file holds."""
    def edit(proto, config):
        dense = config["config"]["layers"][1]["config"]
        if kind == "units":
            dense["units"] = 60_000_000
        elif kind == "deep_json":
            return json.dumps(config)[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}"
        elif kind == "doctored_graph":  # the stored graph multiplies by the bias the config adds
            for node in proto.graph.node:
                if node.op_type == "Add":
                    node.op_type = "Mul"
        return None

    return onnxgraph_model(folder, edit)[1]


def constant_bomb(folder, n=30_000):
    """A ~200-byte file whose ConstantOfShape([n, n]) makes n*n floats (3.6 GB at 30000) when folded."""
    shape = numpy_helper.from_array(np.array([n, n], np.int64), "shape")
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"], value=numpy_helper.from_array(np.ones(1, np.float32))),
             helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
             helper.make_node("Add", ["x", "s"], ["y"])]
    return _save(folder, _model(nodes, [shape]))
