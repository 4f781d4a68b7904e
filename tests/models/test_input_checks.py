"""predict/__call__ refuse values the graph would silently misread, and explain onnxruntime failures."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers


def _embedding(dtype="int64"):
    ids = og.Input(shape=(None,), dtype=dtype, name="ids")
    return og.Model(ids, layers.Embedding(5, 2, name="vocab")(ids), name="emb")


@pytest.mark.parametrize("bad, shown", [([[-1, 0]], "-1"), ([[0, 5]], "5"), ([[3, 2**40]], str(2**40))])
@pytest.mark.parametrize("call", ["predict", "call"])
def test_ids_outside_the_table_are_refused(bad, shown, call):
    model = _embedding()
    run = (lambda x: model.predict(x, verbose=0)) if call == "predict" else model
    with pytest.raises(ValueError, match=rf"Embedding 'vocab', whose ids must be in \[0, 5\).*received {shown}"):
        run(np.array(bad))


def test_negative_id_used_to_read_the_last_row():
    model = _embedding()
    table = model.get_layer("vocab").get_weights()[0]
    np.testing.assert_array_equal(model.predict(np.array([[4, 0]]), verbose=0)[0], table[[4, 0]])


def test_unsigned_ids_that_would_wrap_are_refused():
    model = _embedding("int32")
    with pytest.raises(ValueError, match="would wrap around"):
        model.predict(np.array([[2**32 - 1]], np.uint64), verbose=0)
    with pytest.raises(ValueError, match="would wrap around"):
        _embedding("int64").predict(np.array([[2**64 - 1]], np.uint64), verbose=0)
    assert model.predict(np.array([[4]], np.uint64), verbose=0).shape == (1, 1, 2)


def test_float_ids_with_nan_are_refused():
    ids = og.Input(shape=(2,), name="ids")  # Keras's default float32 input
    model = og.Model(ids, layers.Embedding(5, 2)(ids))
    assert model.predict(np.array([[1.0, 4.0]]), verbose=0).shape == (1, 2, 2)
    with pytest.raises(ValueError, match="ids must be in"):
        model.predict(np.array([[1.0, np.nan]]), verbose=0)


def test_onnxruntime_failure_names_the_inputs():
    x = og.Input(shape=(None, None, 3), name="image")
    model = og.Model(x, layers.Conv2D(2, 3)(x), name="conv")
    with pytest.raises(ValueError) as info:
        model.predict(np.zeros((1, 2, 2, 3), np.float32), verbose=0)
    message = str(info.value)
    assert "Model 'conv' could not run" in message and "'image' (1, 2, 2, 3) float32" in message
    assert "(None, None, None, 3)" in message and "[ONNXRuntimeError]" not in message
