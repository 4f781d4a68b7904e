"""A model file is data: crafted files are refused with clear errors, and nothing outside the
model's folder is read, imported or executed."""

import json
import os
import sys

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.models._export import CONFIG_KEY, WEIGHTS_KEY
from tests.conftest import rand
from tests.saving._audit import recording


def _save_model(folder):
    inputs = og.Input((3,))
    model = og.Model(inputs, layers.Dense(2, name="dense")(inputs))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    model.save(path)
    return model, path


def _rewrite(path, edit):
    proto = onnx.load(path, load_external_data=False)
    edit(proto)
    onnx.save(proto, path)


def _edit_config(edit):
    def apply(proto):
        entry = next(p for p in proto.metadata_props if p.key == CONFIG_KEY)
        config = json.loads(entry.value)
        edit(config)
        entry.value = json.dumps(config)
    return apply


@pytest.fixture
def evil_module(tmp_path, monkeypatch):
    """An importable module that leaves a marker file if anything imports it."""
    marker = tmp_path / "imported.txt"
    (tmp_path / "evil_module_for_tests.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("evil_module_for_tests", None)


def test_unknown_layer_class_is_refused_without_importing_its_module(tmp_path, evil_module):
    _, path = _save_model(tmp_path / "m")

    def rename(config):
        entry = config["config"]["layers"][1]
        entry.update(module="evil_module_for_tests", class_name="EvilLayer",
                     registered_name="evil_module_for_tests>EvilLayer")

    _rewrite(path, _edit_config(rename))
    with pytest.raises(ValueError, match="Unknown layer class 'EvilLayer'.*custom_objects=.*register_serializable"):
        og.load_model(path)
    assert not evil_module.exists() and "evil_module_for_tests" not in sys.modules


def test_unknown_model_class_is_refused(tmp_path, evil_module):
    _, path = _save_model(tmp_path / "m")

    def rename(config):
        config.update(class_name="os.system", module="evil_module_for_tests")

    _rewrite(path, _edit_config(rename))
    with pytest.raises(ValueError, match="model.onnx: Unknown layer class 'os.system'"):
        og.load_model(path)
    assert not evil_module.exists()


def test_lambda_code_in_a_config_is_never_run(tmp_path, evil_module):
    _, path = _save_model(tmp_path / "m")
    code = f"__import__('builtins').open({str(evil_module)!r}, 'w').write('ran')"

    def add_lambda(config):
        entry = config["config"]["layers"][1]
        entry.update(class_name="Lambda", module="keras.layers",
                     config={"name": "dense", "function": {"class_name": "__lambda__", "config": {"code": code}}})

    _rewrite(path, _edit_config(add_lambda))
    for safe_mode in (True, False):  # onnxgraph's Lambda takes its function from the process only
        with pytest.raises(ValueError, match="deserialization of a `Lambda` layer.*never runs code from a file"):
            og.load_model(path, safe_mode=safe_mode)
    assert not evil_module.exists()


def test_registered_custom_class_is_found_by_name(tmp_path):
    @og.saving.register_serializable(package="tests_safety")
    class Doubler(layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    inputs = og.Input((3,))
    og.Model(inputs, Doubler()(inputs)).save(tmp_path / "d.onnx")
    entry = json.loads(next(p.value for p in onnx.load(tmp_path / "d.onnx").metadata_props if p.key == CONFIG_KEY))
    assert entry["config"]["layers"][1]["registered_name"] == "tests_safety>Doubler"
    restored = og.load_model(tmp_path / "d.onnx")
    np.testing.assert_allclose(restored.predict(np.ones((1, 3), "float32"), verbose=0), [[2, 2, 2]])
    with og.saving.custom_object_scope({"tests_safety>Doubler": Doubler}):
        assert type(og.load_model(tmp_path / "d.onnx").layers[1]) is Doubler


def _make_external(tensor, location, offset=None, length=None):
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    del tensor.external_data[:]
    entries = {"location": location}
    if offset is not None:
        entries["offset"] = str(offset)
    if length is not None:
        entries["length"] = str(length)
    for key, value in entries.items():
        tensor.external_data.add(key=key, value=value)


@pytest.fixture
def opened():
    """Every file opened while the test runs, as (name given, resolved path or None, flags) from the
    "open" audit event (tests/saving/_audit.py)."""
    with recording() as entries:
        yield entries


def _resolved(entries) -> list:
    return [resolved for _, resolved, _ in entries if resolved]


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "secret.bin"
    path.write_bytes(np.arange(6, dtype=np.float32).tobytes())
    return path


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink", "nested_parent"])
def test_external_data_outside_the_folder_is_refused_unread(tmp_path, secret, opened, kind):
    _, path = _save_model(tmp_path / "models" / "m")
    folder = os.path.dirname(path)
    location = {"parent": "../../secret.bin", "absolute": str(secret), "symlink": "link.bin",
                "nested_parent": "data/../../../secret.bin"}[kind]
    if kind == "symlink":
        os.symlink(secret, os.path.join(folder, "link.bin"))
    _rewrite(path, lambda proto: _make_external(proto.graph.initializer[0], location))
    opened.clear()
    with pytest.raises(ValueError, match="outside the model's folder|symbolic link"):
        og.load_model(path)
    assert str(os.path.realpath(secret)) not in _resolved(opened)


def test_external_data_hidden_in_a_function_or_subgraph_is_refused(tmp_path, secret, opened):
    _, path = _save_model(tmp_path / "m")

    def add_function(proto):
        value = numpy_helper.from_array(np.zeros(6, np.float32), "hidden")
        _make_external(value, "../secret.bin")
        body = helper.make_node("Constant", [], ["y"], value=value)
        proto.functions.append(helper.make_function("tests", "Hidden", [], ["y"], [body],
                                                    [helper.make_opsetid("", 21)]))

    _rewrite(path, add_function)
    opened.clear()
    with pytest.raises(ValueError, match="'hidden' points its external data at '../secret.bin'"):
        og.load_model(path)
    assert str(os.path.realpath(secret)) not in _resolved(opened)


def test_external_data_inside_the_folder_loads(tmp_path, opened):
    model, path = _save_model(tmp_path / "m")
    proto = onnx.load(path)
    onnx.save_model(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in onnx.load(path, load_external_data=False)
               .graph.initializer)
    opened.clear()
    restored = og.load_model(path)
    assert ("weights.bin", None) in [(name, resolved) for name, resolved, _ in opened]  # a confined open
    x = rand(4, 3)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_external_data_range_beyond_the_file_is_refused(tmp_path):
    _, path = _save_model(tmp_path / "m")
    (tmp_path / "m" / "w.bin").write_bytes(b"\0" * 8)
    _rewrite(path, lambda proto: _make_external(proto.graph.initializer[0], "w.bin", offset=4, length=24))
    with pytest.raises(ValueError, match="lies outside 'w.bin'"):
        og.load_model(path)


def test_overwriting_a_crafted_file_never_deletes_outside_files(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    model, path = _save_model(tmp_path / "m")
    _rewrite(path, lambda proto: _make_external(proto.graph.initializer[0], "../victim.txt"))
    model.save(path)  # overwrite: old data files are cleaned up, but only ones this module wrote
    assert victim.read_text() == "keep me"
    og.load_model(path)


@pytest.mark.parametrize("key,value,message", [
    (CONFIG_KEY, "{not json", "not valid JSON"),
    (CONFIG_KEY, "[1, 2]", "must be an object with a 'class_name'"),
    (WEIGHTS_KEY, '{"a": 1}', "weight table must be a list"),
    (WEIGHTS_KEY, '[["dense/kernel", [["pickle", "x"]]], ["dense/bias", []]]', "Unknown weight transform"),
])
def test_malformed_metadata_is_a_clear_error(tmp_path, key, value, message):
    _, path = _save_model(tmp_path / "m")

    def set_value(proto):
        next(p for p in proto.metadata_props if p.key == key).value = value

    _rewrite(path, set_value)
    with pytest.raises(ValueError, match=message):
        og.load_model(path)


def test_op_layer_naming_a_non_op_is_refused_from_a_file(tmp_path):
    inputs = og.Input((3,))
    og.Model(inputs, inputs * 2.0).save(tmp_path / "op.onnx")

    def rename(config):
        config["config"]["layers"][1]["config"]["op"] = "eval"

    _rewrite(tmp_path / "op.onnx", _edit_config(rename))
    with pytest.raises(ValueError, match="unknown op 'eval'"):
        og.load_model(tmp_path / "op.onnx")


def test_register_serializable_with_package_and_name(tmp_path):
    @og.saving.register_serializable(package="tests_safety", name="Halver")
    class HalfLayer(layers.Layer):
        def call(self, inputs):
            return inputs * 0.5

    @og.saving.register_serializable(package="tests_safety")
    def cube(x):
        return x * x * x

    assert og.saving.get_registered_name(HalfLayer) == "tests_safety>Halver"
    inputs = og.Input((2,))
    model = og.Model(inputs, layers.Dense(2, activation=cube)(HalfLayer()(inputs)))
    model.save(tmp_path / "h.onnx")
    restored = og.load_model(tmp_path / "h.onnx")
    assert type(restored.layers[1]) is HalfLayer and restored.layers[2].activation is cube
    x = rand(3, 2)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="already registered"):
        og.saving.register_serializable(package="tests_safety", name="Halver")(type("Other", (layers.Layer,), {}))
