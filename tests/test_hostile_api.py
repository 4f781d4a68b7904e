"""A few hundred malformed calls on the Python API: each must be refused with a ValueError/TypeError
whose message names the argument (never a bare KeyError/IndexError/RecursionError, never accepted).

Layer constructors, optimizers, fit/evaluate/predict arguments, predict data, set_weights, Model
construction and `Model.from_onnx` graphs. Run with -s to see the tally.
"""

import math

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnxgraph as og
from onnxgraph import layers as L
from onnxgraph import optimizers as O

NAN, INF = float("nan"), float("inf")
BAD_COUNTS = [True, False, 0, -1, 2.5, "3", NAN, None, [2], {"n": 1}]
BAD_TUPLES = [True, 0, -1, 2.5, "33", (2, 2, 2, 2), (0, 1), (2.0, 2.0), [True, 2], None]
BAD_RATES = [-0.1, 1.0, 1.5, NAN, INF, True, "0.5", None]
BAD_REALS = [NAN, INF, -1.0, True, "1e-3", None, [0.1]]

# (factory, argument under test, bad values): other arguments valid.
LAYER_CASES = [
    (lambda v: L.Dense(v), "units", BAD_COUNTS),
    (lambda v: L.Conv2D(v, 3), "filters", BAD_COUNTS),
    (lambda v: L.Conv2D(4, v), "kernel_size", BAD_TUPLES),
    (lambda v: L.Conv2D(4, 3, strides=v), "strides", BAD_TUPLES),
    (lambda v: L.Conv2D(4, 3, dilation_rate=v), "dilation_rate", BAD_TUPLES),
    (lambda v: L.Conv2D(4, 3, groups=v), "groups", [True, 0, -2, 2.0, 3]),
    (lambda v: L.Conv1D(v, 3), "filters", BAD_COUNTS),
    (lambda v: L.Conv1D(4, v), "kernel_size", BAD_TUPLES[:5] + [(2, 2)]),
    (lambda v: L.Conv3D(4, v), "kernel_size", BAD_TUPLES),
    (lambda v: L.Conv2DTranspose(v, 3), "filters", BAD_COUNTS),
    (lambda v: L.Conv2DTranspose(4, v), "kernel_size", BAD_TUPLES),
    (lambda v: L.SeparableConv2D(v, 3), "filters", BAD_COUNTS),
    (lambda v: L.SeparableConv2D(4, 3, depth_multiplier=v), "depth_multiplier", BAD_COUNTS),
    (lambda v: L.DepthwiseConv2D(v), "kernel_size", BAD_TUPLES),
    (lambda v: L.MaxPooling2D(v), "pool_size", BAD_TUPLES),
    (lambda v: L.MaxPooling2D(2, strides=v), "strides", [t for t in BAD_TUPLES if t is not None]),
    (lambda v: L.AveragePooling1D(v), "pool_size", BAD_TUPLES[:5]),
    (lambda v: L.MaxPooling3D(v), "pool_size", BAD_TUPLES),
    (lambda v: L.Embedding(v, 4), "input_dim", BAD_COUNTS),
    (lambda v: L.Embedding(10, v), "output_dim", BAD_COUNTS),
    (lambda v: L.LSTM(v), "units", BAD_COUNTS),
    (lambda v: L.GRU(v), "units", BAD_COUNTS),
    (lambda v: L.SimpleRNN(v), "units", BAD_COUNTS),
    (lambda v: L.MultiHeadAttention(v, 4), "num_heads", BAD_COUNTS),
    (lambda v: L.MultiHeadAttention(2, v), "key_dim", BAD_COUNTS),
    (lambda v: L.MultiHeadAttention(2, 4, dropout=v), "dropout", BAD_RATES),
    (lambda v: L.Dropout(v), "rate", BAD_RATES),
    (lambda v: L.UpSampling1D(v), "size", BAD_COUNTS),
    (lambda v: L.UpSampling2D(v), "size", BAD_TUPLES),
    (lambda v: L.RepeatVector(v), "n", BAD_COUNTS),
    (lambda v: L.Reshape(v), "target_shape", [True, "34", (2, -2), (2.5, 2), ({},), None]),
    (lambda v: L.Permute(v), "dims", [(1, 1), (0, 1), (2, 3), "12", 1.5, None]),
    (lambda v: L.GroupNormalization(v), "groups", [True, 0, -2, 2.5, "2", None]),
    (lambda v: L.ZeroPadding2D(v), "padding", [-1, (1, -1), 2.5, "1", True, None]),
    (lambda v: L.Cropping2D(v), "cropping", [-1, (1, -1), 2.5, "1", True, None]),
]

