"""The training/ programs run end to end, reach their targets and write loadable .onnx files."""

import importlib.util
import os
import pickle

import numpy as np
import pytest

import onnxgraph as og

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _program(name):
    spec = importlib.util.spec_from_file_location(f"training_{name}", os.path.join(ROOT, "training", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_mnist_mlp_on_digits_reaches_95_percent(tmp_path, capsys):
    program = _program("mnist_mlp")
    accuracy = program.main(["--verbose", "0", "--out", str(tmp_path / "mnist_model.onnx")])
    assert accuracy >= 0.95
    assert "Test accuracy:" in capsys.readouterr().out
    _, x_test, _, y_test = program.load_digits_split()
    loaded = og.load_model(tmp_path / "mnist_model.onnx")
    assert (loaded.predict(x_test, verbose=0).argmax(axis=1) == y_test).mean() == pytest.approx(accuracy, abs=1e-6)


@pytest.mark.slow
def test_autoencoder_on_digits(tmp_path):
    program = _program("autoencoder_digits")
    result = program.main(["--epochs", "2", "--limit", "200", "--verbose", "0", "--out-dir", str(tmp_path)])
    assert result["history"]["loss"][1] < result["history"]["loss"][0]
    assert np.isfinite(result["test_mse"])
    autoencoder = og.load_model(tmp_path / "autoencoder.onnx")
    encoder = og.load_model(tmp_path / "encoder.onnx")
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    assert autoencoder.predict(x, verbose=0).shape == (2, 28, 28, 1)
    assert encoder.predict(x, verbose=0).shape == (2, 16)


def _write_cifar(folder, n=24, seed=0):
    """Files in the exact CIFAR-10 python format: pickled dicts, b'data' uint8 (N, 3072), b'labels'."""
    rng = np.random.default_rng(seed)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"img.png"] * n}, f, protocol=2)
        written[name] = (data, labels)
    return written


def test_cifar10_loader_reads_the_python_batches(tmp_path):
    program = _program("toy_resnet_cifar10")
    written = _write_cifar(tmp_path)
    (x_train, y_train), (x_test, y_test) = program.load_cifar10(str(tmp_path))
    assert x_train.shape == (120, 32, 32, 3) and x_train.dtype == np.uint8 and y_train.shape == (120, 1)
    assert x_test.shape == (24, 32, 32, 3) and y_test.shape == (24, 1)
    data, labels = written["data_batch_2"]
    image = x_train[24 + 5]  # the 6th image of the second file
    np.testing.assert_array_equal(image[3, 7], [data[5, 3 * 32 + 7], data[5, 1024 + 3 * 32 + 7],
                                                data[5, 2048 + 3 * 32 + 7]])  # R, G, B planes
    assert y_train[24 + 5, 0] == labels[5]


def test_cifar10_loader_refuses_code_and_explains_missing_files(tmp_path):
    program = _program("toy_resnet_cifar10")
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        program.load_cifar10(str(tmp_path))
    _write_cifar(tmp_path, n=2)
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump({b"data": os.system, b"labels": []}, f)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        program.load_cifar10(str(tmp_path))


@pytest.mark.slow
def test_toy_resnet_trains_on_cifar_files(tmp_path):
    program = _program("toy_resnet_cifar10")
    _write_cifar(tmp_path, n=16)
    out = tmp_path / "toy_resnet.onnx"
    result = program.main(["--data-dir", str(tmp_path), "--limit", "40", "--test-limit", "8", "--batch-size", "16",
                           "--verbose", "0", "--out", str(out)])
    assert set(result["history"]) == {"loss", "acc", "val_loss", "val_acc"}
    assert og.load_model(out).count_params() == 223_242


@pytest.mark.slow
def test_ticket_router_trains_with_per_output_losses(tmp_path):
    program = _program("ticket_router")
    history = program.main(["--samples", "64", "--epochs", "2", "--verbose", "0", "--out", str(tmp_path / "t.onnx")])
    assert sorted(history) == ["department_loss", "loss", "priority_loss"]
    for total, priority, department in zip(history["loss"], history["priority_loss"], history["department_loss"]):
        assert total == pytest.approx(priority + 0.2 * department, rel=1e-4)
    model = og.load_model(tmp_path / "t.onnx")
    x, _ = program.synthetic_data(3)
    assert model.predict(x, verbose=0)["department"].shape == (3, 4)
