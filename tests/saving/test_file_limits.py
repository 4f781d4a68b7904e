"""Limits on what a file declares (nesting, functions, node counts, config size and depth), each
refused before any allocation or runtime call, and raisable for trusted files; and the symlink
swap race that a check-then-open loader loses."""

import os
import subprocess
import sys
import tracemalloc

import numpy as np
import onnx
import pytest

import onnxgraph as og
from onnxgraph.saving import FileLimitError, file_limits, get_file_limits
from tests.saving import _crafted

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_nested_if_at_the_limit_runs_and_past_it_is_refused(tmp_path):
    from onnxgraph.cli._common import read_model, session

    x = np.ones((2, 6), np.float32)
    ok = _crafted.nested_if(tmp_path / "eight", 8)
    np.testing.assert_allclose(session(read_model(ok)).run(None, {"x": x})[0], x + 1)
    deep = _crafted.nested_if(tmp_path / "nine", 9)
    with pytest.raises(FileLimitError, match="more than 8 levels deep.*max_subgraph_depth"):
        read_model(deep)
    with file_limits(max_subgraph_depth=9):  # a trusted file: raise the limit
        np.testing.assert_allclose(session(read_model(deep)).run(None, {"x": x})[0], x + 1)


def test_subgraph_depth_counts_bodies_reached_through_functions(tmp_path):
    """Each function holds one If whose branch calls the next function: shallow locally, deep inlined."""
    from onnx import TensorProto, helper, numpy_helper

    from onnxgraph.saving._safe_io import read_onnx_file

    opsets = _crafted.OPSET + [helper.make_opsetid("crafted", 1)]
    functions = [_crafted._function("F12", [helper.make_node("Relu", ["x"], ["y"])])]
    for k in reversed(range(12)):
        branch = helper.make_graph([helper.make_node(f"F{k + 1}", ["x"], ["y"], domain="crafted")], "b", [],
                                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        cond = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array(True)))
        node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
        functions.append(_crafted._function(f"F{k}", [cond, node]))
    path = _crafted._save(tmp_path, _crafted._model([_crafted._call("F0")], functions=functions, opsets=opsets))
    with pytest.raises(FileLimitError, match=r"function crafted.F\d+ nests subgraphs \(If/Loop/Scan bodies, through local functions\) 9 levels "
                                                r"deep; loading allows 8"):
        read_onnx_file(path)


def test_function_chain_limit_and_a_legit_chain(tmp_path):
    from onnxgraph.saving._safe_io import read_onnx_file

    read_onnx_file(_crafted.recursion("chain", tmp_path / "short", 63))
    with pytest.raises(FileLimitError, match="chain of 65 local functions"):
        read_onnx_file(_crafted.recursion("chain", tmp_path / "long", 64))


def test_in_memory_protos_are_checked_too():
    """Model.from_onnx(proto) and export_model(proto) have no file, but the same structure checks."""
    from onnxgraph.export import export_model

    for kind in ("self", "mutual"):
        folder = f"/tmp/onnxgraph-test-{os.getpid()}-{kind}"
        proto = onnx.load(_crafted.recursion(kind, folder))
        with pytest.raises(ValueError, match="call themselves"):
            og.Model.from_onnx(proto)
        with pytest.raises(ValueError, match="call themselves"):
            export_model(proto, os.path.join(folder, "out.onnx"), verbose=False)


def test_config_asking_for_more_weights_than_the_file_holds_allocates_nothing(tmp_path):
    """A 1.4 KB config with units=6e7 peaked at 1.9 GB; now refused before the kernel exists."""
    path = _crafted.config_bomb("units", tmp_path)
    assert os.path.getsize(path) < 4096
    tracemalloc.start()
    try:
        with pytest.raises(FileLimitError, match=r"layer 'y' declares weight 'kernel' of shape \(6, 60000000\) "
                                                 r"\(1,440,000,000 bytes\).*holds only 168 bytes.*file_limits"):
            og.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20