OPTIMIZERS = [O.SGD, O.Adam, O.AdamW, O.RMSprop, O.Adagrad]
OPTIMIZER_CASES = [(lambda v, o=o: o(learning_rate=v), "learning_rate", [NAN, INF, -INF, -0.1, True, "fast", None])
                   for o in OPTIMIZERS] + [
    (lambda v: O.Adam(beta_1=v), "beta_1", BAD_REALS + [1.0, 1.5]),
    (lambda v: O.Adam(beta_2=v), "beta_2", BAD_REALS + [1.0]),
    (lambda v: O.Adam(epsilon=v), "epsilon", BAD_REALS),
    (lambda v: O.RMSprop(rho=v), "rho", BAD_REALS + [1.0]),
    (lambda v: O.RMSprop(momentum=v), "momentum", BAD_REALS + [1.5]),
    (lambda v: O.SGD(momentum=v), "momentum", BAD_REALS + [1.5]),
    (lambda v: O.Adagrad(initial_accumulator_value=v), "initial_accumulator_value", BAD_REALS),
    (lambda v: O.SGD(clipnorm=v), "clipnorm", [NAN, -1.0, True, "1"]),
    (lambda v: O.SGD(clipvalue=v), "clipvalue", [NAN, -1.0, True, "1"]),
    (lambda v: O.Adam(weight_decay=v), "weight_decay", [NAN, INF, -0.1, True, "0.1"]),
]


def _mlp():
    x = og.Input(shape=(4,), name="features")
    model = og.Model(x, L.Dense(2, name="head")(L.Dense(3, name="hidden")(x)), name="mlp")
    model.compile(optimizer="sgd", loss="mse")
    return model


def _embedding_model():
    ids = og.Input(shape=(3,), dtype="int32", name="tokens")
    return og.Model(ids, L.Embedding(6, 2, name="vocab")(ids), name="emb")


X, Y = np.zeros((8, 4), np.float32), np.zeros((8, 2), np.float32)
FIT_CASES = [(lambda v, k=k: _MLP.fit(X, Y, verbose=0, **{k: v}), k, values) for k, values in [
    ("batch_size", BAD_COUNTS[:7]), ("epochs", [-1, True, 2.5, "3", NAN, None]),
    ("validation_split", [-0.1, 1.0, NAN, True, "0.2"]), ("verbose", [3, -1, "loud", 1.5, True]),
    ("initial_epoch", [-1, 1.5, True]), ("steps_per_epoch", [0, -3, 1.5, True]),
    ("validation_freq", [0, -1, True, 1.5, None]), ("validation_batch_size", [0, -1, True])]] + [
    (lambda v: _MLP.evaluate(X, Y, verbose=0, batch_size=v), "batch_size", BAD_COUNTS[:7]),
    (lambda v: _MLP.evaluate(X, Y, verbose=0, steps=v), "steps", [0, -1, True, 2.5]),
    (lambda v: _MLP.predict(X, verbose=0, batch_size=v), "batch_size", BAD_COUNTS[:7]),
    (lambda v: _MLP.predict(X, verbose=0, steps=v), "steps", [0, -1, True, 2.5]),
    (lambda v: _MLP.predict(X, verbose=v), "verbose", [5, "x", True]),
]
_MLP = _mlp()
_EMB = _embedding_model()

