"""Every training-graph rewrite: same forward values as the inference graph, gradients that pass a check.

Each case is a model Input -> Scale -> one raw ONNX node (with trainable weights where the op
has them). The inference file keeps the plain op; the training graph gets the rewrite.
"""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph.backend.emit import constant, emit
from tests.trainer.gradcheck import Scale, engine_kinds, gradient_check


class RawOp(og.layers.Layer):
    """A layer that emits `fn(x, weights)`; weights are created from `shapes` (name -> shape)."""

    def __init__(self, fn, shapes=None, **kwargs):
        super().__init__(**kwargs)
        self.fn, self.shapes = fn, dict(shapes or {})

    def build(self, input_shape):
        self.w = {name: self.add_weight(shape, og.initializers.RandomNormal(0.0, 0.5, seed=len(name)), name=name)
                  for name, shape in self.shapes.items()}

    def call(self, inputs):
        return self.fn(inputs, {k: v.graph_value() for k, v in self.w.items()})


def _c(value, dtype=np.float32):
    return constant(np.asarray(value, dtype=dtype))


def _i(value):
    return constant(np.asarray(value, dtype=np.int64))


def _op(op, attrs=None, extra=()):
    return lambda x, w: emit(op, [x, *extra], attrs or {})


def _check(shape, fn, shapes=None, x=None, batch=3, **kwargs):
    inputs = og.Input(shape=shape)
    model = og.Model(inputs, RawOp(fn, shapes)(Scale()(inputs)))
    x = x if x is not None else np.random.default_rng(3).standard_normal((batch, *shape)).astype(np.float32)
    nodes = {n.op_type for n in model.to_onnx().graph.node}
    gradient_check(model, x, **kwargs)
    return nodes