def test_weight_budget_is_relative_to_the_file_and_raisable(tmp_path):
    def edit(proto, config):
        config["config"]["layers"][1]["config"]["units"] = 100_000  # 2.4 MB of kernel, the file holds 168 B
    _, path = _crafted.onnxgraph_model(tmp_path, edit)
    with file_limits(weight_slack_bytes=2**20):
        with pytest.raises(FileLimitError, match="declares weight 'kernel'"):
            og.load_model(path)
    with pytest.raises(ValueError, match="weight 'y/kernel' has shape|cannot be restored"):
        og.load_model(path)  # within the default slack: built, then the stored weights do not fit


def test_deeply_nested_config_json_is_refused_without_recursion_error(tmp_path):
    path = _crafted.config_bomb("deep_json", tmp_path)
    with pytest.raises(FileLimitError, match="nested 50.. levels deep; loading allows 128"):
        og.load_model(path)


def test_deeply_nested_models_in_a_config_are_a_clear_error(tmp_path):
    """Models nested in models: the JSON depth limit (or Python's recursion limit) gives a ValueError."""
    def edit(proto, config):
        layer = config["config"]["layers"][1]
        wrapped = {"class_name": "Functional", "config": {"name": "n", "layers": [layer]}}
        for _ in range(60):
            wrapped = {"class_name": "Functional", "config": {"name": "n", "layers": [wrapped]}}
        config["config"]["layers"][1] = wrapped
    _, path = _crafted.onnxgraph_model(tmp_path, edit)
    with pytest.raises(ValueError, match="nested .* levels deep|too deeply"):
        og.load_model(path)


def test_limits_come_from_defaults_env_and_blocks(monkeypatch):
    assert get_file_limits().max_subgraph_depth == 8
    monkeypatch.setenv("ONNXGRAPH_FILE_LIMITS", "max_subgraph_depth=12, max_nodes=10")
    assert (get_file_limits().max_subgraph_depth, get_file_limits().max_nodes) == (12, 10)
    with file_limits(max_nodes=20) as limits:
        assert (limits.max_subgraph_depth, limits.max_nodes) == (12, 20)
    monkeypatch.setenv("ONNXGRAPH_FILE_LIMITS", "max_depth=3")
    with pytest.raises(ValueError, match="cannot read 'max_depth=3'"):
        get_file_limits()
    with pytest.raises(TypeError, match="unknown limit"):
        with file_limits(depth=3):
            pass


def test_cli_limits_are_raised_through_the_environment(tmp_path):
    path = _crafted.nested_if(tmp_path, 9)
    np.save(tmp_path / "x.npy", np.ones((2, 6), np.float32))
    argv = [sys.executable, "-m", "onnxgraph.cli", "predict", path, "--input", str(tmp_path / "x.npy"),
            "--output", str(tmp_path / "y.npy")]
    env = {**os.environ, "PYTHONPATH": ROOT}
    refused = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and "ONNXGRAPH_FILE_LIMITS=max_subgraph_depth" in refused.stderr
    allowed = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                             env={**env, "ONNXGRAPH_FILE_LIMITS": "max_subgraph_depth=9"})
    assert allowed.returncode == 0, allowed.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), 2.0)


def test_swapping_in_a_symlink_while_loading_never_reads_the_outside_file(tmp_path):
    """The old loader resolved the path, then opened it: a symlink swapped in between won. Now the
    open itself refuses links (O_NOFOLLOW), so every load either reads the real file or refuses."""
    outside = tmp_path / "outside"
    secret = _crafted.write_secret(outside)
    folder = tmp_path / "m"
    folder.mkdir()
    real = np.full(6, 7.0, np.float32).tobytes()
    (folder / "w.bin").write_bytes(real)
    path = _crafted.add_model(folder, "w.bin")
    # Another process swaps w.bin between the real file and a link to the secret, as fast as it can.
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(secret), str(folder)])
    loaded, refused, x = 0, 0, np.zeros((1, 6), np.float32)
    try:
        for _ in range(400):
            try:
                model = og.Model.from_onnx(path)
            except ValueError as exc:
                assert "symbolic link" in str(exc)
                refused += 1
                continue
            except FileNotFoundError:  # never: every swap is an atomic rename over the old name
                raise
            np.testing.assert_array_equal(model.predict(x, verbose=0), np.full((1, 6), 7.0))
            loaded += 1
            if loaded > 20 and refused > 20:
                break
    finally:
        swapper.kill()
        swapper.wait()
    assert loaded > 0 and refused > 0  # both sides of the race were hit; no load ever saw the secret


