"""The escape hatch: onnxscript @script() functions and ops called on symbolic tensors."""

import sys

import numpy as np
import onnx
import pytest

onnxscript = pytest.importorskip("onnxscript")

import onnxgraph as og  # noqa: E402
from onnxgraph import layers  # noqa: E402
from onnxgraph.backend import serialize  # noqa: E402
from onnxgraph.backend.graph import collect  # noqa: E402
from onnxgraph.layers._input_layer import placeholder  # noqa: E402
from onnxscript import opset15, script  # noqa: E402
from onnxscript import opset21 as op  # noqa: E402
from onnxscript.values import Opset  # noqa: E402
from tests.conftest import check_onnx, rand  # noqa: E402

custom = Opset("tests.custom", 1)


@script()
def thresholded_relu(X, alpha: float = 0.5):
    zero = op.CastLike(0, X)
    return op.Where(X > alpha, X, zero)


@script(custom)
def softsign_twice(X):
    return op.Softsign(op.Softsign(X))


@script(custom)
def stats(X, power: int = 1, eps: float = 1e-3):
    y = softsign_twice(X)
    axes = op.Constant(value_ints=[1])
    mean = op.ReduceMean(y, axes, keepdims=1)
    peak = op.ReduceMax(y, axes, keepdims=0)
    return op.Pow(op.Sub(y, mean), op.CastLike(power, X)), op.Add(peak, op.CastLike(eps, X))


@script()
def scaled_tanh(X, scale: float = 2.0):
    return op.Mul(op.Tanh(X), op.CastLike(scale, X))


def _softsign(x):
    return x / (1 + np.abs(x))


def _thresholded(x, alpha):
    return np.where(x > alpha, x, 0).astype(x.dtype)


def test_function_on_a_layer_output_is_a_local_function(tmp_path):
    inputs = og.Input((4,))
    dense = layers.Dense(4)
    model = og.Model(inputs, thresholded_relu(dense(inputs), alpha=0.1))
    assert [type(layer).__name__ for layer in model.layers][-1] == "OnnxFunctionLayer"
    proto = check_onnx(model)
    assert [f.name for f in proto.functions] == ["thresholded_relu"]
    assert {(o.domain, o.version) for o in proto.opset_import} == {("", 21), ("this", 1)}
    call = proto.graph.node[-1]
    assert (call.op_type, call.domain) == ("thresholded_relu", "this")
    assert [(a.name, a.f) for a in call.attribute] == [("alpha", pytest.approx(0.1))]
    x = rand(5, 4)
    kernel, bias = dense.get_weights()
    want = _thresholded(x @ kernel + bias, 0.1)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-6)
    # Loading needs no Python code: the function travels as ONNX data in the config.
    model.save(tmp_path / "f.onnx")
    np.testing.assert_allclose(og.load_model(tmp_path / "f.onnx").predict(x, verbose=0), want, rtol=1e-6)


def test_numpy_inputs_run_eagerly():
    x = rand(3, 4)
    np.testing.assert_allclose(thresholded_relu(x, alpha=0.2), _thresholded(x, 0.2), rtol=1e-6)
    np.testing.assert_allclose(softsign_twice(x), _softsign(_softsign(x)), rtol=1e-6)


class Gated(layers.Layer):
    def call(self, inputs):
        return thresholded_relu(inputs) + op.Relu(inputs)


def test_functions_and_ops_inside_a_layer():
    inputs = og.Input((4,))
    model = og.Model(inputs, Gated()(inputs))
    proto = check_onnx(model)
    assert [n.name for n in proto.graph.node] == ["gated/thresholded_relu", "gated/Relu", "gated/Add"]
    with layers.inline_onnxscript():
        inlined = og.Model(inputs, Gated()(inputs))
    inlined_proto = check_onnx(inlined)
    assert not inlined_proto.functions and "Where" in {n.op_type for n in inlined_proto.graph.node}
    x = rand(6, 4)
    want = _thresholded(x, 0.5) + np.maximum(x, 0)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-6)
    np.testing.assert_allclose(inlined.predict(x, verbose=0), want, rtol=1e-6)
    np.testing.assert_allclose(Gated()(x), want, rtol=1e-6)  # an eager layer call compiles the same graph


