"""What gets served: model resolution (og.Model, onnxgraph file, plain ONNX, bytes), feature cuts,
signatures, and the session options the server relies on."""

import numpy as np
import onnx
import pytest
from _serving_models import GATHER_TABLE, make_gather_proto, rows

import onnxgraph as og
from onnxgraph.serving import ServedModel, feature_model, resolve_models


def _served(item, **kwargs):
    (spec,) = resolve_models(item, **kwargs)
    return ServedModel(spec, providers="cpu")


def test_model_object_and_saved_file_serve_the_same_outputs(encoder, tmp_path):
    path = tmp_path / "enc.onnx"
    encoder.save(path)
    x = rows(5, 8)
    from_object, from_file = _served(encoder), _served(path)
    assert from_object.name == "encoder" and from_file.name == "enc"  # model name / file stem
    assert from_file.spec.source == "onnxgraph"
    expected = encoder.predict(x, verbose=0)
    for served in (from_object, from_file):
        (out,) = served.run(served.feeds(x))
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_signature_lists_shapes_and_dtypes(pair):
    served = _served(pair)
    info = served.describe()
    assert info["inputs"] == [{"name": "a", "shape": [None, 3], "dtype": "float32"},
                              {"name": "b", "shape": [None, 2], "dtype": "float32"}]
    assert info["outputs"] == [{"name": "joined", "shape": [None, 5], "dtype": "float32"},
                               {"name": "score", "shape": [None, 1], "dtype": "float32"}]
    assert served.batchable


def test_feature_model_cuts_at_layers_and_shares_weights(encoder):
    x = rows(4, 8)
    features = feature_model(encoder, ["hidden"])
    kernel, bias = encoder.get_layer("hidden").get_weights()
    np.testing.assert_allclose(features.predict(x, verbose=0), np.maximum(x @ kernel + bias, 0), rtol=1e-5,
                               atol=1e-6)
    served = _served(encoder, layers=["hidden", "embedding"])
    assert served.name == "encoder" and served.output_names == ["hidden", "embedding"]
    hidden, embedding = served.run(served.feeds(x))
    np.testing.assert_allclose(hidden, np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(embedding, encoder.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_unknown_layer_names_the_model_and_its_layers(encoder):
    with pytest.raises(ValueError, match="No layer named 'nope' in model 'encoder'"):
        resolve_models(encoder, layers=["nope"])


def test_plain_onnx_file_runs_as_is(gather_path):
    served = _served(gather_path)
    assert served.spec.source == "onnx" and served.name == "lookup"
    assert served.spec.onnx_bytes == onnx.load(gather_path).SerializeToString()  # no re-export
    assert [i.to_json() for i in served.inputs] == [{"name": "idx", "shape": [None], "dtype": "int64"}]
    (out,) = served.run(served.feeds(np.array([3, 1])))
    np.testing.assert_array_equal(out, GATHER_TABLE[[3, 1]])


def test_plain_onnx_cut_at_a_value_name(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(1).standard_normal((6, 5)).astype("float32")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "W"], ["h"], name="fc"),
         helper.make_node("Relu", ["h"], ["h_relu"], name="act"),
         helper.make_node("ReduceSum", ["h_relu"], ["total"], name="sum", keepdims=1)],
        "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 6])],
        [helper.make_tensor_value_info("total", TensorProto.FLOAT, [1, 1])], [numpy_helper.from_array(w, "W")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    path = tmp_path / "other.onnx"
    onnx.save(proto, path)
    served = _served(path, layers=["h_relu"])
    assert served.output_names == ["h_relu"] and served.spec.layers == ("h_relu",)
    x = rows(3, 6)
    (out,) = served.run(served.feeds(x))
    np.testing.assert_allclose(out, np.maximum(x @ w, 0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no node or value named 'missing'"):
        resolve_models(path, layers=["missing"])


def test_bytes_dict_names_and_duplicates(encoder, pair):
    specs = resolve_models({"a": encoder, "b": make_gather_proto().SerializeToString()})
    assert [(s.name, s.source) for s in specs] == [("a", "onnxgraph"), ("b", "onnx")]
    (spec,) = resolve_models(encoder.to_onnx().SerializeToString())  # onnxgraph bytes: rebuilt, named
    assert spec.source == "onnxgraph" and spec.name == "encoder"
    with pytest.raises(ValueError, match="Two models are named 'encoder'"):
        resolve_models([encoder, encoder])
    with pytest.raises(ValueError, match="cuts one model"):
        resolve_models([encoder, pair], layers=["hidden"])
    with pytest.raises(ValueError, match="URL path segment"):
        resolve_models({"a/b": encoder})
    with pytest.raises(TypeError, match="Cannot serve a int"):
        resolve_models(3)


def test_fixed_batch_dimension_is_not_batchable(tmp_path):
    inputs = og.Input(batch_shape=(2, 4), name="x")
    model = og.Model(inputs, og.layers.Dense(3, name="d")(inputs), name="fixed")
    served = _served(model)
    assert served.inputs[0].shape == (2, 4) and not served.batchable


def test_session_threads_do_not_spin():
    """Regression: serving sessions turn spinning off (make_session's `config` entries)."""
    served = _served(make_gather_proto().SerializeToString())
    options = served.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
