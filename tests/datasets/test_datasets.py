"""og.datasets read small cache files written here, as keras.datasets reads the same files.

Keras's loaders check a file hash and download on mismatch, so the Keras side of each
comparison gets its `get_file` pointed at the generated file (its preprocessing runs as is).
"""

import gzip
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

import onnxgraph as og

keras = pytest.importorskip("keras")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    return tmp_path / "datasets"


def keras_reads(monkeypatch, module, path):
    monkeypatch.setattr(module, "get_file", lambda *a, **k: str(path))


def ragged(rng, n, vocab, longest=12):
    seqs = np.empty(n, dtype=object)
    seqs[:] = [rng.integers(1, vocab, size=rng.integers(1, longest)).tolist() for _ in range(n)]
    return seqs


def test_mnist_reads_keras_npz(home, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 255, (6, 28, 28), dtype=np.uint8), "y_train": np.arange(6, dtype=np.uint8),
              "x_test": rng.integers(0, 255, (3, 28, 28), dtype=np.uint8), "y_test": np.arange(3, dtype=np.uint8)}
    np.savez(home / "mnist.npz", **arrays)
    (x_train, y_train), (x_test, y_test) = og.datasets.mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert x_train.dtype == np.uint8 and y_test.shape == (3,)
    from keras.src.datasets import mnist
    keras_reads(monkeypatch, mnist, home / "mnist.npz")
    np.testing.assert_array_equal(keras.datasets.mnist.load_data()[1][0], x_test)


def test_missing_file_says_what_to_put_where_and_never_downloads(home):
    with pytest.raises(FileNotFoundError) as info:
        og.datasets.mnist.load_data()
    message = str(info.value)
    assert str(home / "mnist.npz") in message
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in message
    assert not os.listdir(home)
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        og.datasets.cifar10.load_data()
    with pytest.raises(FileNotFoundError, match="fashion-mnist/train-labels-idx1-ubyte.gz"):
        og.datasets.fashion_mnist.load_data()


def test_fashion_mnist_reads_idx_gz_files(home, monkeypatch):
    rng = np.random.default_rng(1)
    folder = home / "fashion-mnist"
    folder.mkdir()
    data = {}
    for split, n in (("train", 5), ("t10k", 2)):
        labels, images = rng.integers(0, 10, n, dtype=np.uint8), rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\0" * 8 + labels.tobytes()))
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0" * 16 + images.tobytes()))
        data[split] = (images, labels)
    (x_train, y_train), (x_test, y_test) = og.datasets.fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, data["train"][0])
    np.testing.assert_array_equal(y_test, data["t10k"][1])
    assert x_test.shape == (2, 28, 28) and x_test.dtype == np.uint8
    from keras.src.datasets import fashion_mnist
    monkeypatch.setattr(fashion_mnist, "get_file", lambda fname, **k: str(folder / fname))
    for ours, theirs in zip(og.datasets.fashion_mnist.load_data(), keras.datasets.fashion_mnist.load_data()):
        np.testing.assert_array_equal(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[1], theirs[1])


def test_boston_housing_split_matches_keras(home, monkeypatch):
    rng = np.random.default_rng(2)
    np.savez(home / "boston_housing.npz", x=rng.standard_normal((20, 13)), y=rng.standard_normal(20))
    from keras.src.datasets import boston_housing
    keras_reads(monkeypatch, boston_housing, home / "boston_housing.npz")
    for kwargs in ({}, {"test_split": 0.3, "seed": 7}):
        ours, theirs = og.datasets.boston_housing.load_data(**kwargs), keras.datasets.boston_housing.load_data(**kwargs)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="test_split"):
        og.datasets.boston_housing.load_data(test_split=1.0)