ELEMENTWISE = {
    "Elu": _op("Elu", {"alpha": 0.7}),
    "Selu": _op("Selu"),
    "Softplus": _op("Softplus"),
    "Softsign": _op("Softsign"),
    "HardSigmoid": _op("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    "HardSwish": _op("HardSwish"),
    "Mish": _op("Mish"),
    "PRelu": lambda x, w: emit("PRelu", [x, w["slope"]]),
    "Sum": lambda x, w: emit("Sum", [x, emit("Mul", [x, x]), w["slope"]]),
    "Mean": lambda x, w: emit("Mean", [x, emit("Mul", [x, x]), w["slope"]]),
    "Max3": lambda x, w: emit("Max", [x, emit("Neg", [x]), w["slope"]]),
    "ReduceMax": _op("ReduceMax", {"keepdims": 0}, [_i([1])]),
    "ReduceMin": _op("ReduceMin", {"keepdims": 1}, [_i([1])]),
    "ReduceSumSquare": _op("ReduceSumSquare", {"keepdims": 1}, [_i([1])]),
    "ReduceL1": _op("ReduceL1", {"keepdims": 0}, [_i([1])]),
    "ReduceLogSum": lambda x, w: emit("ReduceLogSum", [emit("Exp", [x]), _i([1])], {"keepdims": 0}),
    "LpNormalization2": _op("LpNormalization", {"axis": -1, "p": 2}),
    "LpNormalization1": _op("LpNormalization", {"axis": -1, "p": 1}),
    "WhereBroadcast": lambda x, w: emit("Where", [emit("Greater", [x, _c(0.0)]), w["slope"], x]),
    "SliceReverse": _op("Slice", None, [_i([-1]), _i([-(2**62)]), _i([1]), _i([-1])]),
    "SliceStep2Reverse": _op("Slice", None, [_i([4]), _i([0]), _i([1]), _i([-2])]),
    "SplitUnused": lambda x, w: emit("Split", [x, _i([2, 3])], {"axis": 1}, outputs=2)[1],
    "DropoutNoTraining": lambda x, w: emit("Dropout", [x, _c(0.5)]),
    "DropoutNoMask": lambda x, w: emit("Dropout", [x, _c(0.0), constant(np.array(True))], {"seed": 1}),
    "CumSum": _op("CumSum", None, [_i(1)]),
    "CumSumReverseExclusive": _op("CumSum", {"reverse": 1, "exclusive": 1}, [_i(1)]),
    "PadAxes": _op("Pad", {"mode": "constant"}, [_i([1, 2]), _c(0.5), _i([1])]),
    "LayerNormalization": lambda x, w: emit("LayerNormalization", [x, w["slope"], w["bias"]], {"axis": -1}),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_and_plumbing_rules(name):
    nodes = _check((5,), ELEMENTWISE[name], {"slope": (5,), "bias": (5,)})
    op = {"Max3": "Max", "WhereBroadcast": "Where", "SliceReverse": "Slice", "SliceStep2Reverse": "Slice",
          "PadAxes": "Pad", "CumSumReverseExclusive": "CumSum", "SplitUnused": "Split",
          "DropoutNoTraining": "Dropout", "DropoutNoMask": "Dropout", "LpNormalization2": "LpNormalization",
          "LpNormalization1": "LpNormalization"}.get(name, name)
    assert op in nodes  # the inference file keeps the original op


def test_sign_has_a_zero_gradient_and_the_right_forward():
    _check((5,), lambda x, w: emit("Mul", [emit("Sign", [x]), emit("Mul", [x, x])]))


def test_reduce_min_over_several_axes():
    _check((4, 5), _op("ReduceMin", {"keepdims": 0}, [_i([1, 2])]))


def test_reverse_slice_of_an_unknown_length_axis():
    fn = _op("Slice", None, [_i([-1]), _i([-(2**62)]), _i([1]), _i([-1])])
    inputs = og.Input(shape=(None, 4))
    model = og.Model(inputs, RawOp(fn)(Scale()(inputs)))
    gradient_check(model, np.random.default_rng(0).standard_normal((2, 6, 4)).astype(np.float32))


CONV = {
    "ConvSameUpperStride2": (lambda x, w: emit("Conv", [x, w["k"]], {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
                             {"k": (3, 2, 3, 3)}, (2, 8, 8)),
    "ConvSameLowerStride2": (lambda x, w: emit("Conv", [x, w["k"]], {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
                             {"k": (3, 2, 4, 4)}, (2, 7, 7)),
    "ConvSameUpper1D": (lambda x, w: emit("Conv", [x, w["k"]], {"auto_pad": "SAME_UPPER"}), {"k": (3, 2, 4)}, (2, 6)),
    "MaxPoolCeil": (_op("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}), None, (2, 8, 8)),
    "MaxPoolSame": (_op("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}), None,
                    (2, 8, 8)),
    "AveragePool": (_op("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2]}), None, (2, 7, 7)),
    "AveragePoolPadExclude": (_op("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
                              None, (2, 7, 7)),
    "AveragePoolPadInclude": (_op("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 1, 0],
                                                  "count_include_pad": 1}), None, (2, 7, 7)),
    "AveragePoolCeil": (_op("AveragePool", {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}), None,
                        (2, 7, 7)),
    "AveragePoolSame": (_op("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
                        None, (2, 8, 8)),
    "AveragePool1D": (_op("AveragePool", {"kernel_shape": [2], "strides": [2]}), None, (3, 6)),
    "GlobalMaxPool": (_op("GlobalMaxPool"), None, (2, 4, 5)),
    "ConvTranspose": (lambda x, w: emit("ConvTranspose", [x, w["k"], w["b"]], {"strides": [2, 2]}),
                      {"k": (2, 3, 3, 3), "b": (3,)}, (2, 4, 4)),
    "ConvTransposePadsOutputPadding": (
        lambda x, w: emit("ConvTranspose", [x, w["k"]], {"strides": [2, 2], "pads": [1, 0, 1, 1],
                                                         "output_padding": [1, 0]}), {"k": (2, 3, 3, 3)}, (2, 4, 5)),
    "ConvTransposeGroups": (lambda x, w: emit("ConvTranspose", [x, w["k"]], {"group": 2}), {"k": (4, 1, 2, 2)},
                            (4, 3, 3)),
    "ConvTransposeDilation": (lambda x, w: emit("ConvTranspose", [x, w["k"]], {"dilations": [2, 2]}),
                              {"k": (2, 2, 3, 3)}, (2, 3, 3)),
    "ConvTransposeSame": (lambda x, w: emit("ConvTranspose", [x, w["k"]], {"strides": [2, 2],
                                                                          "auto_pad": "SAME_UPPER"}),
                          {"k": (2, 2, 3, 3)}, (2, 3, 3)),
    "ConvTranspose1D": (lambda x, w: emit("ConvTranspose", [x, w["k"]], {"strides": [3]}), {"k": (2, 2, 2)}, (2, 4)),
}


@pytest.mark.parametrize("name", sorted(CONV))
def test_convolution_and_pooling_rules(name):
    fn, shapes, shape = CONV[name]
    _check(shape, fn, shapes, forward_atol=2e-4)


def _resize(mode, scales=None, sizes=None, **attrs):
    def fn(x, w):
        inputs = [x, None, None if scales is None else _c(scales)]
        if sizes is not None:
            inputs.append(_i(sizes))
        return emit("Resize", inputs, {"mode": mode, **attrs})
    return fn


RESIZE = {
    "NearestAsymmetric": _resize("nearest", [1, 1, 2, 3], coordinate_transformation_mode="asymmetric",
                                 nearest_mode="floor"),
    "NearestHalfPixel": _resize("nearest", [1, 1, 1.5, 2]),
    "LinearHalfPixel": _resize("linear", [1, 1, 2, 2]),
    "LinearAlignCornersSizes": _resize("linear", sizes=[7, 5], coordinate_transformation_mode="align_corners",
                                       axes=[2, 3]),
    "CubicDown": _resize("cubic", [1, 1, 0.5, 0.75]),
}


@pytest.mark.parametrize("name", sorted(RESIZE))
def test_resize_rule(name):
    _check((2, 4, 4), RESIZE[name])


NORM = {
    "BatchNormInference": (lambda x, w: emit("BatchNormalization", [x, w["s"], w["b"], _c([0.1, -0.2]),
                                                                     _c([0.5, 2.0])], {"epsilon": 1e-3}),
                           {"s": (2,), "b": (2,)}),
    "InstanceNormalization": (lambda x, w: emit("InstanceNormalization", [x, w["s"], w["b"]]), {"s": (2,), "b": (2,)}),
    "GroupNormalization": (lambda x, w: emit("GroupNormalization", [x, w["s"], w["b"]], {"num_groups": 2},
                                             shapes=[x.shape], dtypes_=[x.dtype]),
                           {"s": (4,), "b": (4,)}),
}


@pytest.mark.parametrize("name", sorted(NORM))
def test_normalization_rules(name):
    fn, shapes = NORM[name]
    channels = shapes["s"][0]
    _check((channels, 3, 3), fn, shapes)


def test_batch_norm_training_mode_uses_batch_statistics_and_reports_updates():
    def fn(x, w):
        y, _, _ = emit("BatchNormalization", [x, w["s"], w["b"], w["mean"], w["var"]],
                       {"epsilon": 1e-3, "momentum": 0.8, "training_mode": 1}, outputs=3)
        return y

    inputs = og.Input(shape=(2, 3, 3))
    layer = RawOp(fn, {"s": (2,), "b": (2,), "mean": (2,), "var": (2,)})
    model = og.Model(inputs, layer(inputs))
    layer.w["var"].assign(np.array([0.5, 2.0], np.float32))
    x = np.random.default_rng(0).standard_normal((4, 2, 3, 3)).astype(np.float32)
    gradient_check(model, x, check_forward=False, skip=("raw_op/mean", "raw_op/var"))

    from onnxgraph import losses, optimizers
    from onnxgraph.trainer._engines import make_engine

    mse = losses.MeanSquaredError()
    for kind in engine_kinds():
        _check_batch_norm_step(make_engine(kind, model, [mse], [None], [mse.label_spec(model.outputs[0].shape)],
                                           optimizers.SGD(0.0)), layer, x)


def _check_batch_norm_step(engine, layer, x):
    layer.w["mean"].assign(np.zeros(2, np.float32))
    layer.w["var"].assign(np.array([0.5, 2.0], np.float32))
    before_mean = layer.w["mean"].numpy()
    _, preds = engine.train_step([x, np.zeros_like(x), np.ones(4, np.float32)])
    axes = (0, 2, 3)
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    normalized = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-3)
    want = normalized * layer.w["s"].numpy()[None, :, None, None] + layer.w["b"].numpy()[None, :, None, None]
    np.testing.assert_allclose(preds[0], want, atol=1e-5)
    engine.sync_to_model()
    np.testing.assert_allclose(layer.w["mean"].numpy(), 0.8 * before_mean + 0.2 * mean, atol=1e-6)
    np.testing.assert_allclose(layer.w["var"].numpy(), 0.8 * np.array([0.5, 2.0]) + 0.2 * var, atol=1e-6)


def _time_major(op, units, features, direction="forward", full=True, n_outputs=None):
    gates = {"LSTM": 4, "GRU": 3}[op]
    dirs = 2 if direction == "bidirectional" else 1

    def fn(x, w):
        xt = emit("Transpose", [x], {"perm": [1, 0, 2]})
        inputs = [xt, w["W"], w["R"], w["B"]] if full else [xt, w["W"], w["R"]]
        outs = emit(op, inputs, {"hidden_size": units, "direction": direction}, outputs=n_outputs or 2)
        y = outs[0] if isinstance(outs, tuple) else outs  # (T, dirs, B, units)
        y = emit("Transpose", [y, ], {"perm": [2, 0, 1, 3]})
        return emit("Reshape", [y, _i([0, 0, -1])])

    shapes = {"W": (dirs, gates * units, features), "R": (dirs, gates * units, units),
              "B": (dirs, 2 * gates * units)}
    return fn, shapes


@pytest.mark.parametrize("op,direction,full", [("LSTM", "reverse", True), ("LSTM", "bidirectional", True),
                                               ("GRU", "bidirectional", True), ("LSTM", "forward", False)])
def test_recurrent_rules(op, direction, full):
    fn, shapes = _time_major(op, 3, 4, direction, full)
    _check((5, 4), fn, shapes, batch=2, coords=4)


def test_rules_leave_the_inference_file_untouched():
    inputs = og.Input(shape=(2, 8, 8))
    model = og.Model(inputs, RawOp(CONV["ConvTransposeSame"][0], CONV["ConvTransposeSame"][1])(inputs))
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((2, 2, 8, 8)).astype(np.float32)
    model.fit(x, model.predict(x, verbose=0) * 0.5, epochs=1, verbose=0)
    ops = [n.op_type for n in model.to_onnx().graph.node]
    assert "ConvTranspose" in ops and "Gather" not in ops and "Pad" not in ops


def test_descending_range_gather_reversal_of_an_unknown_length_axis():
    """The layers' reverse_time pattern: Gather(x, Range(n - 1, -1, -1)) on a runtime length.

    onnxruntime 1.19 fuses that pattern into Slice(start=n-1, end=-1, step=-1), which selects
    nothing -- in inference sessions too. The training graph rewrites the Range so it trains.
    """
    def fn(x, w):
        n = emit("Squeeze", [emit("Shape", [x], {"start": 1, "end": 2}), _i([0])])
        index = emit("Range", [emit("Sub", [n, _i(1)]), _i(-1), _i(-1)])
        return emit("Gather", [x, index], {"axis": 1})

    inputs = og.Input(shape=(None, 3))
    model = og.Model(inputs, RawOp(fn)(Scale()(inputs)))
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    gradient_check(model, x, expected=[(x * model.layers[1].w.numpy())[:, ::-1]])


class TiedDense(og.layers.Layer):
    """x @ W @ W^T with W read in two layouts (plain and transposed): one parameter to train."""

    def build(self, input_shape):
        self.w = self.add_weight((input_shape[-1], 3), og.initializers.RandomNormal(0.0, 0.5, seed=1), name="w")

    def call(self, inputs):
        hidden = emit("MatMul", [inputs, self.w.graph_value()])
        return emit("MatMul", [hidden, self.w.graph_value((("transpose", (1, 0)),))])


def test_a_weight_read_in_two_layouts_is_one_trained_parameter():
    inputs = og.Input(shape=(4,))
    model = og.Model(inputs, TiedDense()(Scale()(inputs)))
    grads = gradient_check(model, np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    assert sorted(grads) == ["scale/w", "tied_dense/w"] and grads["tied_dense/w"].shape == (4, 3)
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(1).standard_normal((8, 4)).astype(np.float32)
    model.fit(x, x, epochs=2, verbose=0)
    w = model.layers[-1].w.numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), (x * model.layers[1].w.numpy()) @ w @ w.T, atol=1e-5)



def test_ops_without_gradients_are_fine_off_the_gradient_path_and_explained_on_it():
    inputs = og.Input(shape=(5,))
    rounded = RawOp(_op("Round"))(inputs)  # preprocessing of the data: no gradient needed
    model = og.Model(inputs, og.layers.Dense(2)(rounded))
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    assert np.isfinite(model.train_on_batch(x, np.zeros((4, 2), np.float32)))
    trained = og.Model(inputs, RawOp(_op("Round"))(og.layers.Dense(2)(inputs)))
    if "ort-training" in engine_kinds():  # onnxruntime-training has no Round gradient: the engine says so
        trained.compile(optimizer="sgd", loss="mse", engine="ort-training")
        with pytest.raises(NotImplementedError, match="no gradient for Round"):
            trained.fit(x, np.zeros((4, 2), np.float32), verbose=0)
    # onnxgraph.autodiff gives Round its gradient, zero: the weights behind it do not move.
    trained.compile(optimizer="sgd", loss="mse", engine="onnx")
    before = trained.get_weights()
    trained.fit(x, np.zeros((4, 2), np.float32), verbose=0)
    for a, b in zip(before, trained.get_weights()):
        np.testing.assert_array_equal(a, b)
