"""Shape and layout rules against central differences (float64), static and symbolic shapes."""

import numpy as np
import pytest

from onnxgraph.backend.emit import constant, emit
from tests.autodiff.gradcheck import check_fn


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def i64(*values):
    return constant(np.asarray(values, np.int64))


def mul(a, b):
    return emit("Mul", [a, b])


@pytest.mark.parametrize("batch", [True, False])
def test_reshape_flatten_squeeze_unsqueeze_transpose(batch):
    x = rnd(2, 3, 4)
    check_fn(lambda x: emit("Reshape", [x, i64(-1, 12)]), [x], symbolic_batch=batch)
    check_fn(lambda x: emit("Flatten", [x], {"axis": 2}), [x], symbolic_batch=batch)
    check_fn(lambda x: emit("Squeeze", [emit("Unsqueeze", [x, i64(1, -1)]), i64(1)]), [x], symbolic_batch=batch)
    check_fn(lambda x: emit("Transpose", [x], {"perm": [2, 0, 1]}), [x], symbolic_batch=batch)
    check_fn(lambda x: emit("Transpose", [x]), [x], symbolic_batch=batch)


def test_reshape_of_a_weight_with_two_unknown_dims():
    # x: (None, None, 4); the gradient reshapes back with the runtime shape.
    x = rnd(2, 3, 4)
    fn = lambda x, w: emit("Reshape", [mul(x, w), emit("Shape", [x])])  # noqa: E731
    check_fn(lambda x, w: emit("Flatten", [mul(x, w)], {"axis": 1}), [x], [rnd(4, seed=1)])
    check_fn(fn, [x], [rnd(4, seed=1)])


@pytest.mark.parametrize("w_shape,target", [((3,), (2, 4, 3)), ((4, 1), (2, 4, 3)), ((1,), (3,))], ids=str)
def test_expand(w_shape, target):
    check_fn(lambda w: emit("Expand", [w, i64(*target)]), [], [rnd(*w_shape)])


def test_expand_to_runtime_shape():
    check_fn(lambda x, w: mul(x, emit("Expand", [w, emit("Shape", [x])])), [rnd(3, 4)], [rnd(4, seed=1)])


@pytest.mark.parametrize("repeats", [(2, 1), (1, 3), (2, 3)])
def test_tile(repeats):
    check_fn(lambda x: emit("Tile", [x, i64(*repeats)]), [rnd(3, 4)])
    check_fn(lambda x: emit("Tile", [x, i64(*repeats)]), [rnd(3, 4)], symbolic_batch=False)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis):
    a, b = rnd(2, 3), rnd(2, 3, seed=1)
    check_fn(lambda x, w: emit("Concat", [x, w, x], {"axis": axis}), [a], [b], symbolic_batch=axis != 0)


def test_concat_along_symbolic_axis():
    check_fn(lambda x, y: emit("Concat", [x, y], {"axis": 0}), [rnd(2, 3), rnd(4, 3, seed=1)])


def test_concat_of_derived_parts():
    # A float and a cast-free int path: only the float one gets a gradient.
    check_fn(lambda x: emit("Concat", [x, emit("Mul", [x, x])], {"axis": 1}), [rnd(2, 3)])


@pytest.mark.parametrize("use", ["all", "first", "last"])
def test_split_with_unused_outputs(use):
    def fn(x):
        parts = emit("Split", [x, i64(1, 2, 3)], {"axis": 1}, outputs=3)
        chosen = {"all": parts, "first": parts[:1], "last": parts[2:]}[use]
        return [emit("Mul", [p, p]) for p in chosen]

    check_fn(fn, [rnd(2, 6)])


def test_split_num_outputs():
    check_fn(lambda x: list(emit("Split", [x], {"axis": 0, "num_outputs": 2}, outputs=2))[1:], [rnd(4, 3)],
             symbolic_batch=False)


SLICES = [
    ((1,), (3,), (1,), (1,)), ((0, 1), (-1, 4), (0, 1), (1, 1)), ((-1,), (-10**9,), (1,), (-1,)),
    ((4,), (0,), (1,), (-2,)), ((0,), (5,), (1,), (2,)), ((5,), (-1,), (1,), (1,)), ((1, 3), (4, 0), (1, 2), (2, -1)),
    ((3,), (0,), (1,), (-1,)), ((3, 2), (0, 0), (1, 2), (-1, -1)),
]