def test_nested_functions_multiple_outputs_and_attributes(tmp_path):
    inputs = og.Input((3, 5))
    centered, peak = stats(inputs, power=3, eps=0.5)
    model = og.Model(inputs, [centered, peak])
    proto = check_onnx(model)
    assert sorted(f.name for f in proto.functions) == ["softsign_twice", "stats"]
    x = rand(2, 3, 5)
    y = _softsign(_softsign(x))
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got[0], (y - y.mean(axis=1, keepdims=True)) ** 3, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got[1], y.max(axis=1) + 0.5, rtol=1e-5)
    model.save(tmp_path / "nested.onnx")
    np.testing.assert_allclose(og.load_model(tmp_path / "nested.onnx").predict(x, verbose=0)[1], got[1])


def test_model_with_a_function_trains_with_fit():
    if not hasattr(og.Model, "fit"):
        pytest.skip("training is not available in this build")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 4)).astype("float32")
    y = np.tanh(x.sum(axis=1, keepdims=True))
    inputs = og.Input((4,))
    model = og.Model(inputs, layers.Dense(1)(scaled_tanh(layers.Dense(8)(inputs), scale=1.5)))
    model.compile(optimizer=og.optimizers.SGD(learning_rate=0.05), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before * 0.5
    assert [f.name for f in model.to_onnx().functions] == ["scaled_tanh"]  # the inference file keeps it


def test_old_default_opset_is_a_clear_error():
    @script()
    def old_style(X):
        return opset15.Relu(X)

    with pytest.raises(ValueError, match="opset 15.*opset21 as op"):
        old_style(og.Input((3,)))


def test_corrupt_function_data_in_a_config_is_refused():
    inputs = og.Input((4,))
    config = og.Model(inputs, thresholded_relu(inputs)).get_config()
    config["layers"][1]["config"]["functions"] = ["not base64!"]
    with pytest.raises(ValueError, match="not a valid FunctionProto"):
        og.Model.from_config(config)


def test_serializer_writes_node_functions_and_extra_opsets():
    x = placeholder((None, 3), "float32", "x")
    y = thresholded_relu(x)
    graph = collect([x], [y], ["x"], ["y"])
    proto, _ = serialize.to_model_proto(graph, name="g", extra_opsets={"com.example": 2})
    onnx.checker.check_model(proto, full_check=True)
    assert [f.name for f in proto.functions] == ["thresholded_relu"]
    assert {(o.domain, o.version) for o in proto.opset_import} == {("", 21), ("this", 1), ("com.example", 2)}
    clash = onnx.FunctionProto()
    clash.CopyFrom(proto.functions[0])
    del clash.node[:]
    with pytest.raises(ValueError, match="Two different ONNX functions are named 'thresholded_relu'"):
        serialize.to_model_proto(collect([x], [y], ["x"], ["y"]), name="g", functions=[clash])


def test_layer_grouping_keeps_script_functions():
    inputs = og.Input((4,))
    model = og.Model(inputs, Gated()(layers.Dense(4)(inputs)))
    try:
        grouped = model.to_onnx(layer_functions=True)
    except TypeError:
        pytest.skip("layer grouping is not available in this build")
    onnx.checker.check_model(grouped, full_check=True)
    from onnxgraph.runtime import make_session

    x = rand(3, 4)
    got = make_session(grouped.SerializeToString()).run(None, {"input_layer": x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-6)


def test_onnxscript_imported_after_the_input_was_made(tmp_path):
    # A fresh interpreter: onnxgraph first, an Input, and only then `import onnxscript`.
    import subprocess

    script_file = tmp_path / "late_import.py"
    script_file.write_text(
        "import numpy as np\n"
        "import onnxgraph as og\n"
        "x = og.Input((2,))\n"
        "from onnxscript import script, opset21 as op\n"
        "@script()\n"
        "def f(X):\n"
        "    return op.Relu(X)\n"
        "print(og.Model(x, f(x)).predict(np.array([[1.0, -1.0]], 'float32'), verbose=0).tolist())\n"
        "print(f(np.array([2.0, -2.0], np.float32)).tolist())\n"
    )
    result = subprocess.run([sys.executable, str(script_file)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["[[1.0,", "0.0]]", "[2.0,", "0.0]"]
