"""Embedding: integer inputs of any dtype, Keras initializer and config, numerics vs numpy and Keras."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from tests.conftest import check_onnx


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64", "uint32", "float32"])
def test_lookup_any_integer_dtype(dtype):
    ids = og.Input(shape=(None, 3), dtype=dtype)
    embedding = layers.Embedding(20, 4)
    model = og.Model(ids, embedding(ids))
    assert model.outputs[0].shape == (None, None, 3, 4) and model.outputs[0].dtype == "float32"
    proto = check_onnx(model)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Gather") == 1 and ops.count("Cast") == (dtype != "int64")
    data = np.random.default_rng(0).integers(0, 20, size=(2, 5, 3)).astype(dtype)
    table = embedding.get_weights()[0]
    np.testing.assert_array_equal(model.predict(data, verbose=0), table[data.astype(np.int64)])


def test_weights_initializer_and_config():
    embedding = layers.Embedding(1000, 8, mask_zero=True)  # masks propagate: no warning any more
    embedding(og.Input(shape=(5,), dtype="int32"))
    (table,) = embedding.get_weights()
    assert table.shape == (1000, 8) and embedding.weights[0].path == "embedding/embeddings"
    assert -0.05 <= table.min() < -0.04 and 0.04 < table.max() <= 0.05  # Keras "uniform": U(-0.05, 0.05)
    config = embedding.get_config()
    assert config["embeddings_initializer"] == {"class_name": "RandomUniform",
                                                "config": {"minval": -0.05, "maxval": 0.05, "seed": None}}
    assert config["mask_zero"] is True and config["input_dim"] == 1000 and config["output_dim"] == 8
    assert layers.Embedding.from_config(config).get_config() == config
    assert embedding.count_params() == 8000
    given = np.arange(12, dtype=np.float32).reshape(4, 3)
    preset = layers.Embedding(4, 3, weights=[given])
    np.testing.assert_array_equal(preset(np.array([[3, 0]])), given[[[3, 0]]])  # eager call on numpy


def test_mask_zero_mask_and_errors():
    embedding = layers.Embedding(10, 2, mask_zero=True)
    np.testing.assert_array_equal(embedding.compute_mask(np.array([[0, 3, 0]])), [[False, True, False]])
    assert layers.Embedding(10, 2).compute_mask(np.array([[0, 3]])) is None
    with pytest.raises(ValueError, match="'embedding_2' expects integer indices, got dtype bool"):
        layers.Embedding(10, 2, name="embedding_2")(og.Input(shape=(3,), dtype="bool"))
    with pytest.raises(ValueError, match="`output_dim` must be a positive int"):
        layers.Embedding(10, 0)


def test_shared_embedding_and_save_load(tmp_path):
    """The guide's shared Embedding: one table, two inputs; the file round-trips bit-identically."""
    a, b = og.Input(shape=(None,), dtype="int32", name="a"), og.Input(shape=(None,), dtype="int32", name="b")
    shared = layers.Embedding(1000, 16)
    model = og.Model([a, b], [shared(a), shared(b)])
    proto = check_onnx(model)
    assert [i.name for i in proto.graph.initializer if i.name.endswith("embeddings")] == ["embedding/embeddings"]
    model.save(tmp_path / "shared.onnx")
    restored = og.load_model(tmp_path / "shared.onnx")
    data = [np.array([[1, 2, 3]], np.int32), np.array([[999, 0]], np.int32)]
    for got, want in zip(restored.predict(data, verbose=0), model.predict(data, verbose=0)):
        np.testing.assert_array_equal(got, want)


def test_matches_keras_with_copied_weights():
    keras = pytest.importorskip("keras")
    keras.backend.clear_session()
    data = np.random.default_rng(1).integers(0, 30, size=(4, 7))
    outputs = []
    for lib in (og, keras):
        ids = lib.Input(shape=(None,))  # Keras's default float32 input holding integers
        layer = lib.layers.Embedding(30, 5)
        outputs.append((lib.Model(ids, layer(ids)), layer))
    (ours, our_layer), (theirs, their_layer) = outputs
    our_layer.set_weights(their_layer.get_weights())
    assert ours.outputs[0].shape == tuple(theirs.outputs[0].shape)
    np.testing.assert_array_equal(ours.predict(data, verbose=0), theirs.predict(data, verbose=0))
