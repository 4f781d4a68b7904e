"""to_categorical, normalize and pad_sequences against keras.utils on the same inputs."""

import numpy as np
import pytest

import onnxgraph as og

keras = pytest.importorskip("keras")


@pytest.mark.parametrize("labels, num_classes", [
    ([0, 1, 2, 3], None), ([[1], [0], [2]], 4), (np.array([[0, 2], [1, 1]]), 3), ([3.0, 1.0], None), ([], 2),
])
def test_to_categorical_matches_keras(labels, num_classes):
    ours = og.utils.to_categorical(labels, num_classes)
    theirs = keras.utils.to_categorical(labels, num_classes)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("labels, num_classes, needle", [
    ([0, 5], 3, "[0, 3)"), ([-1, 0], 2, "[-1]"), ([0.5, 1.0], None, "whole numbers"),
])
def test_to_categorical_rejects_bad_labels(labels, num_classes, needle):
    with pytest.raises(ValueError, match="to_categorical") as info:
        og.utils.to_categorical(labels, num_classes)
    assert needle in str(info.value)


@pytest.mark.parametrize("axis, order", [(-1, 2), (1, 1), (-1, np.inf)])
def test_normalize_matches_keras(axis, order):
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    x[1] = 0  # a zero row keeps its zeros
    np.testing.assert_allclose(og.utils.normalize(x, axis, order), keras.utils.normalize(x, axis, order), rtol=1e-6)


def test_normalize_along_axis_0():
    # Keras turns axis=0 into -1 when expanding the norm (`axis or -1`) and fails to broadcast;
    # here axis 0 normalizes columns.
    x = np.random.default_rng(1).standard_normal((4, 5))
    np.testing.assert_allclose(og.utils.normalize(x, 0), x / np.sqrt((x * x).sum(0, keepdims=True)))


SEQUENCES = [[1, 2, 3, 4, 5], [6], [], [7, 8, 9]]


@pytest.mark.parametrize("kwargs", [
    {}, {"maxlen": 3}, {"maxlen": 3, "truncating": "post"}, {"maxlen": 6, "padding": "post"},
    {"maxlen": 2, "padding": "post", "truncating": "post", "value": -1}, {"dtype": "float32", "value": 0.5},
    {"maxlen": 4, "dtype": "int64"},
])
def test_pad_sequences_matches_keras(kwargs):
    ours = og.utils.pad_sequences(SEQUENCES, **kwargs)
    theirs = keras.utils.pad_sequences(SEQUENCES, **kwargs)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_of_vectors_and_strings_match_keras():
    vectors = [np.ones((2, 3)), np.full((4, 3), 2.0)]
    np.testing.assert_array_equal(og.utils.pad_sequences(vectors, maxlen=3, dtype="float32"),
                                  keras.utils.pad_sequences(vectors, maxlen=3, dtype="float32"))
    words = [["a", "b"], ["c"]]
    np.testing.assert_array_equal(og.utils.pad_sequences(words, dtype=object, value="<pad>"),
                                  keras.utils.pad_sequences(words, dtype=object, value="<pad>"))


@pytest.mark.parametrize("kwargs, needle", [
    ({"padding": "middle"}, "padding must be"), ({"truncating": "x"}, "truncating must be"),
    ({"value": "pad"}, "dtype=object"),
])
def test_pad_sequences_errors_name_the_argument(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        og.utils.pad_sequences(SEQUENCES, **kwargs)
    with pytest.raises(ValueError, match="steps of shape"):
        og.utils.pad_sequences([np.ones((2, 3)), np.ones((2, 4))])
