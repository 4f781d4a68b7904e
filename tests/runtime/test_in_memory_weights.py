"""Sessions get big weights from memory (no protobuf copy), and still follow set_weights."""

import numpy as np

import onnxgraph as og
from onnxgraph.backend.serialize import EXTERNAL_MIN_BYTES


def dense_model():
    inputs = og.Input((512,))
    hidden = og.layers.Dense(256, activation="relu")(inputs)  # 512 KiB kernel: from memory
    return og.Model(inputs, og.layers.Dense(4)(hidden))         # 4 KiB kernel: in the proto


def reference(model, x):
    (k1, b1), (k2, b2) = model.layers[1].get_weights(), model.layers[2].get_weights()
    return np.maximum(x @ k1 + b1, 0) @ k2 + b2


def test_big_weights_reach_the_session_from_memory_and_small_ones_in_the_proto():
    model = dense_model()
    x = np.random.default_rng(0).standard_normal((3, 512)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), reference(model, x), rtol=1e-5, atol=1e-5)
    buffers = model._runner().session._onnxgraph_buffers
    big = [v for v in model.weights if v.value.nbytes >= EXTERNAL_MIN_BYTES]
    assert [v.path for v in big] == ["dense/kernel"]
    assert any(np.array_equal(a, big[0].value) for a in buffers.values())
    assert all(a.nbytes >= EXTERNAL_MIN_BYTES for a in buffers.values())
    proto = model._inference_proto({})
    assert all(not t.raw_data for t in proto.graph.initializer if t.data_location == 1)
    assert model.to_onnx().graph.initializer[0].raw_data  # saved files keep their bytes


def test_set_weights_after_a_run_rebuilds_the_session_with_the_new_arrays():
    model = dense_model()
    x = np.ones((2, 512), np.float32)
    model.predict(x, verbose=0)
    layer = model.layers[1]
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel * 2, bias + 1])
    np.testing.assert_allclose(model.predict(x, verbose=0), reference(model, x), rtol=1e-5, atol=1e-4)
