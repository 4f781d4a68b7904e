"""The silent acceptances the attack found (issue 12), each refused with the argument named."""

import numpy as np
import pytest
from onnx import TensorProto, helper

import onnxgraph as og
from onnxgraph import layers


def _model():
    x = og.Input(shape=(3,), name="x")
    model = og.Model(x, layers.Dense(1, name="out")(x))
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("kwargs, match", [({"batch_size": 0}, "`batch_size` must be a positive int"),
                                           ({"epochs": -1}, "`epochs` must be an int >= 0")])
def test_fit_refuses(kwargs, match):
    model = _model()
    with pytest.raises(ValueError, match=match):
        model.fit(np.zeros((4, 3)), np.zeros((4, 1)), verbose=0, **kwargs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_learning_rate_nan_is_refused(name):
    with pytest.raises(ValueError, match="`learning_rate` must be a finite float >= 0"):
        getattr(og.optimizers, name)(learning_rate=float("nan"))


def test_duplicate_layer_names_are_refused():
    x = og.Input(shape=(3,))
    with pytest.raises(ValueError, match="The name 'twin' is used 2 times in the model"):
        og.Model(x, layers.Dense(2, name="twin")(layers.Dense(2, name="twin")(x)))


def test_shared_layer_is_not_a_duplicate():
    x = og.Input(shape=(2,))
    shared = layers.Dense(2, name="shared")
    assert len(og.Model(x, shared(shared(x))).layers) == 2


def test_from_onnx_refuses_a_value_defined_twice():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="a"), helper.make_node("Neg", ["x"], ["y"], name="b")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ValueError, match="value 'y' is defined twice, by node 0 'a' \\(Relu\\) and by node 1 'b'"):
        og.Model.from_onnx(proto)


@pytest.mark.parametrize("make", [lambda: layers.Dense(units=True), lambda: layers.Dense(2.0),
                                  lambda: layers.Conv2D(True, 3), lambda: layers.Conv2D(2, 2.5),
                                  lambda: layers.MaxPooling2D(pool_size="22"), lambda: layers.Dropout(1.0),
                                  lambda: layers.LSTM(False), lambda: layers.Embedding(True, 2)])
def test_bool_float_and_out_of_range_constructor_arguments_are_refused(make):
    with pytest.raises(ValueError, match="must be"):
        make()