SWAPPER = """
import os, sys, time
secret, folder = sys.argv[1], sys.argv[2]
original, tmp, target = (os.path.join(folder, name) for name in ("w.orig", "w.tmp", "w.bin"))
os.link(target, original)
while True:  # both states held about equally long
    os.symlink(secret, tmp)
    os.replace(tmp, target)
    time.sleep(0.0005)
    os.link(original, tmp)
    os.replace(tmp, target)
    time.sleep(0.0005)
"""


def test_file_errors_name_the_file_and_what_was_expected(tmp_path):
    for kind, text in [("empty", r"is empty \(0 bytes\); expected an ONNX model"),
                       ("truncated", "is not a readable ONNX model"), ("random", "is not a readable ONNX model"),
                       ("json", "not a readable ONNX model"), ("not_a_model", "parse, but hold no (IR version|graph)")]:
        path = _crafted.garbage(kind, tmp_path / kind)
        for load in (og.load_model, og.Model.from_onnx):
            with pytest.raises(ValueError, match=text) as info:
                load(path)
            assert path in str(info.value)
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(ValueError, match="folder.onnx is not a regular file"):
        og.load_model(tmp_path / "folder.onnx")
    with pytest.raises(ValueError, match="the ONNX bytes is not a readable ONNX model"):
        og.serving.resolve_models(b"\x00\x01garbage")


def test_a_sparse_data_file_declaring_more_than_memory_is_refused_unread(tmp_path):
    from onnx import numpy_helper

    from onnxgraph.saving._safe_io import read_onnx_file

    with open(tmp_path / "w.bin", "wb") as f:
        f.truncate(2**42)  # 4 TiB that take no disk: a file can declare any size
    weight = _crafted._external(numpy_helper.from_array(np.zeros(1, np.float32), "W"), "w.bin")
    weight.dims[:] = [2**40]
    path = _crafted._save(tmp_path, _crafted._model([_crafted.helper.make_node("Add", ["x", "W"], ["y"])], [weight]))
    try:
        with pytest.raises(ValueError, match=r"hold 4,398,046,511,104 bytes of tensors, more than this machine's"):
            read_onnx_file(path)
    finally:
        os.remove(tmp_path / "w.bin")  # no 4 TiB file left for tools that walk temp folders


def test_constants_folded_from_a_few_numbers_are_capped_before_allocating(tmp_path):
    """A 200-byte ConstantOfShape([30000, 30000]) took 3.6 GB in from_onnx's folding and in
    onnxruntime's session creation; now refused first, and a small one still runs."""
    from onnxgraph.cli._common import read_model, session

    path = _crafted.constant_bomb(tmp_path / "bomb")
    assert os.path.getsize(path) < 400
    tracemalloc.start()
    try:
        for load in (og.Model.from_onnx, read_model):
            with pytest.raises(FileLimitError, match="ConstantOfShape.*3,600,000,000 bytes.*max_constant_bytes"):
                load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20
    small = _crafted.constant_bomb(tmp_path / "small", n=300)
    x = np.zeros((1, 6), np.float32)
    np.testing.assert_allclose(session(read_model(small)).run(None, {"x": x})[0], np.full((1, 6), 90000.0))
    np.testing.assert_allclose(og.Model.from_onnx(small).predict(x, verbose=0), np.full((1, 6), 90000.0))
