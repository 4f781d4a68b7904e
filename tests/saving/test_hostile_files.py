"""Every crafted file through every entry point, in subprocesses (a crash or hang fails the test).

Each case is refused with an error that names the file, by the Python API, serving (path, bytes,
ModelSpec, the HTTP server) and every command of the CLI; nothing outside the model's folder is
opened, shown both by an audit hook inside the subprocess (Python's opens) and by inotify on the
outside folder (every process's opens, onnxruntime's C++ included). Legitimate controls of the
same shapes still load and answer correctly through the same entry points.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.saving import _crafted
from tests.saving._audit import FolderWatch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(ROOT, "tests", "saving", "_hostile_driver.py")

EXTERNAL = ["parent", "absolute", "symlink", "symlinked_dir", "fifo", "dev", "beyond", "in_function", "in_subgraph"]
STRUCTURE = ["recursion_self", "recursion_mutual", "chain_20000", "fanout_2e40", "nested_if_30", "constant_3.6GB"]
GARBAGE = ["empty", "truncated", "random", "json", "npy", "not_a_model"]
CONFIG = ["units_6e7", "deep_json"]


def _make(case, folder, outside):
    if case in EXTERNAL:
        return _crafted.external(case, folder, outside)
    if case.startswith("recursion_"):
        return _crafted.recursion(case.split("_")[1], folder)
    if case == "chain_20000":
        return _crafted.recursion("chain", folder, 20_000)
    if case == "fanout_2e40":
        return _crafted.recursion("fanout", folder)
    if case == "nested_if_30":
        return _crafted.nested_if(folder, 30)
    if case == "constant_3.6GB":
        return _crafted.constant_bomb(folder)
    if case in GARBAGE:
        return _crafted.garbage(case, folder)
    if case == "units_6e7":
        return _crafted.config_bomb("units", folder)
    if case == "deep_json":
        return _crafted.config_bomb("deep_json", folder)
    raise ValueError(case)


def run_driver(tmp_path, paths, outside, blocking=False, timeout=300):
    """The driver's results for `paths`, plus the inotify events seen in `outside`."""
    report, work = tmp_path / "report.json", tmp_path / "work"
    work.mkdir(exist_ok=True)
    watch = FolderWatch(outside)
    env = {**os.environ, "PYTHONPATH": ROOT, "KERAS_BACKEND": "torch", "HOSTILE_RUN_BLOCKING": "1" if blocking else ""}
    try:
        proc = subprocess.run([sys.executable, DRIVER, str(report), str(outside), str(work), *map(str, paths)],
                              capture_output=True, text=True, timeout=timeout, env=env, cwd=str(work))
        events = watch.events()
    finally:
        watch.close()
    assert proc.returncode == 0, f"driver crashed (status {proc.returncode}): {proc.stderr[-3000:]}"
    return json.loads(report.read_text()), events


def _cases(tmp_path, names):
    outside = tmp_path / "outside"
    _crafted.write_secret(outside)
    paths = [_make(case, tmp_path / "models" / case, outside) for case in names]
    return paths, outside


@pytest.mark.parametrize("group", ["external", "structure", "garbage", "config"])
def test_every_entry_point_refuses_crafted_files_clearly(tmp_path, group):
    names = {"external": EXTERNAL, "structure": STRUCTURE, "garbage": GARBAGE, "config": CONFIG}[group]
    paths, outside = _cases(tmp_path, names)
    # view and serve block only when a file is accepted; every case here must be refused, so run them.
    results, events = run_driver(tmp_path, paths, outside, blocking=True)
    assert len(results) == len(paths) * 17
    # A config bomb is in the config: the entry points that wrap the ONNX graph itself (from_onnx,
    # a raw ModelSpec) never read the config, so for them the small, valid graph is fine.
    graph_level = {"from_onnx", "from_onnx(proto)", "ServedModel(ModelSpec)"} if group == "config" else set()
    not_refused = [(r["file"].split("/")[-2], r["entry"], r["outcome"], r["message"][:160]) for r in results
                   if r["outcome"] != "refused" and not (r["entry"] in graph_level and r["outcome"] == "ok")
                   and not (r["entry"] == "from_onnx(proto)" and r["outcome"] == "skipped")]
    assert not_refused == []
    assert [r for r in results if r["outside"]] == []
    assert events == []  # no process opened or read anything in the outside folder
    for r in results:
        assert _crafted.SECRET[0] not in (r.get("outputs") or [])


def test_what_each_kind_of_case_is_refused_for(tmp_path):
    paths, outside = _cases(tmp_path, ["parent", "symlink", "symlinked_dir", "fifo", "recursion_self",
                                       "recursion_mutual", "chain_20000", "fanout_2e40", "nested_if_30",
                                       "empty", "truncated", "units_6e7", "deep_json"])
    results, _ = run_driver(tmp_path, paths, outside)
    by_case = {}
    for r in results:
        if r["entry"] in ("load_model", "cli predict"):
            by_case.setdefault(r["file"].split("/")[-2], []).append(r["message"])
    expected = {
        "parent": "outside the model's folder", "symlink": "symbolic link", "symlinked_dir": "symbolic link",
        "fifo": "not a regular file", "recursion_self": "call themselves", "recursion_mutual": "call themselves",
        "chain_20000": "chain of", "fanout_2e40": "nodes once its local functions are inlined",
        "nested_if_30": "more than 8 levels deep", "empty": "empty (0 bytes)", "truncated": "not a readable ONNX",
        "units_6e7": "declares weight 'kernel' of shape (6, 60000000)", "deep_json": "nested 5",
    }
    for case, text in expected.items():
        for message in by_case[case]:
            assert text in message, (case, message)
    assert all("file_limits" in m for case in ("chain_20000", "nested_if_30", "units_6e7", "deep_json")
               for m in by_case[case])


