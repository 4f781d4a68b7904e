"""Regression: scalar constants and weights keep shape () in the file (np.ascontiguousarray gives (1,))."""

import numpy as np

import onnxgraph as og
from onnxgraph.backend.emit import constant, emit


class _ScalarDropout(og.layers.Layer):
    def build(self, input_shape):
        self.scale = self.add_weight((), "ones", name="scale")

    def call(self, inputs):
        # Dropout's ratio and training_mode must be true scalars, or onnxruntime rejects the model.
        y = emit("Dropout", [inputs, constant(np.asarray(0.0, np.float32)), constant(np.array(False))])
        return y * self.scale


def test_scalar_constants_and_weights_stay_scalars():
    inputs = og.Input(shape=(3,))
    model = og.Model(inputs, _ScalarDropout()(inputs))
    proto = model.to_onnx()
    assert all(list(init.dims) == [] for init in proto.graph.initializer)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
