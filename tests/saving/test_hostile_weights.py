"""Keras weight files are data: HDF5 links, external storage and virtual datasets are refused,
a `.keras` archive cannot expand past what the model holds, and garbage gets a clear error.
Crafted files are generated here with h5py/zipfile; inotify proves the outside file stays unread."""

import os
import tracemalloc
import zipfile

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from tests.saving._audit import FolderWatch

h5py = pytest.importorskip("h5py")


def _model():
    inputs = og.Input((6,))
    return og.Model(inputs, layers.Dense(3, name="dense")(inputs))


def _weights_file(path, kernel=None, edit=None):
    """A Keras 3 style .weights.h5 for `_model()`; `edit(vars_group, file)` crafts it."""
    kernel = np.full((6, 3), 0.5, np.float32) if kernel is None else kernel
    with h5py.File(path, "w") as f:
        group = f.create_group("layers/dense/vars")
        group.attrs["name"] = "dense"
        group["0"] = kernel
        group["1"] = np.zeros(3, np.float32)
        if edit is not None:
            edit(group, f)
    return path


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    with h5py.File(folder / "secret.h5", "w") as f:
        f["kernel"] = np.full((6, 3), 1000.0, np.float32)
    (folder / "secret.raw").write_bytes(np.full((6, 3), 1000.0, np.float32).tobytes())
    watch = FolderWatch(folder)
    yield folder
    events = watch.events()
    watch.close()
    assert events == [], f"something opened or read the outside folder: {events}"


def _replace(name, make):
    def edit(group, f):
        del group[name]
        make(group, name)
    return edit


def crafted(kind, outside):
    if kind == "external_link":
        return _replace("0", lambda g, n: g.__setitem__(n, h5py.ExternalLink(str(outside / "secret.h5"), "/kernel")))
    if kind == "external_link_group":
        def edit(group, f):
            del f["layers/dense"]
            f["layers/dense"] = h5py.ExternalLink(str(outside / "secret.h5"), "/")
        return edit
    if kind == "external_storage":
        return _replace("0", lambda g, n: g.create_dataset(n, shape=(6, 3), dtype="float32",
                                                              external=[(str(outside / "secret.raw"), 0, 72)]))
    if kind == "virtual":
        def make(group, name):
            layout = h5py.VirtualLayout(shape=(6, 3), dtype="float32")
            layout[:] = h5py.VirtualSource(str(outside / "secret.h5"), "kernel", shape=(6, 3))
            group.create_virtual_dataset(name, layout)
        return _replace("0", make)
    if kind == "strings":
        return _replace("0", lambda g, n: g.__setitem__(n, np.array([["a"] * 3] * 6, dtype=h5py.string_dtype())))
    raise ValueError(kind)


@pytest.mark.parametrize("kind,message", [
    ("external_link", "an external link to"),
    ("external_link_group", "an external link to"),
    ("external_storage", "stored in external raw files"),
    ("virtual", "a virtual dataset"),
    ("strings", "Keras weights are numbers"),
])
def test_hdf5_reaching_other_files_is_refused(tmp_path, outside, kind, message):
    path = _weights_file(tmp_path / "m.weights.h5", edit=crafted(kind, outside))
    model = _model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=message) as info:
        model.load_weights(path)
    assert "m.weights.h5" in str(info.value)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)  # nothing assigned


def test_hdf5_inside_a_keras_archive_is_checked_too(tmp_path, outside):
    inner = _weights_file(tmp_path / "model.weights.h5", edit=crafted("external_link", outside))
    archive = tmp_path / "m.keras"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(inner, "model.weights.h5")
        z.writestr("config.json", "{}")
    with pytest.raises(ValueError, match="m.keras: '/layers/dense/vars/0' is an external link"):
        _model().load_weights(archive)


def test_soft_links_inside_the_file_load(tmp_path):
    def edit(group, f):
        f["elsewhere"] = np.full((6, 3), 0.25, np.float32)
        del group["0"]
        group["0"] = h5py.SoftLink("/elsewhere")
    model = _model()
    model.load_weights(_weights_file(tmp_path / "m.weights.h5", edit=edit))
    np.testing.assert_array_equal(model.get_layer("dense").get_weights()[0], np.full((6, 3), 0.25, np.float32))


def test_plain_weights_file_loads(tmp_path):
    model = _model()
    model.load_weights(_weights_file(tmp_path / "m.weights.h5"))
    x = np.ones((2, 6), np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ np.full((6, 3), 0.5), rtol=1e-6)


def test_a_keras_archive_that_expands_past_the_model_is_refused_before_expanding(tmp_path):
    """A 14 MB .keras zip expanded to 6.2 GB before; now its declared size is checked first."""
    archive = tmp_path / "bomb.keras"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("model.weights.h5", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(96):  # 96 MiB of zeros, ~100 KB compressed
                member.write(block)
    assert os.path.getsize(archive) < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"bomb.keras: archive member 'model.weights.h5' declares "
                                             r"100,663,296 bytes .* only 84 bytes of weights.*file_limits"):
            _model().load_weights(archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20
    with og.saving.file_limits(archive_slack_bytes=200 * 2**20):  # raised: read (then it is not HDF5)
        with pytest.raises(ValueError, match="neither an HDF5 weights file"):
            _model().load_weights(archive)


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "onnx"])
def test_garbage_weight_files_get_clear_errors(tmp_path, kind):
    path = tmp_path / "w.weights.h5"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif kind == "truncated":
        data = _weights_file(tmp_path / "full.weights.h5").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        _model().save(tmp_path / "m.onnx")
        path.write_bytes((tmp_path / "m.onnx").read_bytes())
    with pytest.raises(ValueError, match="w.weights.h5 (is empty|is neither an HDF5 weights file)"):
        _model().load_weights(path)


def test_applications_weights_go_through_the_same_checks(tmp_path, outside):
    from onnxgraph.applications import MobileNetV2

    path = tmp_path / "mobilenet.weights.h5"
    with h5py.File(path, "w") as f:
        f["layers"] = h5py.ExternalLink(str(outside / "secret.h5"), "/")
    with pytest.raises(ValueError, match="mobilenet.weights.h5: '/layers' is an external link"):
        MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=str(path))
