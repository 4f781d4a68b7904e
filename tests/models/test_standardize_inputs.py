"""A functional model's calls match inputs to its structure like Keras 3 (models/_standardize.py)."""

import warnings

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers


def _pair(dict_inputs=True):
    a, b = og.Input((2,), name="a"), og.Input((3,), name="b")
    out = layers.Concatenate()([a, b * 10.0])
    return og.Model({"a": a, "b": b} if dict_inputs else [a, b], out)


def test_list_for_sorted_dict_inputs_warns_once_and_maps_in_key_order():
    model = _pair()
    xa, xb = np.ones((2, 2), "float32"), np.full((2, 3), 2.0, "float32")
    with pytest.warns(UserWarning, match="doesn't match the expected structure") as record:
        got = model.predict([xa, xb], verbose=0)
    assert len([w for w in record if "expected structure" in str(w.message)]) == 1
    np.testing.assert_allclose(got, np.concatenate([xa, xb * 10], axis=1))


def test_list_for_unsorted_dict_inputs_is_refused():
    b, a = og.Input((2,), name="b"), og.Input((2,), name="a")
    model = og.Model({"b": b, "a": a}, b - a)
    with pytest.raises(ValueError, match="(?s)doesn.t match the expected structure.*a dict keyed by input name"):
        model([np.ones((1, 2)), np.zeros((1, 2))])


def test_dict_by_name_for_list_inputs_and_extra_keys_warn():
    model = _pair(dict_inputs=False)
    xa, xb = np.ones((1, 2), "float32"), np.ones((1, 3), "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(model({"b": xb, "a": xa}), model([xa, xb]))
    with pytest.warns(UserWarning, match=r"key\(s\) \['c'\] are not inputs"):
        model({"a": xa, "b": xb, "c": xa})
    with pytest.raises(ValueError, match="Missing input 'b'"):
        model({"a": xa})


def test_trailing_one_is_squeezed_or_added_and_other_ranks_refused():
    x = og.Input((3,), name="x")
    model = og.Model(x, x * 2.0)
    np.testing.assert_allclose(model(np.ones((2, 3, 1), "float32")), np.full((2, 3), 2.0))
    x1 = og.Input((3, 1), name="x1")
    np.testing.assert_allclose(og.Model(x1, x1 + 1.0)(np.zeros((2, 3), "float32")), np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match=r"Input 'x' expects shape \(None, 3\).*name 'x' and path ''"):
        model(np.ones((2, 3, 4), "float32"))


def test_whole_floats_convert_to_int_inputs_fractions_refused():
    ids = og.Input((2,), dtype="int32", name="ids")
    model = og.Model(ids, ids + 1)
    got = model(np.ones((2, 2)))
    assert got.dtype == np.int32 and (got == 2).all()
    with pytest.raises(ValueError, match="Input 'ids' expects dtype int32, received dtype float64"):
        model(np.full((2, 2), 1.5))
    with pytest.raises(ValueError, match="expects dtype int32"):
        model(np.full((2, 2), np.nan))


def test_nested_dict_inputs_round_trip(tmp_path):
    i1, i2 = og.Input((1,), name="one"), og.Input((2,), name="two")
    model = og.Model({"x": i1, "more": {"y": i2}}, {"x": i1 * 2.0, "more": {"y": i2 * 3.0}})
    feed = {"more": {"y": np.ones((2, 2), "float32")}, "x": np.ones((2, 1), "float32")}
    out = model(feed)
    np.testing.assert_allclose(out["more"]["y"], np.full((2, 2), 3.0))
    model.save(tmp_path / "m.onnx")
    np.testing.assert_allclose(og.saving.load_model(tmp_path / "m.onnx")(feed)["x"], np.full((2, 1), 2.0))


def test_disconnected_output_is_refused_with_its_path():
    i1, i2 = og.Input((2,), name="i1"), og.Input((2,), name="i2")
    with pytest.raises(ValueError, match=r"Output with path `second` is not connected.*Input 'i2'"):
        og.Model(i1, {"first": i1 * 2.0, "second": i2 * 3.0})


def test_eager_training_call_runs_training_mode():
    x = og.Input((1000,))
    model = og.Model(x, layers.Dropout(0.5, seed=1)(x))
    data = np.ones((1, 1000), "float32")
    np.testing.assert_array_equal(model(data), data)
    dropped = model(data, training=True)
    assert 300 < int((dropped == 0).sum()) < 700 and np.allclose(dropped[dropped != 0], 2.0)


def test_manual_input_spec_applies_to_eager_calls():
    x = og.Input((None, 3))
    model = og.Model(x, layers.Dense(2)(x))
    model.input_spec = og.layers.InputSpec(shape=(None, 4, 3))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4, 3\), found shape=\(2, 3, 3\)"):
        model(np.zeros((2, 3, 3), "float32"))
    assert model(np.zeros((2, 4, 3), "float32")).shape == (2, 4, 2)


def test_legacy_config_errors_name_the_missing_node_and_the_loop():
    entry = {"class_name": "InputLayer", "name": "in", "config": {"batch_shape": [None, 4], "name": "in"},
             "inbound_nodes": []}
    dense = {"class_name": "Dense", "name": "d", "config": {"units": 2, "name": "d"},
             "inbound_nodes": [[["in", 0, 0, {}]]]}
    model = og.Model.from_config({"name": "m", "layers": [entry, dense], "input_layers": [["in", 0, 0]],
                                  "output_layers": [["d", 0, 0]]})
    assert model.outputs[0].shape == (None, 2)
    bad = dict(dense, inbound_nodes=[[["ghost", 0, 0, {}]]])
    with pytest.raises(ValueError, match="Missing node: ghost"):
        og.Model.from_config({"name": "m", "layers": [entry, bad], "input_layers": [["in", 0, 0]],
                              "output_layers": [["d", 0, 0]]})
