"""What Keras 3's own test files import from `keras.src`, answered by onnxgraph.

`port.py` copies a test file out of the installed keras wheel and rewrites its
`from keras.src... import X` lines into `from tests.keras_compat.shim import X`, so the test
bodies run unchanged against onnxgraph. Names here are flat: `layers`, `ops`, `models`, `Model`,
`Input`, `KerasTensor`, `backend`, ... Keras internals onnxgraph has no counterpart for (dtype
policies, quantizers, sparse/ragged tensors, jit, backend-specific variables) are
`not_applicable(...)` objects: touching one skips the test with the reason, which the
compatibility report counts as "not applicable".
"""

from __future__ import annotations

import types
import unittest

import numpy as np

import onnxgraph as og
from onnxgraph import activations, callbacks, initializers, layers, losses, metrics, ops, optimizers, saving, utils
from onnxgraph.backend import dtypes as _dtypes
from onnxgraph.backend.ir import SymbolicTensor

__all__ = ["NotApplicable", "not_applicable"]  # the rest are the names Keras's tests import


class NotApplicable(unittest.SkipTest):
    """Raised when a test reaches a Keras internal that onnxgraph does not have by design."""


class _NotApplicable:
    def __init__(self, what: str):
        self._what = what

    def _refuse(self, *args, **kwargs):
        raise NotApplicable(f"not applicable: {self._what}")

    __call__ = _refuse

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotApplicable(f"not applicable: {self._what} ({name})")


def not_applicable(what: str) -> _NotApplicable:
    return _NotApplicable(what)


# -- symbolic tensors -------------------------------------------------------------------------------
class _KerasTensorType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, SymbolicTensor)


class KerasTensor(metaclass=_KerasTensorType):
    """`KerasTensor(shape, dtype)` as Keras's tests build it: a symbolic input of that full shape."""

    def __new__(cls, shape, dtype="float32", sparse=False, ragged=False, name=None, **kwargs):
        if sparse or ragged:
            raise NotApplicable("not applicable: sparse/ragged tensors (ONNX tensors are dense)")
        return og.Input(batch_shape=tuple(shape), dtype=dtype, name=name)


keras_tensor = types.SimpleNamespace(KerasTensor=KerasTensor, is_keras_tensor=lambda x: isinstance(x, SymbolicTensor))


# -- backend ----------------------------------------------------------------------------------------
def _set_image_data_format(value):
    """Restoring "channels_last" (what Keras's tests do in tearDown) is a no-op; changing it is n/a."""
    if value != "channels_last":
        raise NotApplicable("not applicable: changing the global image data format (layers take data_format=)")


def _standardize_dtype(dtype):
    if dtype is None:
        return "float32"
    if hasattr(dtype, "dtype") and not isinstance(dtype, (str, np.dtype, type)):
        dtype = dtype.dtype
    return _dtypes.standardize(dtype)


def _is_float_dtype(dtype):
    return _standardize_dtype(dtype).startswith(("float", "bfloat"))


def _is_int_dtype(dtype):
    return _standardize_dtype(dtype).startswith(("int", "uint"))


def _clear_session(free_memory=True):
    og.utils.clear_session()


backend = types.SimpleNamespace(
    backend=lambda: "onnxgraph",
    standardize_dtype=_standardize_dtype,
    is_float_dtype=_is_float_dtype,
    is_int_dtype=_is_int_dtype,
    convert_to_numpy=lambda x: np.asarray(x),
    convert_to_tensor=lambda x, dtype=None: np.asarray(x, dtype=None if dtype is None else _dtypes.to_numpy(dtype)),
    floatx=lambda: "float32",
    epsilon=lambda: 1e-7,
    image_data_format=lambda: "channels_last",
    set_image_data_format=lambda value: _set_image_data_format(value),
    clear_session=_clear_session,
    KerasTensor=KerasTensor,
    is_keras_tensor=keras_tensor.is_keras_tensor,
    SUPPORTS_SPARSE_TENSORS=False,
    SUPPORTS_RAGGED_TENSORS=False,
    Variable=lambda initializer, dtype=None, **kwargs: np.asarray(initializer, dtype=dtype),
    common=types.SimpleNamespace(keras_tensor=keras_tensor),
    config=types.SimpleNamespace(is_nnx_enabled=lambda: False, floatx=lambda: "float32",
                                 image_data_format=lambda: "channels_last"),
    get_keras_mask=lambda x: getattr(x, "_keras_mask", None),
    set_keras_mask=lambda x, mask: setattr(x, "_keras_mask", mask),
    is_tensor=lambda x: isinstance(x, (np.ndarray, SymbolicTensor)),
    standardize_shape=lambda shape: tuple(None if d is None else int(d) for d in shape),
    AutocastScope=not_applicable("autocast scopes (mixed precision)"),
    compute_output_spec=not_applicable("backend.compute_output_spec (symbolic tracing)"),
    device=not_applicable("backend device scopes"),
    bidirectional_lstm=not_applicable("backend-specific fused RNN kernels"),
    bidirectional_gru=not_applicable("backend-specific fused RNN kernels"),
)


# -- random (test data only) ------------------------------------------------------------------------
def _rng(seed):
    return np.random.default_rng(None if seed is None or not isinstance(seed, int) else seed)