@pytest.mark.parametrize("starts,ends,axes,steps", SLICES, ids=str)
def test_slice_static(starts, ends, axes, steps):
    x = rnd(3, 5, 4)
    check_fn(lambda x: emit("Slice", [x, i64(*starts), i64(*ends), i64(*axes), i64(*steps)]), [x],
             symbolic_batch=False)


@pytest.mark.parametrize("starts,ends,axes,steps", SLICES + [((1,), (-1,), (0,), (1,)), ((-1,), (-10**9,), (0,), (-1,))],
                         ids=str)
def test_slice_symbolic_dims(starts, ends, axes, steps):
    # Every dim unknown: the rule computes the picked indices at runtime.
    x = rnd(3, 5, 4)
    fn = lambda x: emit("Slice", [emit("Reshape", [x, emit("Shape", [x])]), i64(*starts), i64(*ends),  # noqa: E731
                                  i64(*axes), i64(*steps)])
    check_fn(fn, [x])


def test_empty_slice_gives_zeros():
    x = rnd(3, 4)
    fn = lambda x: emit("Concat", [emit("Slice", [x, i64(2), i64(2), i64(1)]), x], {"axis": 1})  # noqa: E731
    check_fn(fn, [x], symbolic_batch=False)


def test_slice_without_axes_and_steps():
    check_fn(lambda x: emit("Slice", [x, i64(0, 1), i64(2, 3)]), [rnd(3, 4)], symbolic_batch=False)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "wrap"])
@pytest.mark.parametrize("pads", [(0, 1, 0, 2), (0, 2, 0, 0), (1, 1, 2, 1)], ids=str)
def test_pad(mode, pads):
    x = rnd(3, 4)
    batch = pads[0] == 0 and pads[2] == 0
    check_fn(lambda x: emit("Pad", [x, i64(*pads)], {"mode": mode}), [x], symbolic_batch=batch)


@pytest.mark.parametrize("mode", ["edge", "reflect", "wrap"])
def test_pad_runtime_dim(mode):
    x = rnd(2, 5)
    fn = lambda x: emit("Pad", [emit("Reshape", [x, emit("Shape", [x])]), i64(0, 2, 0, 3)], {"mode": mode})  # noqa
    check_fn(fn, [x])


def test_pad_axes_input_negative_pads_and_value_gradient():
    x = rnd(3, 4, 5)
    check_fn(lambda x, v: emit("Pad", [x, i64(1, -1, 2, 1), v, i64(1, 2)], {"mode": "constant"}), [x],
             [np.asarray(0.5, np.float32)])


@pytest.mark.parametrize("upper,k", [(1, 0), (0, 0), (1, 1), (0, -1)])
def test_trilu(upper, k):
    check_fn(lambda x: emit("Trilu", [x, constant(np.asarray(k, np.int64))], {"upper": upper}), [rnd(2, 4, 4)])


@pytest.mark.parametrize("starts,ends,axes,steps", [((0,), (6,), (1,), (2,)), ((5,), (-10**9,), (1,), (-2,)),
                                                   ((1, 0), (6, 4), (1, 2), (3, -3))], ids=str)
def test_strided_slice_with_unknown_other_dims(starts, ends, axes, steps):
    # The sliced axis is known (6), the batch and the last dim are not.
    x = rnd(2, 6, 4)
    def fn(x):
        y = emit("Reshape", [x, emit("Shape", [x])], shapes=[(None, 6, None)], dtypes_=["float32"])
        return emit("Slice", [y, i64(*starts), i64(*ends), i64(*axes), i64(*steps)])
    check_fn(fn, [x])


def test_static_slices_are_undone_by_dense_ops():
    from onnxgraph.autodiff import gradients
    from onnxgraph.autodiff._core import _new_nodes
    from onnxgraph.backend.graph import collect
    from onnxgraph.backend.ir import SymbolicTensor

    x = SymbolicTensor((None, 9, 4), "float32", kind="input", name="x")
    y = emit("Slice", [x, i64(7, 0), i64(-10**9, 4), i64(1, 2), i64(-3, 2)])
    loss = emit("ReduceSum", [y], {"keepdims": 0})
    graph = collect([x], [loss], ["x"], ["loss"])
    (gx,) = gradients(graph, loss, [x])
    ops = {n.op_type for n in _new_nodes([gx], {x.id, y.id})}
    assert "ScatterElements" not in ops and {"Pad", "Reshape"} <= ops
