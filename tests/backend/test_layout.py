"""The layout export pass: Transpose counts on real models, values unchanged, shapes kept exact."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, ops
from onnxgraph.backend import layout, serialize
from onnxgraph.backend.graph import Graph
from onnxgraph.backend.ir import Node, SymbolicTensor
from tests.conftest import check_onnx, rand


def toy_resnet():
    """The functional API guide's toy ResNet (Keras 3 guide, 223,242 parameters)."""
    inputs = og.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    return og.Model(inputs, outputs, name="toy_resnet")


@pytest.fixture
def without_pass(monkeypatch):
    """Export with the layout pass switched off (the emitted Transpose -> op -> Transpose form)."""
    def export(model):
        with monkeypatch.context() as patch:
            patch.setattr(serialize, "PASSES", [p for p in serialize.PASSES if p is not layout.optimize_layout])
            return model.to_onnx()
    return export


def op_count(proto, op_type):
    return sum(1 for n in proto.graph.node if n.op_type == op_type)


def run_proto(proto, *feeds):
    from onnxgraph.runtime import make_session

    session = make_session(proto.SerializeToString(), "cpu")
    return session.run(None, {i.name: f for i, f in zip(session.get_inputs(), feeds)})


def assert_same_values(model, raw, *feeds):
    optimized = check_onnx(model)
    for got, want in zip(run_proto(optimized, *feeds), run_proto(raw, *feeds)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return optimized


def test_toy_resnet_has_one_layout_change(without_pass):
    model = toy_resnet()
    raw = without_pass(model)
    assert op_count(raw, "Transpose") == 2 * 8 + 1  # 7 convs + 1 pool wrapped, global pooling entered
    proto = assert_same_values(model, raw, rand(3, 32, 32, 3))
    assert op_count(proto, "Transpose") == 1  # at the entry; the head reduces NCHW directly
    assert op_count(proto, "Conv") == 7 and op_count(proto, "Add") == 2 + 2  # residual adds + Dense biases
    first = proto.graph.node[0]
    assert first.op_type == "Transpose" and first.input[0] == "img"
    names = [n.name for n in proto.graph.node]
    assert "add/Add" in names and "conv2d_2/Conv" in names  # node names still say which layer


def test_conv_chain_into_flatten_keeps_entry_and_exit(without_pass):
    x = og.Input(shape=(16, 16, 3))
    y = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = layers.ZeroPadding2D(1)(y)
    y = layers.Conv2D(8, 3, activation="sigmoid")(y)
    y = layers.Cropping2D(((1, 0), (0, 2)))(y)
    y = layers.AveragePooling2D(2)(y)
    y = layers.UpSampling2D(2)(y)
    y = layers.SeparableConv2D(4, 3, activation=ops.tanh)(y)
    model = og.Model(x, layers.Dense(2)(layers.Flatten()(y)))
    proto = assert_same_values(model, without_pass(model), rand(2, 16, 16, 3))
    assert op_count(proto, "Transpose") == 2
    flatten = next(n for n in proto.graph.node if n.op_type == "Flatten")
    producer = next(n for n in proto.graph.node if flatten.input[0] in n.output)
    assert producer.op_type == "Transpose"  # Flatten sees Keras's channels_last order


def test_batchnorm_and_per_channel_affine_between_convs(without_pass, tmp_path):
    class ChannelAffine(og.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight((input_shape[-1],), "ones", name="scale")
            self.shift = self.add_weight((1, 1, input_shape[-1]), "zeros", name="shift")

        def call(self, inputs):
            return inputs * self.scale + self.shift

    x = og.Input(shape=(12, 12, 3))
    y = layers.Conv2D(8, 3)(x)
    bn = layers.BatchNormalization()
    y = layers.ReLU()(bn(y))
    affine = ChannelAffine()
    y = affine(y)
    y = ops.multiply(y, np.linspace(0.5, 1.5, 8, dtype="float32"))  # a constant (C,) scale
    y = layers.Conv2D(4, 3)(y)
    model = og.Model(x, y)
    rng = np.random.default_rng(0)
    bn.set_weights([rng.random(8, "float32") + 0.5 for _ in range(4)])
    affine.set_weights([rng.random(8, "float32"), rng.random((1, 1, 8), "float32")])
    proto = assert_same_values(model, without_pass(model), rand(2, 12, 12, 3))
    assert op_count(proto, "Transpose") == 2
    assert op_count(proto, "BatchNormalization") == 1
    inits = {t.name: list(t.dims) for t in proto.graph.initializer}
    assert [[1, 8, 1, 1]] * 2 == [d for name, d in inits.items() if name.startswith("channel_affine")]
    # Weights stored in the pass's layout load back into Keras layout.
    model.save(tmp_path / "m.onnx")
    restored = og.load_model(tmp_path / "m.onnx", custom_objects={"ChannelAffine": ChannelAffine})
    np.testing.assert_allclose(restored.get_layer("channel_affine").get_weights()[1], affine.get_weights()[1])


def test_concat_reduce_and_softmax(without_pass):
    x = og.Input(shape=(10, 10, 3))
    a = layers.Conv2D(4, 1)(x)
    b = layers.Conv2D(6, 3, padding="same")(x)
    y = layers.Concatenate()([a, b])
    y = layers.Conv2D(5, 3, activation="softmax")(y)  # softmax over channels
    pooled = ops.mean(y, axis=[1, 2])
    model = og.Model(x, [pooled, ops.max(y, axis=2, keepdims=True)])
    proto = assert_same_values(model, without_pass(model), rand(2, 10, 10, 3))
    assert op_count(proto, "Transpose") == 2  # entry, and the keepdims max output back to NHWC
    softmax = next(n for n in proto.graph.node if n.op_type == "Softmax")
    assert softmax.attribute[0].i == 1  # channel axis of the NCHW tensor


def test_no_sink_that_adds_transposes(without_pass):
    x = og.Input(shape=(8, 8, 2))
    y = layers.Conv2D(3, 3)(x)
    left = layers.Flatten()(layers.ReLU()(y))
    right = layers.Flatten()(layers.Activation("sigmoid")(y))
    model = og.Model(x, layers.Concatenate()([left, right]))
    raw = without_pass(model)
    proto = assert_same_values(model, raw, rand(2, 8, 8, 2))
    assert op_count(proto, "Transpose") == 2  # the conv output is transposed once, not once per branch


def test_intermediate_outputs_keep_keras_layout(without_pass):
    x = og.Input(shape=(9, 9, 2))
    features = layers.Conv2D(4, 3, activation="relu", name="features")(x)
    y = layers.Conv2D(3, 3, name="head")(features)
    model = og.Model(x, [features, y])
    proto = assert_same_values(model, without_pass(model), rand(2, 9, 9, 2))
    shapes = {o.name: [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim] for o in proto.graph.output}
    assert shapes == {"features": ["batch", 7, 7, 4], "head": ["batch", 5, 5, 3]}
    assert op_count(proto, "Transpose") == 3


def test_channels_first_models_have_no_transposes():
    x = og.Input(shape=(3, 16, 16))
    y = layers.Conv2D(8, 3, data_format="channels_first", activation="relu")(x)
    y = layers.MaxPooling2D(2, data_format="channels_first")(y)
    y = layers.GlobalAveragePooling2D(data_format="channels_first")(y)
    assert op_count(check_onnx(og.Model(x, y)), "Transpose") == 0


def test_fold_composes_non_inverse_transposes():
    x = SymbolicTensor((2, 3, 4), "float32", kind="input", name="x")
    first = Node("Transpose", [x], {"perm": [1, 2, 0]}, "", ("a",))
    first.outputs = [SymbolicTensor((3, 4, 2), "float32", producer=first)]
    second = Node("Transpose", first.outputs, {"perm": [0, 2, 1]}, "", ("b",))
    second.outputs = [SymbolicTensor((3, 2, 4), "float32", producer=second)]
    relu = Node("Relu", second.outputs, {}, "", ("c",))
    relu.outputs = [SymbolicTensor((3, 2, 4), "float32", producer=relu)]
    y = relu.outputs[0]
    graph = Graph([first, second, relu], [x], [y], ["x"], ["y"])
    layout.optimize_layout(graph)
    # One Transpose with the composed perm, sunk below the Relu (layout-agnostic, no cost either way).
    assert [n.op_type for n in graph.nodes] == ["Relu", "Transpose"]
    assert graph.nodes[0].inputs[0] is x and graph.nodes[0].outputs[0].shape == (2, 3, 4)
    assert graph.nodes[1].attrs["perm"] == [1, 0, 2] and graph.nodes[1].outputs[0] is y
    data = rand(2, 3, 4)
    np.testing.assert_array_equal(np.transpose(np.transpose(data, [1, 2, 0]), [0, 2, 1]),
                                  np.transpose(data, [1, 0, 2]))


def test_pass_is_registered_once():
    layout.register()
    layout.register()
    assert serialize.PASSES.count(layout.optimize_layout) == 1


def test_mobilenet_v2_keeps_one_layout_change(without_pass):
    """Depthwise convs, BatchNormalization, ReLU6 (Clip), ZeroPadding and residual adds: one Transpose left."""
    model = og.applications.MobileNetV2(weights=None, input_shape=(64, 64, 3), alpha=0.35, classes=5)
    raw = without_pass(model)
    assert op_count(raw, "Transpose") > 100
    proto = assert_same_values(model, raw, rand(2, 64, 64, 3))
    assert op_count(proto, "Transpose") == 1
