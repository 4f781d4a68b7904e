"""Saves killed with SIGKILL leave temp and data files; the next save of that path removes them
(only its own, by exact name pattern), and no save ever leaves a corrupt model file."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

import onnxgraph as og
from onnxgraph import layers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _model(units=4):
    inputs = og.Input((8,))
    return og.Model(inputs, layers.Dense(units, name="dense")(inputs))


def test_next_save_removes_its_own_leftovers_only(tmp_path):
    path = tmp_path / "m.onnx"
    mine = [".m.onnx.tmp-abc123xy.onnx", "m.onnx.0123abcd.data", "m.onnx.ffffffff.data"]
    others = [".other.onnx.tmp-abc123xy.onnx", "other.onnx.0123abcd.data", "m.onnx.notes.data", "m.onnx.0123abcd.data.bak",
              ".tmp-abc123xy.onnx", "weights.bin"]
    for name in mine + others:
        (tmp_path / name).write_bytes(b"left over")
    os.symlink(tmp_path / "weights.bin", tmp_path / "m.onnx.00000000.data")  # a link is never removed
    _model().save(path)
    assert sorted(os.listdir(tmp_path)) == sorted(["m.onnx", "m.onnx.00000000.data", *others])
    og.load_model(path)


def test_next_save_keeps_the_data_file_it_references(tmp_path, monkeypatch):
    from onnxgraph.saving import _files

    monkeypatch.setattr(_files, "EXTERNAL_DATA_THRESHOLD", 1000)
    path = tmp_path / "big.onnx"
    (tmp_path / "big.onnx.deadbeef.data").write_bytes(b"orphan of a killed save")
    model = _model(units=300)
    model.save(path)
    data = [f for f in os.listdir(tmp_path) if f.endswith(".data")]
    assert len(data) == 1 and data[0] != "big.onnx.deadbeef.data"
    x = np.ones((2, 8), np.float32)
    np.testing.assert_array_equal(og.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))


SAVER = """
import sys
import numpy as np
import onnxgraph as og
from onnxgraph import layers
from onnxgraph.saving import _files
_files.EXTERNAL_DATA_THRESHOLD = 1000  # every save writes a data file and a temp file
inputs = og.Input((64,))
model = og.Model(inputs, layers.Dense(2048, name="dense")(inputs))
print("ready", flush=True)
k = 0
while True:
    k += 1
    model.get_layer("dense").set_weights([np.full((64, 2048), k, np.float32), np.zeros(2048, np.float32)])
    model.save(sys.argv[1])
"""


def test_kill_9_during_saves_never_corrupts_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "m.onnx"
    env = {**os.environ, "PYTHONPATH": ROOT}
    leftovers_seen = 0
    for delay in (0.15, 0.4, 0.7, 1.0, 1.3):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        names = os.listdir(tmp_path)
        leftovers_seen += sum(n.startswith(".m.onnx.tmp-") for n in names) + max(0, sum(n.endswith(".data") for n in
                                                                                       names) - 1)
        if path.exists():  # every complete file loads, with one consistent weights state
            kernel = og.load_model(path).get_layer("dense").get_weights()[0]
            assert kernel.min() == kernel.max() and kernel.min() >= 1
    model = _model()
    model.save(path)  # the next save of the path removes what the killed saves left
    assert os.listdir(tmp_path) == ["m.onnx"]
    assert leftovers_seen > 0  # the kills did land mid-save