def _uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return _rng(seed).uniform(minval, maxval, shape).astype(_dtypes.to_numpy(dtype or "float32"))


def _normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return _rng(seed).normal(mean, stddev, shape).astype(_dtypes.to_numpy(dtype or "float32"))


def _randint(shape, minval, maxval, dtype="int32", seed=None):
    return _rng(seed).integers(minval, maxval, shape).astype(_dtypes.to_numpy(dtype))


random = types.SimpleNamespace(uniform=_uniform, normal=_normal, randint=_randint, SeedGenerator=lambda *a, **k: None)


# -- models ------------------------------------------------------------------------------------------
Model = og.Model
Sequential = og.Sequential
Functional = og.Model
Input = og.Input
InputLayer = og.InputLayer
InputSpec = layers.InputSpec
Layer = og.Layer


model_from_json = og.models.model_from_json  # Keras's layout both ways (onnxgraph.saving._keras_config)


models = types.SimpleNamespace(Model=Model, Sequential=Sequential, Functional=Functional,
                               model_from_json=model_from_json, clone_model=not_applicable("clone_model"))

# -- not applicable to an ONNX-graph library: Keras backend and quantization internals -------------
dtype_policy = not_applicable("Keras dtype policies (mixed precision)")
dtype_policies = dtype_policy
quantizers = not_applicable("Keras weight quantization (onnxgraph quantizes at export: model.export(quantize=...))")
AbsMaxQuantizer = Int8QuantizationConfig = Int4QuantizationConfig = GPTQConfig = AWQConfig = quantizers
export = not_applicable("Keras's export module (onnxgraph models are ONNX already)")
applications = og.applications
constraints = not_applicable("constraints module")  # replaced below when onnxgraph has it
regularizers = not_applicable("regularizers module")
try:  # the regularizers/constraints modules exist once issue 13's work lands
    from onnxgraph import constraints  # noqa: F811
except ImportError:
    pass
try:
    from onnxgraph import regularizers  # noqa: F811
except ImportError:
    pass

# -- structure utilities the tests use on data --------------------------------------------------
def _assert_same_structure(a, b, check_types=False):
    """keras.tree.assert_same_structure (optree's node checks and messages)."""
    nested = (list, tuple, dict)
    if isinstance(a, nested) or isinstance(b, nested):
        if type(a) is not type(b):
            raise ValueError(f"Node type mismatch; expected {type(a)}, but got {type(b)}.")
        if isinstance(a, dict):
            if set(a) != set(b):
                raise ValueError(f"Node keys mismatch; missing key(s): {set(a) - set(b)}; extra key(s): "
                                 f"{set(b) - set(a)}.")
            pairs = [(a[k], b[k]) for k in a]
        else:
            if len(a) != len(b):
                raise ValueError(f"Node arity mismatch; expected {len(a)}, but got {len(b)}.")
            pairs = list(zip(a, b))
        for x, y in pairs:
            _assert_same_structure(x, y)


def _map_structure(fn, *structures):
    from onnxgraph.utils._tree import flatten, pack_like

    flats = [flatten(s) for s in structures]
    return pack_like(structures[0], [fn(*items) for items in zip(*flats)])


tree = types.SimpleNamespace(flatten=lambda s: __import__("onnxgraph.utils._tree", fromlist=["flatten"]).flatten(s),
                             map_structure=_map_structure, assert_same_structure=_assert_same_structure)

# -- layer modules, as `from keras.src.layers.activations import elu` gives them ------------------
elu = types.SimpleNamespace(ELU=layers.ELU)
leaky_relu = types.SimpleNamespace(LeakyReLU=layers.LeakyReLU)
prelu = types.SimpleNamespace(PReLU=layers.PReLU)
relu = types.SimpleNamespace(ReLU=layers.ReLU)
softmax = types.SimpleNamespace(Softmax=layers.Softmax)
MeanSquaredError = losses.MeanSquaredError
tf = tf_data = not_applicable("TensorFlow (tf.data pipelines)")
grain = not_applicable("grain data pipelines")


def skip_if_backend(given_backend, reason):
    """Keras's conftest helper: skip on that Keras backend (onnxgraph is none of them)."""
    import pytest

    return pytest.mark.skipif(False, reason=reason)

class PyDataset:
    """keras.utils.PyDataset: tests subclass it, so it is a class whose instances are not applicable."""

    def __init__(self, *args, **kwargs):
        raise NotApplicable("not applicable: keras.utils.PyDataset (onnxgraph's fit takes arrays and generators)")
test_case = types.SimpleNamespace()  # filled below: testing.test_case
is_flash_attention_enabled = lambda: False  # noqa: E731 - onnxruntime picks attention kernels itself
disable_flash_attention = lambda: None  # noqa: E731


def enable_flash_attention():
    """Keras's tearDown turns it back on (a no-op here); a test that needs it on is n/a."""
    import inspect

    if inspect.stack()[1].function != "tearDown":
        raise NotApplicable("not applicable: flash attention switch (onnxruntime picks attention kernels)")

from tests.keras_compat._testcase import testing  # noqa: E402

test_case = testing.test_case
