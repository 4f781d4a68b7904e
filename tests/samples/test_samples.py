"""Every sample script runs in its own process (small sizes) and does what the guide shows."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, "samples")

# script, arguments that keep it quick, a line its output must contain, files it must write
CASES = [
    ("mnist_mlp.py", ["--samples", "600", "--epochs", "1"], "reloaded my_model.onnx: same predictions",
     ["my_model.onnx"]),
    ("autoencoder.py", [], "codes: (2, 16) reconstructions: (2, 28, 28, 1)", ["encoder.onnx"]),
    ("nested_models.py", [], "autoencoder == decoder(encoder(x))", ["autoencoder.onnx"]),
    ("ensemble.py", [], "ensemble prediction == mean of the three models", []),
    ("ticket_router.py", ["--samples", "64", "--body-length", "10", "--epochs", "1"], "loss per epoch:", []),
    ("toy_resnet.py", ["--samples", "64"], "int8 static",
     ["toy_resnet.onnx", "toy_resnet_fp16.onnx", "toy_resnet_int8.onnx"]),
    ("shared_embedding.py", [], "both inputs read one table", []),
    ("vgg19_features.py", ["--no-top", "--image-size", "32"], "block5_pool: (1, 1, 1, 512)",
     ["vgg19_features.onnx"]),
    ("custom_dense.py", [], "from_config and load_model reproduce", ["custom_dense.onnx"]),
    ("custom_rnn.py", [], "matches a numpy unrolling of the same loop", []),
    ("subclass_mix.py", [], "subclassed MLP == functional MLP with the same weights", []),
]


def test_every_sample_is_covered():
    scripts = {f for f in os.listdir(SAMPLES) if f.endswith(".py")}
    assert scripts == {case[0] for case in CASES}


@pytest.mark.slow
@pytest.mark.parametrize("script, args, expected, files", CASES, ids=[c[0] for c in CASES])
def test_sample_runs(tmp_path, script, args, expected, files):
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, os.path.join(SAMPLES, script), *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    assert expected in result.stdout
    for name in files:
        assert (tmp_path / name).stat().st_size > 0