# Data given to predict / __call__: the message must name the model input.
DATA_CASES = [(lambda v: _MLP.predict(v, verbose=0), "features", [
    np.zeros((2, 5), np.float32), np.zeros((2,), np.float32), np.zeros((2, 4, 3), np.float32),
    np.array([["a"] * 4]), np.array([[None] * 4], dtype=object), [[1, 2], [3]], {"nope": X},
    np.zeros((2, 4), np.complex64), "text", None, {"features": "x"}, [[1.0] * 4, "row"]])] + [(lambda v: _MLP(v), "features", [np.zeros((1, 3)), "x", None, [[[1]]]])] + [
    (lambda v: _EMB.predict(v, verbose=0), "tokens", [
        np.array([[0, 1, -1]]), np.array([[6, 0, 0]]), np.array([[2**31 - 1, 0, 0]]),
        np.array([[2**40, 0, 0]]), np.array([[2**64 - 1, 0, 0]], np.uint64), np.array([[0.5, 1, 2]]),
        np.zeros((1, 4), np.int32), np.array([[1, 2, 3]], dtype=object)])]


def _fit(kwargs):
    _MLP.fit(verbose=0, **kwargs)


FIT_DATA_CASES = [(_fit, name, [kwargs]) for name, kwargs in [
    ("head", dict(x=X, y=Y[:5])), ("`y`", dict(x=X, y=np.zeros((8, 3)))), ("nope", dict(x=X, y={"nope": Y})),
    ("features", dict(x={"nope": X}, y=Y)), ("head", dict(x=X, y=None)), ("features", dict(x=None, y=Y)),
    ("sample_weight", dict(x=X, y=Y, sample_weight=np.ones(3))),
    ("sample_weight", dict(x=X, y=Y, sample_weight=np.ones((8, 5)))),
    ("class_weight", dict(x=X, y=Y, class_weight={"a": 1})), ("class_weight", dict(x=X, y=Y, class_weight=[1, 2])),
    ("class_weight", dict(x=X, y=Y, class_weight={0: float("nan")})), ("validation_data", dict(x=X, y=Y, validation_data=(X,))),
    ("validation_data", dict(x=X, y=Y, validation_data=(X, Y, None, None))),
    ("features", dict(x=X, y=Y, validation_data=(X[:, :3], Y))), ("features", dict(x=X, y=Y, validation_data="v")),
    ("features", dict(x=[[1, 2], [3]], y=Y)), ("`x`", dict(x=X[:0], y=Y[:0])), ("callbacks", dict(x=X, y=Y, callbacks=[3])),
    ("head", dict(x=iter([(X,)]), y=None)), ("features", dict(x=np.zeros((8, 4, 1)), y=Y)),
    ("features", dict(x=iter([(X[:, :2], Y)]), y=None)), ("`y`", dict(x=iter([(X, Y[:, :1])]), y=None))]]


def _set_weights_cases():
    model = _mlp()
    weights = model.get_weights()
    return [(lambda v: model.set_weights(v), "weights", [weights[:-1], weights + [weights[0]]]),
            (lambda v: model.set_weights(v), "hidden/kernel", [[np.zeros((5, 3))] + weights[1:]]),
            (lambda v: model.get_layer("head").set_weights(v), "head", [[np.zeros((3, 2))], [np.zeros((2, 3)), np.zeros(2)]])]


def _misc_cases():
    model = _mlp()
    deep = 0
    for _ in range(5000):
        deep = [deep]
    return [(lambda v: model.get_layer(index=v), "index", ["1", 1.5, None.__class__]),
            (lambda v: model.to_onnx(target_opset=v), "target_opset", ["x", 5, 99, -1, 2.5, True]),
            (lambda v: og.Input(shape=(3,), batch_size=v), "batch_size", [-1, 0, 2.5, True, "4"]),
            (lambda v: L.Dense(2, name=v), "name", [5, "", b"x", ["a"]]),
            (lambda v: L.Dense(2)(v), "dense", ["abc", None, {"a": 1}, deep]),
            (lambda v: model(v), "features", [deep, "abc"]),
            (lambda v: model.set_weights(v), "set_weights", [None, "ab", 3, {"a": 1}]),
            (lambda v: _compile_loss_weights(v), "loss_weights", [[1, 2], float("nan"), -1.0, "2", True])]


