"""The Keras 3 functional API guide (shared/seeds), run as written with only its import lines changed.

Every code block of the guide runs in order in one namespace, like the notebook it is, with
`import keras` / `from keras import layers, ops` pointed at onnxgraph. What the guide downloads
(MNIST, CIFAR-10, the VGG19 ImageNet weights) is put where Keras keeps its cache, as small
generated files in Keras's own formats: the loaders under test are the real ones and nothing is
downloaded. Output blocks (printed summaries, shapes) are not code and are skipped; a fragment
that the next block repeats in full (the guide shows `CustomDense.__init__` before the class)
is skipped too.
"""

import ast
import os
import pickle
import re

import numpy as np
import pytest

GUIDE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "seeds", "functional-api-guide-keras3.md")
IMPORTS = {
    "import keras": "import onnxgraph as keras",
    "from keras import layers": "from onnxgraph import layers",
    "from keras import ops": "from onnxgraph import ops",
}


def guide_blocks() -> list[str]:
    with open(GUIDE) as f:
        blocks = re.findall(r"```\n(.*?)```", f.read(), re.S)
    code = []
    for block in blocks:
        try:
            ast.parse(block)
        except SyntaxError:
            continue  # printed output
        code.append(block)
    # A fragment repeated in full by the next block is the guide showing a method before its class.
    return [b for i, b in enumerate(code) if not (i + 1 < len(code) and b.strip() in code[i + 1])]


# The seed copy lost the guide's MNIST loading line (keras.io and the TF2 version have it).
RESTORED = {"x_train = x_train.reshape(60000, 784)": "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()"}


def with_onnxgraph_imports(block: str) -> str:
    lines = [IMPORTS.get(line.strip(), line) for line in block.splitlines()]
    restored = [line for prefix, line in RESTORED.items() if block.startswith(prefix)]
    return "\n".join(restored + lines)


def _fake_mnist(folder):
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)  # noqa: E731
    labels = lambda n: rng.integers(0, 10, (n,), dtype=np.uint8)  # noqa: E731
    np.savez_compressed(os.path.join(folder, "mnist.npz"), x_train=images(60000), y_train=labels(60000),
                        x_test=images(10000), y_test=labels(10000))


def _fake_cifar10(folder):
    """Keras's extracted cifar-10-batches-py: five training batches and a test batch (pickled dicts)."""
    rng = np.random.default_rng(1)
    batches = os.path.join(folder, "cifar-10-batches-py")
    os.makedirs(batches)
    for name, n in [*[(f"data_batch_{i}", 200) for i in range(1, 6)], ("test_batch", 200)]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n).tolist()}
        with open(os.path.join(batches, name), "wb") as f:
            pickle.dump(batch, f)


def _fake_vgg19_weights(folder):
    """Keras's legacy-HDF5 VGG19 ImageNet file layout, datasets holding a fill value (tiny on disk)."""
    import h5py

    import onnxgraph as og

    model = og.applications.VGG19(weights=None)
    path = os.path.join(folder, "vgg19_weights_tf_dim_ordering_tf_kernels.h5")
    with h5py.File(path, "w") as f:
        names = [layer.name for layer in model.layers]
        f.attrs["layer_names"] = [n.encode() for n in names]
        for layer in model.layers:
            group = f.create_group(layer.name)
            weight_names = [f"{layer.name}/{w.name}:0".encode() for w in layer.weights]
            group.attrs["weight_names"] = weight_names
            for w, name in zip(layer.weights, weight_names):
                group.create_dataset(name.decode(), shape=w.shape, dtype="float32", chunks=True, fillvalue=0.01)


@pytest.mark.slow
def test_the_guide_runs_with_only_the_imports_changed(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    (home / "models").mkdir()
    _fake_mnist(home / "datasets")
    _fake_cifar10(home / "datasets")
    _fake_vgg19_weights(home / "models")
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.chdir(tmp_path)

    namespace = {"__name__": "guide"}
    blocks = guide_blocks()
    assert len(blocks) > 30
    for index, block in enumerate(blocks):
        source = with_onnxgraph_imports(block)
        try:
            exec(compile(source, f"<guide block {index}>", "exec"), namespace)  # noqa: S102 - the guide's own code
        except Exception as exc:  # noqa: BLE001 - re-raised with the block
            pytest.fail(f"guide block {index} failed: {type(exc).__name__}: {exc}\n---\n{source}")
    assert os.path.exists(tmp_path / "my_model.keras")
    assert namespace["history"].history["loss"]
