"""og.ops against keras.ops (torch backend): same names, argument conventions, values and dtypes."""

import numpy as np
import pytest

from onnxgraph import ops
from tests.conftest import rand
from tests.ops._helpers import assert_close, run_symbolic

keras = pytest.importorskip("keras")

x = rand(4, 3, 5, seed=1)
m = rand(4, 3, seed=2)
pos = np.abs(m) + 0.5
ints = np.array([[3, 1, 2], [0, 5, 5], [-1, 4, 4], [2, 2, 9]], dtype=np.int32)
labels = np.array([[0, 2], [1, 3], [2, 0], [3, 1]], dtype=np.int32)

# (op name, array arguments, keyword arguments)
CALLS = [
    ("add", [m, pos], {}), ("subtract", [m, pos], {}), ("multiply", [m, pos], {}), ("divide", [m, pos], {}),
    ("divide", [ints, ints + 10], {}), ("floor_divide", [m, pos], {}), ("mod", [m * 4, pos], {}),
    ("power", [pos, m], {}), ("maximum", [m, pos], {}), ("minimum", [m, pos], {}),
    ("negative", [m], {}), ("absolute", [m], {}), ("sign", [m], {}), ("square", [m], {}),
    ("sqrt", [pos], {}), ("exp", [m], {}), ("log", [pos], {}), ("log1p", [pos], {}), ("expm1", [m], {}),
    ("floor", [m * 3], {}), ("ceil", [m * 3], {}), ("round", [m * 3], {}), ("reciprocal", [pos], {}),
    ("clip", [m], {"x_min": -0.3, "x_max": 0.4}), ("less", [m, pos - 1], {}), ("equal", [ints, ints.T[:1].T], {}),
    ("logical_and", [m > 0, pos > 1], {}), ("logical_not", [m > 0], {}),
    ("matmul", [m, rand(3, 2)], {}), ("einsum", ["bij,jk->bik", x, rand(5, 2)], {}),
    ("sum", [x], {"axis": 1}), ("sum", [x], {"axis": (0, 2), "keepdims": True}), ("mean", [x], {"axis": -1}),
    ("mean", [ints], {"axis": 0}), ("max", [x], {"axis": 1}), ("min", [x], {}), ("prod", [m], {"axis": 0}),
    ("any", [m > 1], {"axis": 1}), ("all", [m > -2], {"axis": 0}),
    ("argmax", [x], {"axis": -1}), ("argmin", [x], {"axis": 1}), ("argmax", [m], {}),
    ("var", [x], {"axis": 1}), ("std", [x], {"axis": -1}), ("logsumexp", [x], {"axis": 1}),
    ("cumsum", [m], {"axis": 1}), ("sort", [x], {}), ("argsort", [x], {"axis": 1}),
    ("norm", [x], {"axis": -1}), ("norm", [m], {"ord": 1, "axis": -1}),
    ("relu", [m], {}), ("sigmoid", [m], {}), ("softmax", [x], {"axis": 1}), ("log_softmax", [x], {}),
    ("gelu", [m], {}), ("silu", [m], {}), ("softplus", [m], {}), ("elu", [m], {}), ("selu", [m], {}),
    ("leaky_relu", [m], {}), ("hard_sigmoid", [m], {}), ("relu6", [m * 5], {}), ("log_sigmoid", [m], {}),
    ("reshape", [x], {"newshape": (4, 15)}), ("transpose", [x], {"axes": (2, 0, 1)}),
    ("expand_dims", [m], {"axis": 1}), ("squeeze", [x[:, :1]], {"axis": 1}),
    ("concatenate", [[m, pos]], {"axis": 1}), ("stack", [[m, pos]], {"axis": -1}),
    ("split", [x], {"indices_or_sections": 5, "axis": 2}), ("tile", [m], {"repeats": (2, 3)}),
    ("repeat", [m], {"repeats": 2, "axis": 1}), ("broadcast_to", [m[:1]], {"shape": (2, 4, 3)}),
    ("swapaxes", [x], {"axis1": 0, "axis2": 2}), ("moveaxis", [x], {"source": 0, "destination": -1}),
    ("flip", [x], {"axis": 1}), ("take", [x], {"indices": np.array([4, 0]), "axis": 2}),
    ("take_along_axis", [m], {"indices": np.argsort(m, axis=1), "axis": 1}),
    ("one_hot", [labels], {"num_classes": 4}), ("where", [m > 0, m, pos], {}),
    ("cast", [m], {"dtype": "int32"}), ("triu", [x], {"k": 1}), ("tril", [x], {}),
    ("zeros_like", [m], {}), ("ones_like", [ints], {}), ("full_like", [m], {"fill_value": 3.0}),
]


def _keras_value(name, args, kwargs):
    if name == "reshape":  # keras.ops.reshape's second argument is named `newshape`
        return keras.ops.reshape(args[0], kwargs["newshape"])
    return keras.ops.convert_to_numpy(getattr(keras.ops, name)(*args, **kwargs))


def _og_kwargs(name, kwargs):
    return {"new_shape": kwargs["newshape"]} if name == "reshape" else kwargs


def _to_numpy(value):
    if isinstance(value, (list, tuple)):
        return [keras.ops.convert_to_numpy(v) for v in value]
    return keras.ops.convert_to_numpy(value)


@pytest.mark.parametrize("name,args,kwargs", CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CALLS)])
def test_eager_and_symbolic_match_keras(name, args, kwargs):
    want = _to_numpy(_keras_value(name, args, kwargs))
    fn = getattr(ops, name)
    assert_close(fn(*args, **_og_kwargs(name, kwargs)), want, rtol=1e-4, atol=1e-5)
    lists = [a for a in args if isinstance(a, list)]
    if lists:  # concatenate/stack take a list: feed its arrays as inputs
        got = run_symbolic(lambda *t: fn(list(t), **kwargs), lists[0])
    else:  # the first array is the model input, the other arguments are constants
        first = next(i for i, a in enumerate(args) if isinstance(a, np.ndarray))

        def build(t):
            return fn(*args[:first], t, *args[first + 1:], **_og_kwargs(name, kwargs))

        got = run_symbolic(build, [args[first]])
    assert_close(got, want, rtol=1e-4, atol=1e-5)