def _compile_loss_weights(value):
    """As Keras, `loss_weights` is matched to the outputs when fit() first builds the losses."""
    model = _mlp()
    model.compile(optimizer="sgd", loss="mse", loss_weights=value)
    model.fit(X, Y, verbose=0)


def _model_cases():
    def duplicate(v):
        x = og.Input(shape=(4,))
        return og.Model(x, L.Dense(2, name=v)(L.Dense(3, name=v)(x)))

    return [(duplicate, "dense_twice", ["dense_twice"]),
            (lambda v: og.Input(shape=v), "shape", [(-1,), ("a",), (2.5,), (True,), "abc"]),
            (lambda v: og.Model(v, None), "outputs", [og.Input(shape=(2,))]),
            (lambda v: _mlp().compile(optimizer=v, loss="mse"), "optimizer", ["adamm", 3, None.__class__]),
            (_compile_and_fit, "loss", ["mse2", 7, {"nope": "mse"}])]


def _compile_and_fit(loss):
    model = _mlp()
    model.compile(optimizer="sgd", loss=loss)  # like Keras 3, losses resolve at the first fit
    model.fit(X, Y, verbose=0)


def _graph(nodes, outputs=("y",), inputs=("x",), initializers=()):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 2]) for n in inputs],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 2]) for n in outputs],
                              list(initializers))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    return proto


def _from_onnx_cases():
    relu = helper.make_node("Relu", ["x"], ["y"], name="r1")
    twice = helper.make_node("Neg", ["x"], ["y"], name="r2")
    weight = numpy_helper.from_array(np.ones(2, np.float32), "w")
    return [(lambda v: og.Model.from_onnx(v), "'y'", [_graph([relu, twice])]),
            (lambda v: og.Model.from_onnx(v), "'x'", [_graph([helper.make_node("Relu", ["x"], ["x"])], outputs=("x",))]),
            (lambda v: og.Model.from_onnx(v), "'w'", [_graph([helper.make_node("Relu", ["x"], ["w"]),
                                                             helper.make_node("Add", ["w", "x"], ["y"])],
                                                            initializers=[weight])]),
            (lambda v: og.Model.from_onnx(v), "'z'", [_graph([helper.make_node("Add", ["x", "z"], ["y"])])]),
            (lambda v: og.Model.from_onnx(v), "'t'", [_graph([helper.make_node("Relu", ["t"], ["y"]),
                                                             helper.make_node("Relu", ["x"], ["t"])])]),
            (lambda v: og.Model.from_onnx(v), "'q'", [_graph([relu], outputs=("q",))])]


def _all_cases():
    groups = {"layers": LAYER_CASES, "optimizers": OPTIMIZER_CASES, "fit/evaluate/predict arguments": FIT_CASES,
              "fit data": FIT_DATA_CASES,
              "predict data": DATA_CASES, "set_weights": _set_weights_cases(), "models": _model_cases(),
              "from_onnx": _from_onnx_cases(), "misc API": _misc_cases()}
    for group, cases in groups.items():
        for factory, argument, values in cases:
            for value in values:
                yield group, factory, argument, value


TALLY = {"cases": 0, "refused clearly": 0}


@pytest.mark.parametrize("group, factory, argument, value",
                         list(_all_cases()), ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None)
def test_hostile_call_is_refused_clearly(group, factory, argument, value):
    TALLY["cases"] += 1
    try:
        factory(value)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert argument.strip("'") in message, f"{group}: message does not name `{argument}`: {message}"
        assert "Traceback" not in message and "[ONNXRuntimeError]" not in message
        TALLY["refused clearly"] += 1
        return
    except Exception as exc:  # noqa: BLE001 - what this test hunts
        pytest.fail(f"{group}: `{argument}`={value!r} raised {type(exc).__name__}: {exc}")
    pytest.fail(f"{group}: `{argument}`={value!r} was accepted silently")


def test_tally_is_large():
    count = sum(1 for _ in _all_cases())
    assert count >= 300
    print(f"\nhostile API cases: {count}; run so far: {TALLY['cases']}, refused clearly: {TALLY['refused clearly']}")
    assert not math.isnan(count)