def cifar_batch(rng, n, label_keys):
    entry = {b"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8)}
    for key in label_keys:
        entry[key.encode()] = rng.integers(0, 10, n).tolist()
    return pickle.dumps(entry, protocol=2)


def write_tar(path, folder, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


@pytest.mark.parametrize("layout", ["extracted", "tarball"])
def test_cifar10_reads_keras_cache(home, monkeypatch, layout):
    rng = np.random.default_rng(3)
    members = {f"data_batch_{i}": cifar_batch(rng, 2, ["labels"]) for i in range(1, 6)}
    members["test_batch"] = cifar_batch(rng, 3, ["labels"])
    extracted = home / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    extracted.mkdir(parents=True)
    for name, payload in members.items():
        (extracted / name).write_bytes(payload)
    from keras.src.datasets import cifar10
    keras_reads(monkeypatch, cifar10, extracted.parent)
    monkeypatch.setattr(cifar10, "num_train_samples", 10, raising=False)
    if layout == "tarball":
        write_tar(home / "cifar-10-python.tar.gz", "cifar-10-batches-py", members)
        os.rename(extracted.parent, home / "moved")
    (x_train, y_train), (x_test, y_test) = og.datasets.cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and y_train.shape == (10, 1) and y_train.dtype == np.uint8
    assert x_test.shape == (3, 32, 32, 3) and x_test.dtype == np.uint8
    first = pickle.loads(members["data_batch_1"])
    np.testing.assert_array_equal(x_train[0], first[b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0))
    np.testing.assert_array_equal(y_train[:2, 0], first[b"labels"])


def test_cifar100_label_modes(home):
    rng = np.random.default_rng(4)
    folder = home / "cifar-100-python"
    folder.mkdir()
    for split, n in (("train", 4), ("test", 2)):
        (folder / split).write_bytes(cifar_batch(rng, n, ["fine_labels", "coarse_labels"]))
    expected = pickle.loads((folder / "train").read_bytes())
    for mode in ("fine", "coarse"):
        (x_train, y_train), (x_test, _) = og.datasets.cifar100.load_data(label_mode=mode)
        assert x_train.shape == (4, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)
        np.testing.assert_array_equal(y_train[:, 0], expected[f"{mode}_labels".encode()])
    with pytest.raises(ValueError, match="label_mode"):
        og.datasets.cifar100.load_data(label_mode="medium")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickles_naming_code_are_refused(home):
    folder = home / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(pickle.dumps({b"data": _Evil(), b"fine_labels": []}))
    with pytest.raises(ValueError, match="refusing to load posix.system"):
        og.datasets.cifar100.load_data()
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil()
    np.savez(home / "imdb.npz", x_train=evil, y_train=np.zeros(1), x_test=evil, y_test=np.zeros(1))
    with pytest.raises(ValueError, match="refusing to load"):
        og.datasets.imdb.load_data()


IMDB_OPTIONS = [{}, {"num_words": 20}, {"skip_top": 5, "num_words": 30}, {"maxlen": 8}, {"start_char": None},
                {"oov_char": None, "num_words": 15}, {"index_from": 0, "start_char": None, "seed": 3},
                {"num_words": 25, "skip_top": 2, "maxlen": 10, "start_char": 2, "oov_char": 7, "index_from": 5}]


@pytest.mark.parametrize("kwargs", IMDB_OPTIONS)
def test_imdb_preprocessing_matches_keras(home, monkeypatch, kwargs):
    rng = np.random.default_rng(5)
    np.savez(home / "imdb.npz", x_train=ragged(rng, 12, 40), y_train=rng.integers(0, 2, 12),
             x_test=ragged(rng, 8, 40), y_test=rng.integers(0, 2, 8))
    from keras.src.datasets import imdb
    keras_reads(monkeypatch, imdb, home / "imdb.npz")
    ours, theirs = og.datasets.imdb.load_data(**kwargs), keras.datasets.imdb.load_data(**kwargs)
    for a, b in zip(ours, theirs):
        assert a[0].dtype == object and a[0].shape == b[0].shape
        assert [list(x) for x in a[0]] == [list(x) for x in b[0]]
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 20, "test_split": 0.3}, {"maxlen": 9, "skip_top": 3},
                                    {"oov_char": None, "num_words": 10, "seed": 1}])
def test_reuters_preprocessing_matches_keras(home, monkeypatch, kwargs):
    rng = np.random.default_rng(6)
    np.savez(home / "reuters.npz", x=ragged(rng, 15, 40), y=rng.integers(0, 46, 15))
    from keras.src.datasets import reuters
    keras_reads(monkeypatch, reuters, home / "reuters.npz")
    ours, theirs = og.datasets.reuters.load_data(**kwargs), keras.datasets.reuters.load_data(**kwargs)
    for a, b in zip(ours, theirs):
        assert [list(x) for x in a[0]] == [list(x) for x in b[0]]
        np.testing.assert_array_equal(a[1], b[1])
    assert og.datasets.reuters.get_label_names() == tuple(keras.datasets.reuters.get_label_names())


def test_word_index_reads_cached_json(home):
    (home / "imdb_word_index.json").write_text('{"the": 1, "movie": 2}')
    assert og.datasets.imdb.get_word_index() == {"the": 1, "movie": 2}
