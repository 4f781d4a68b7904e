"""Copy Keras 3's own test files out of the installed keras wheel, imports pointed at onnxgraph.

    python -m tests.keras_compat.port            # (re)writes tests/keras_compat/<keras path>_test.py

Only import lines change: `from keras.src[.anything] import A, B` becomes
`from tests.keras_compat.shim import A, B` (the shim answers every name with onnxgraph, or
marks it not applicable); a helper imported from another Keras test file comes from its ported
copy, and Keras's numpy reference helpers (backend_utils) stay Keras's. Test bodies stay as Keras wrote them. Each file starts with a header
naming its source and Keras version; FILES lists what is ported (the model tests and the test
file of every layer family onnxgraph has).
"""

from __future__ import annotations

import os
import re
import sys

FILES = [
    "models/functional_test.py",
    "models/sequential_test.py",
    "models/model_test.py",
    "layers/activations/activation_test.py",
    "layers/activations/elu_test.py",
    "layers/activations/leaky_relu_test.py",
    "layers/activations/prelu_test.py",
    "layers/activations/relu_test.py",
    "layers/activations/softmax_test.py",
    "layers/attention/multi_head_attention_test.py",
    "layers/convolutional/conv_test.py",
    "layers/convolutional/conv_transpose_test.py",
    "layers/convolutional/depthwise_conv_test.py",
    "layers/convolutional/separable_conv_test.py",
    "layers/core/dense_test.py",
    "layers/core/embedding_test.py",
    "layers/core/identity_test.py",
    "layers/core/input_layer_test.py",
    "layers/merging/merging_test.py",
    "layers/normalization/batch_normalization_test.py",
    "layers/normalization/group_normalization_test.py",
    "layers/normalization/layer_normalization_test.py",
    "layers/pooling/average_pooling_test.py",
    "layers/pooling/global_average_pooling_test.py",
    "layers/pooling/global_max_pooling_test.py",
    "layers/pooling/max_pooling_test.py",
    "layers/preprocessing/normalization_test.py",
    "layers/preprocessing/rescaling_test.py",
    "layers/regularization/dropout_test.py",
    "layers/reshaping/cropping1d_test.py",
    "layers/reshaping/cropping2d_test.py",
    "layers/reshaping/cropping3d_test.py",
    "layers/reshaping/flatten_test.py",
    "layers/reshaping/permute_test.py",
    "layers/reshaping/repeat_vector_test.py",
    "layers/reshaping/reshape_test.py",
    "layers/reshaping/up_sampling1d_test.py",
    "layers/reshaping/up_sampling2d_test.py",
    "layers/reshaping/up_sampling3d_test.py",
    "layers/reshaping/zero_padding1d_test.py",
    "layers/reshaping/zero_padding2d_test.py",
    "layers/reshaping/zero_padding3d_test.py",
    "layers/rnn/bidirectional_test.py",
    "layers/rnn/gru_test.py",
    "layers/rnn/lstm_test.py",
    "layers/rnn/simple_rnn_test.py",
    "layers/rnn/time_distributed_test.py",
]

_FROM = re.compile(r"^from keras\.src(?:\.[\w.]+)? import (.+)$")
_FOREIGN = {
    "from tensorflow import data as tf_data": "from tests.keras_compat.shim import tf_data",
    "import tensorflow as tf": "from tests.keras_compat.shim import tf",
    "import grain": "from tests.keras_compat.shim import grain",
    "from conftest import skip_if_backend": "from tests.keras_compat.shim import skip_if_backend",
}
_HERE = os.path.dirname(os.path.abspath(__file__))


def keras_source() -> tuple[str, str]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    return os.path.join(os.path.dirname(keras.__file__), "src"), keras.__version__


def port_text(text: str, source: str, version: str) -> str:
    lines, header = [], (f'# Ported from keras/src/{source} (Keras {version}, Apache License 2.0) by\n'
                         '# tests/keras_compat/port.py: only the keras imports changed (they point at the\n'
                         '# onnxgraph shim); the test bodies are Keras\'s.\n')
    pending = None
    for line in text.splitlines():
        if pending is not None:  # a parenthesized import continues
            pending += " " + line.strip()
            if ")" in line:
                lines.append(_rewrite(pending))
                pending = None
            continue
        if _FROM.match(line):
            if line.rstrip().endswith("("):
                pending = line.rstrip()
                continue
            lines.append(_rewrite(line))
        elif line.startswith("import keras"):
            lines.append("from tests.keras_compat import shim as keras")
        elif line in _FOREIGN:  # module-level imports of TensorFlow/grain/Keras's conftest
            lines.append(_FOREIGN[line])
        else:
            lines.append(line)
    return header + "\n".join(lines) + "\n"


# Keras's own numpy reference helpers stay Keras's (an independent reference, not the thing tested).
_KEEP = ("from keras.src.backend.common.backend_utils import",)
_SIBLING = re.compile(r"^from keras\.src\.([\w.]+_test) import (.+)$")


def _rewrite(line: str) -> str:
    if line.startswith(_KEEP):
        return line
    sibling = _SIBLING.match(line)
    if sibling:  # a helper from another ported test file
        return f"from tests.keras_compat.{sibling.group(1)} import {_names(sibling.group(2))}"
    return f"from tests.keras_compat.shim import {_names(_FROM.match(line).group(1))}"


def _names(text: str) -> str:
    return text.strip("() ").rstrip(",").strip()


def main(argv=None) -> int:
    root, version = keras_source()
    for relative in FILES:
        with open(os.path.join(root, relative)) as f:
            text = f.read()
        target = os.path.join(_HERE, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(port_text(text, relative, version))
    print(f"ported {len(FILES)} files from Keras {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
