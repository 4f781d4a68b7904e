"""save/load: same layers, names, config and weights; bit-identical predictions; atomic writes."""

import os

import numpy as np
import onnx
import pytest

import onnxgraph as keras
from onnxgraph import layers
from onnxgraph.saving import _files
from tests.conftest import rand


def branchy_model():
    a, b = keras.Input(shape=(6,), name="a"), keras.Input(shape=(4,), name="b")
    sub_in = keras.Input(shape=(6,))
    sub = keras.Model(sub_in, layers.Dense(5, activation="gelu")(sub_in), name="sub")
    shared = layers.Dense(3, activation="tanh", name="shared")
    h = layers.concatenate([shared(sub(a)), shared(layers.Dense(5)(b))])
    return keras.Model([a, b], {"y": layers.Dense(2, name="y")(h), "h": layers.Dropout(0.2)(h)}, name="branchy")


def assert_same_model(m1, m2, x):
    assert [layer.name for layer in m1.layers] == [layer.name for layer in m2.layers]
    assert [type(layer).__name__ for layer in m1.layers] == [type(layer).__name__ for layer in m2.layers]
    assert m1.get_config() == m2.get_config()
    for w1, w2 in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    p1, p2 = m1.predict(x, verbose=0), m2.predict(x, verbose=0)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])


def test_round_trip_nested_shared_dict_outputs(tmp_path):
    model = branchy_model()
    path = tmp_path / "m.onnx"
    model.save(path)
    restored = keras.load_model(path)
    assert restored.name == "branchy" and restored.output_names == ["y", "h"]
    assert_same_model(model, restored, {"a": rand(3, 6), "b": rand(3, 4, seed=2)})
    assert keras.models.load_model(str(path)).count_params() == model.count_params()
    # A second save of the loaded model holds the same nodes and weights (order may differ:
    # the rebuild replays layers in config order).
    path2 = tmp_path / "again.onnx"
    restored.save(path2)
    g1, g2 = onnx.load(path).graph, onnx.load(path2).graph
    assert sorted(n.SerializeToString() for n in g1.node) == sorted(n.SerializeToString() for n in g2.node)
    assert sorted(t.SerializeToString() for t in g1.initializer) == sorted(t.SerializeToString() for t in g2.initializer)


def test_sequential_round_trip(tmp_path):
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(4, activation="relu"), layers.Dense(1)])
    model.save(tmp_path / "s.onnx")
    restored = keras.load_model(tmp_path / "s.onnx")
    assert type(restored).__name__ == "Sequential"
    x = rand(5, 3)
    np.testing.assert_array_equal(model.predict(x, verbose=0), restored.predict(x, verbose=0))


def test_file_is_plain_onnx_and_runs_without_onnxgraph(tmp_path):
    import onnxruntime as ort

    model = branchy_model()
    model.save(tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"a": rand(2, 6), "b": rand(2, 4, seed=1)}
    raw = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
    ours = model.predict(feeds, verbose=0)
    np.testing.assert_array_equal(raw["y"], ours["y"])


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    model = branchy_model()
    path = tmp_path / "m.onnx"
    model.save(path)
    before = path.read_bytes()
    model.get_layer("y").set_weights([w + 1 for w in model.get_layer("y").get_weights()])

    def crash(*args):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(_files.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.onnx"]  # no temp files left behind


def test_external_data_for_large_models(tmp_path, monkeypatch):
    monkeypatch.setattr(_files, "EXTERNAL_DATA_THRESHOLD", 1000)
    a, b = keras.Input(shape=(6,), name="a"), keras.Input(shape=(4,), name="b")
    h = layers.concatenate([layers.Dense(300)(a), b])
    model = keras.Model([a, b], {"y": layers.Dense(2)(h)})
    path = tmp_path / "big.onnx"
    model.save(path)
    data_files = [f for f in os.listdir(tmp_path) if f.endswith(".data")]
    assert len(data_files) == 1 and data_files[0].startswith("big.onnx.")
    assert os.path.getsize(path) < os.path.getsize(tmp_path / data_files[0])
    restored = keras.load_model(path)
    assert_same_model(model, restored, {"a": rand(2, 6), "b": rand(2, 4)})
    model.save(path)  # re-save: the old data file is replaced, not left behind
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".data")]) == 1


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model file"):
        keras.load_model(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage not protobuf\xff" * 10)
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        keras.load_model(bad)
    from onnx import helper, TensorProto

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), tmp_path / "foreign.onnx")
    with pytest.raises(ValueError, match="not saved by onnxgraph.*from_onnx"):
        keras.load_model(tmp_path / "foreign.onnx")
    with pytest.raises(ValueError, match="end in '.onnx'"):
        branchy_model().save(tmp_path / "model.h5")


def test_unknown_layer_class_is_a_clear_error(tmp_path):
    model = branchy_model()
    proto = model.to_onnx()
    for prop in proto.metadata_props:
        if prop.key == "onnxgraph.config":
            prop.value = prop.value.replace('"class_name": "Concatenate"', '"class_name": "EvilLayer"')
    onnx.save(proto, tmp_path / "evil.onnx")
    with pytest.raises(ValueError, match=r"Unknown layer class 'EvilLayer'.*custom_objects.*register_serializable"):
        keras.load_model(tmp_path / "evil.onnx")


def test_external_data_threshold_with_only_small_tensors(tmp_path, monkeypatch):
    # Above the threshold in total but every tensor under onnx's 1 KB external size: no data file.
    monkeypatch.setattr(_files, "EXTERNAL_DATA_THRESHOLD", 10)
    model = branchy_model()
    model.save(tmp_path / "small.onnx")
    assert os.listdir(tmp_path) == ["small.onnx"]
    x = {"a": rand(2, 6), "b": rand(2, 4)}
    assert_same_model(model, keras.load_model(tmp_path / "small.onnx"), x)


def test_saved_file_has_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "m.onnx"
        branchy_model().save(path)
        assert (os.stat(path).st_mode & 0o777) == 0o644
        os.chmod(path, 0o640)
        branchy_model().save(path)  # overwriting keeps the mode the user chose
        assert (os.stat(path).st_mode & 0o777) == 0o640
    finally:
        os.umask(umask)
