"""Shape, indexing and creation ops vs numpy (symbolic through op-layers, and eager)."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import ops
from tests.conftest import rand
from tests.ops._helpers import Case, assert_close, check_case_eager, check_case_symbolic

x = rand(4, 3, 5, seed=1)
m = rand(4, 3, seed=2)
idx = np.array([[2, 0], [1, 1], [0, 2], [2, 2]], dtype=np.int64)
labels = np.array([[0, 2, 1], [3, -1, 2], [1, 1, 0], [2, 0, 3]], dtype=np.int64)
order = np.argsort(x, axis=2)
i32 = np.int32

SHAPE = [
    Case("reshape", lambda a: ops.reshape(a, (-1, 15)), lambda a: a.reshape(-1, 15), x),
    Case("reshape_static", lambda a: ops.reshape(a, (4, 5, 3)), lambda a: a.reshape(4, 5, 3), x, static=True),
    Case("transpose", lambda a: ops.transpose(a, (0, 2, 1)), lambda a: a.transpose(0, 2, 1), x),
    Case("transpose_reverse", ops.transpose, np.transpose, x, static=True),
    Case("expand_dims", lambda a: ops.expand_dims(a, -1), lambda a: a[..., None], x),
    Case("expand_dims_tuple", lambda a: ops.expand_dims(a, (1, 3)), lambda a: np.expand_dims(a, (1, 3)), m),
    Case("squeeze", lambda a: ops.squeeze(a, 2), lambda a: a.squeeze(2), x[:, :, :1]),
    Case("squeeze_all_ones", ops.squeeze, np.squeeze, x[:1, :1], static=True),
    Case("concatenate", lambda a, b: ops.concatenate([a, b], axis=-1), lambda a, b: np.concatenate([a, b], -1),
         x, x * 2),
    Case("concatenate_with_constant", lambda a: ops.concatenate([a, np.ones((4, 3, 1), "float32")], axis=2),
         lambda a: np.concatenate([a, np.ones((4, 3, 1), "float32")], 2), x, static=True),
    Case("stack", lambda a, b: ops.stack([a, b], axis=1), lambda a, b: np.stack([a, b], 1), m, m + 1),
    Case("unstack", lambda a: ops.unstack(a, axis=1), lambda a: [a[:, i] for i in range(3)], x),
    Case("split_sections", lambda a: ops.split(a, 5, axis=-1), lambda a: np.split(a, 5, axis=-1), x),
    Case("split_indices", lambda a: ops.split(a, [1, 3], axis=2), lambda a: np.split(a, [1, 3], axis=2), x),
    Case("split_dynamic_axis", lambda a: ops.split(a, [1, 3], axis=0), lambda a: np.split(a, [1, 3], axis=0), m),
    Case("tile", lambda a: ops.tile(a, (1, 2, 3)), lambda a: np.tile(a, (1, 2, 3)), x),
    Case("tile_more_reps", lambda a: ops.tile(a, (2, 1, 2)), lambda a: np.tile(a, (2, 1, 2)), m, static=True),
    Case("repeat", lambda a: ops.repeat(a, 2, axis=1), lambda a: np.repeat(a, 2, axis=1), x),
    Case("repeat_batch_axis", lambda a: ops.repeat(a, 3, axis=0), lambda a: np.repeat(a, 3, axis=0), m),
    Case("repeat_counts", lambda a: ops.repeat(a, [1, 0, 2], axis=1), lambda a: np.repeat(a, [1, 0, 2], 1), m),
    Case("repeat_flat", lambda a: ops.repeat(a, 2), lambda a: np.repeat(a, 2), m),
    Case("broadcast_to", lambda a: ops.broadcast_to(a, (2, 4, 3)), lambda a: np.broadcast_to(a, (2, 4, 3)), m,
         static=True),
    Case("moveaxis", lambda a: ops.moveaxis(a, 1, -1), lambda a: np.moveaxis(a, 1, -1), x),
    Case("moveaxis_pairs", lambda a: ops.moveaxis(a, (0, 1), (2, 0)), lambda a: np.moveaxis(a, (0, 1), (2, 0)), x),
    Case("swapaxes", lambda a: ops.swapaxes(a, 0, 2), lambda a: np.swapaxes(a, 0, 2), x),
    Case("flip", lambda a: ops.flip(a, 1), lambda a: np.flip(a, 1), x),
    Case("flip_all", ops.flip, np.flip, x),
    Case("pad_constant", lambda a: ops.pad(a, ((0, 0), (1, 2), (2, 0)), constant_values=1.5),
         lambda a: np.pad(a, ((0, 0), (1, 2), (2, 0)), constant_values=1.5), x),
    Case("pad_reflect", lambda a: ops.pad(a, ((0, 0), (1, 1)), mode="reflect"),
         lambda a: np.pad(a, ((0, 0), (1, 1)), mode="reflect"), m),
    Case("pad_edge", lambda a: ops.pad(a, 1, mode="edge"), lambda a: np.pad(a, 1, mode="edge"), m),
    Case("ravel", ops.ravel, np.ravel, x),
    Case("flatten_batch", ops.flatten_batch, lambda a: a.reshape(len(a), -1), x),
    Case("identity", ops.identity, lambda a: a.copy(), x),
]

INDEXING = [
    Case("getitem_timestep", lambda a: a[:, 1, :], lambda a: a[:, 1, :], x),
    Case("getitem_function", lambda a: ops.getitem(a, (Ellipsis, 2)), lambda a: a[..., 2], x),
    Case("getitem_slices", lambda a: a[:, ::-1, 1:4:2], lambda a: a[:, ::-1, 1:4:2], x),
    Case("getitem_ellipsis_newaxis", lambda a: a[..., None, -1], lambda a: a[..., None, -1], x),
    Case("getitem_list", lambda a: a[:, [2, 0]], lambda a: a[:, [2, 0]], x),
    Case("getitem_array_after_ellipsis", lambda a: a[..., np.array([4, 0, 1])], lambda a: a[..., [4, 0, 1]], x),
    Case("getitem_bool_mask", lambda a: a[:, np.array([True, False, True])], lambda a: a[:, [True, False, True]], m),
    Case("getitem_tensor", lambda a, i: a[:, :, i], lambda a, i: a[:, :, i], x, np.array([3, 1, 0, 4], np.int64),
         static=True),
    Case("getitem_int_then_tensor", lambda a, i: a[1, i], lambda a, i: a[1, i], x, np.array([2, 0, 0, 1], np.int64),
         static=True),
    Case("take", lambda a: ops.take(a, [2, -1], axis=2), lambda a: np.take(a, [2, -1], axis=2), x),
    Case("take_flat", lambda a: ops.take(a, [0, 7, 11]), lambda a: np.take(a, [0, 7, 11]), m),
    Case("take_tensor_indices", lambda a, i: ops.take(a, i, axis=1), lambda a, i: np.take(a, i, axis=1), m, idx),
    Case("take_along_axis", lambda a, i: ops.take_along_axis(a, i, axis=2),
         lambda a, i: np.take_along_axis(a, i, axis=2), x, order),
    Case("take_along_axis_broadcast", lambda a: ops.take_along_axis(a, np.array([[[4], [0], [2]]]), axis=2),
         lambda a: np.take_along_axis(a, np.array([[[4], [0], [2]]]), axis=2), x),
    Case("one_hot", lambda a: ops.one_hot(a, 4), lambda a: (a[..., None] == np.arange(4)).astype("float32"), labels),
    Case("one_hot_axis_dtype", lambda a: ops.one_hot(a, 3, axis=1, dtype="int32"),
         lambda a: (a[:, None, :] == np.arange(3)[None, :, None]).astype("int32"), labels),
    Case("triu", lambda a: ops.triu(a, 1), lambda a: np.triu(a, 1), x),
    Case("tril", ops.tril, np.tril, x),
]

CREATION = [
    Case("zeros_like", ops.zeros_like, np.zeros_like, x),
    Case("ones_like_dtype", lambda a: ops.ones_like(a, dtype="int32"), lambda a: np.ones_like(a, dtype=i32), x),
    Case("full_like", lambda a: ops.full_like(a, 2.5), lambda a: np.full_like(a, 2.5), m),
    Case("arange_in_expression", lambda a: a + ops.arange(5, dtype="float32"),
         lambda a: a + np.arange(5, dtype="float32"), x),
    Case("eye_in_expression", lambda a: ops.matmul(a, ops.eye(3) * 2.0), lambda a: a @ (np.eye(3, dtype="float32") * 2),
         m),
    Case("full_with_tensor_value", lambda a: ops.full((2, 3), a), lambda a: np.full((2, 3), a), np.float32(1.5)),
    Case("arange_tensor_bound", lambda n: ops.arange(n), lambda n: np.arange(n, dtype=i32), np.int32(5)),
]


@pytest.mark.parametrize("case", SHAPE + INDEXING + CREATION, ids=lambda c: c.id)
def test_symbolic(case):
    check_case_symbolic(case)


@pytest.mark.parametrize("case", SHAPE + INDEXING + CREATION, ids=lambda c: c.id)
def test_eager(case):
    check_case_eager(case)


def test_creation_values_and_keras_dtypes():
    assert_close(ops.zeros((2, 3)), np.zeros((2, 3), "float32"))
    assert_close(ops.ones(4, dtype="int64"), np.ones(4, "int64"))
    assert_close(ops.full((2,), 7), np.full((2,), 7, "int32"))
    assert_close(ops.full((2,), 0.5), np.full((2,), 0.5, "float32"))
    assert_close(ops.arange(2, 9, 3), np.arange(2, 9, 3, dtype="int32"))
    assert_close(ops.arange(0.0, 1.0, 0.25), np.arange(0, 1, 0.25, dtype="float32"))
    assert_close(ops.linspace(0, 1, 5), np.linspace(0, 1, 5, dtype="float32"))
    assert_close(ops.eye(3, 4, k=1), np.eye(3, 4, 1, dtype="float32"))
    a = og.Input(shape=(3, 5))
    assert ops.shape(a) == (None, 3, 5) and ops.ndim(a) == 3 and ops.size(a) is None
    assert ops.shape(x) == (4, 3, 5) and ops.size(x) == 60
    assert ops.convert_to_tensor([1.0, 2.0]).dtype == np.float32
    with pytest.raises(ValueError, match="convert_to_numpy"):
        ops.convert_to_numpy(a)


def test_zeros_with_unknown_dim_explains_batch_shape():
    a = og.Input(shape=(3,))
    with pytest.raises(ValueError, match="batch_shape"):
        ops.zeros((a.shape[0], 4))


def test_getitem_errors_are_clear():
    a = og.Input(shape=(3, 5))
    with pytest.raises(IndexError, match="out of bounds for axis 1"):
        a[:, 3]
    with pytest.raises(IndexError, match="at most one tensor/array index"):
        a[:, [0, 1], [1, 2]]
    with pytest.raises(IndexError, match="boolean mask"):
        a[a > 0]
    with pytest.raises(ValueError, match="does not divide"):
        ops.split(a, 2, axis=2)


def test_slicing_a_timestep_is_slice_and_squeeze():
    a = og.Input(batch_shape=(2, 10, 5))
    proto = og.Model(a, a[:, 3, :]).to_onnx()
    assert [n.op_type for n in proto.graph.node] == ["Slice", "Squeeze"]
