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
import keyword
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
        block = _rejoin_wrapped_comments(block)
        if block is not None:  # None: printed output
            code.append(block)
    # A fragment repeated in full by the next block is the guide showing a method before its class.
    return [b for i, b in enumerate(code) if not (i + 1 < len(code) and _squash(b) in _squash(code[i + 1]))]


def _squash(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


# The seed copy lost the first lines of some blocks; these are the guide's own (keras.io and the
# TF2 version have them).
RESTORED = {
    "x_train = x_train.reshape(60000, 784)": "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()",
    'x = layers.Conv2D(32, 3, activation="relu")(x)\nx = layers.MaxPooling2D(3)(x)':
        'encoder_input = keras.Input(shape=(28, 28, 1), name="img")\n'
        'x = layers.Conv2D(16, 3, activation="relu")(encoder_input)',
    "# Variable-length sequence of integers\ntext_input_a": "shared_embedding = layers.Embedding(1000, 128)",
}


_WORDS = re.compile(r"^[A-Za-z][\w ,.'`-]*$")


def _rejoin_wrapped_comments(block: str) -> str | None:
    """The seed copy wrapped long comments onto a new line; put such lines back into the comment."""
    lines = []
    for line in block.splitlines():  # a wrapped word or two that would parse as a bare name
        if lines and "#" in lines[-1] and _WORDS.match(line) and line.split()[0] not in keyword.kwlist:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    for _ in range(len(lines)):
        try:
            ast.parse("\n".join(lines))
            return "\n".join(lines) + "\n"
        except SyntaxError as exc:
            k = (exc.lineno or 1) - 1
            if k == 0 or k >= len(lines) or "#" not in lines[k - 1]:
                return None
            lines[k - 1] += " " + lines.pop(k).strip()
    return None


# ... and the head and indentation of the first custom-layer example, restored as the guide has it.
_CUSTOM_DENSE = '''class CustomDense(layers.Layer):
    def __init__(self, units=32):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(self.units,), initializer="random_normal", trainable=True
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

inputs = keras.Input((4,))
outputs = CustomDense(10)(inputs)

model = keras.Model(inputs, outputs)
'''
RESTORED_BLOCKS = {"super().__init__()\nself.units = units": _CUSTOM_DENSE}
# ... and one line's indentation inside the custom RNN's __init__.
REINDENTED = {"\n    # Our previously-defined Functional model\n    self.classifier = model\n":
              "\n        # Our previously-defined Functional model\n        self.classifier = model\n"}


def with_onnxgraph_imports(block: str) -> str:
    block = next((text for prefix, text in RESTORED_BLOCKS.items() if block.startswith(prefix)), block)
    for wrong, right in REINDENTED.items():
        block = block.replace(wrong, right)
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