def test_legitimate_files_of_the_same_shapes_still_work_everywhere(tmp_path):
    """Controls: data inside the folder (also in a subfolder), nested If within the limit, a short
    function chain, a plain onnxgraph file. Every non-blocking entry point answers x + 1 / the model."""
    outside = tmp_path / "outside"
    _crafted.write_secret(outside)
    inside = tmp_path / "models" / "inside"
    (inside / "data").mkdir(parents=True)
    (inside / "data" / "w.bin").write_bytes(np.ones(6, np.float32).tobytes())
    paths = [_crafted.add_model(inside, "data/w.bin"), _crafted.nested_if(tmp_path / "models" / "if6", 6)]
    model, og_path = _crafted.onnxgraph_model(tmp_path / "models" / "og")
    paths.append(og_path)
    results, events = run_driver(tmp_path, paths, outside)
    assert events == []
    x = np.ones((2, 6), np.float32)
    expected = {paths[0]: x + 1, paths[1]: x + 1, og_path: model.predict(x, verbose=0)}
    failures = []
    for r in results:
        if r["outcome"] == "skipped":
            continue
        if r["entry"] in ("from_onnx(proto)", "serving(bytes)", "ServedModel(ModelSpec)") and r["file"] == paths[0]:
            assert "has no folder" in r["message"]  # an in-memory proto cannot point at data files
            continue
        if r["entry"] == "load_model" and r["file"] != og_path:
            assert "has no onnxgraph config" in r["message"]  # plain ONNX files are for from_onnx
            continue
        if r["entry"] in ("from_onnx", "from_onnx(proto)", "cli summary", "cli plot", "cli extract") \
                and r["file"] == paths[1]:
            assert "subgraph" in r["message"]  # from_onnx does not import control flow yet: a clear refusal
            continue
        if r["outcome"] != "ok":
            failures.append((r["file"], r["entry"], r["message"][:200]))
        elif r.get("outputs"):
            np.testing.assert_allclose(r["outputs"], expected[r["file"]].ravel(), rtol=1e-5, atol=1e-6)
    assert failures == [], "\n".join(map(str, failures))


def test_a_doctored_graph_never_gives_a_second_answer(tmp_path):
    """The config is the single source of truth: the CLI, serving and load_model all run what the
    config describes, even when the stored graph was edited (here its bias Add became Sub)."""
    import onnx
    import onnxruntime as ort

    import onnxgraph as og

    outside = tmp_path / "outside"
    _crafted.write_secret(outside)
    path = _crafted.config_bomb("doctored_graph", tmp_path / "models" / "doctored")
    x = np.ones((2, 6), np.float32)
    restored = og.load_model(path)
    kernel, bias = restored.get_layer("y").get_weights()
    reference = x @ kernel + bias
    raw = ort.InferenceSession(onnx.load(path).SerializeToString(), providers=["CPUExecutionProvider"])
    assert not np.allclose(raw.run(None, {"x": x})[0], reference)  # the doctoring took effect in the file
    results, _ = run_driver(tmp_path, [path], outside)
    answers = [r for r in results if r.get("outputs")]
    assert [r for r in results if r["outcome"] not in ("ok", "skipped")] == []
    assert {r["entry"] for r in answers} >= {"load_model", "serving(path)", "serving(bytes)", "serve(http)",
                                            "cli predict"}
    for r in answers:
        if r["entry"] in ("from_onnx", "from_onnx(proto)", "ServedModel(ModelSpec)"):
            continue  # these wrap the ONNX graph itself, by design (no config involved)
        np.testing.assert_allclose(r["outputs"], reference.ravel(), rtol=1e-5, err_msg=r["entry"])


@pytest.mark.parametrize("command", ["predict", "check", "bench", "serve"])
def test_the_real_command_line_opens_nothing_outside(tmp_path, command):
    """`python -m onnxgraph.cli` itself (not main() in a driver), under the audit-hook wrapper."""
    from tests.saving._audit import WRAPPER

    paths, outside = _cases(tmp_path, ["parent", "symlinked_dir", "recursion_self"])
    np.save(tmp_path / "x.npy", np.ones((2, 6), np.float32))
    extra = {"predict": ["--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")],
             "check": [], "bench": ["--iterations", "2"], "serve": ["--port", "0"]}[command]
    for path in paths:
        report = tmp_path / "opened.txt"
        watch = FolderWatch(outside)
        try:
            proc = subprocess.run([sys.executable, "-c", WRAPPER, str(outside), str(report), command, path, *extra],
                                  capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ROOT})
            events = watch.events()
        finally:
            watch.close()
        assert proc.returncode == 2, proc.stderr
        assert path in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert report.read_text() == "" and events == []
