"""Keras's `testing.TestCase`, with `run_layer_test` running its checks on onnxgraph layers.

Ported from keras/src/testing/test_case.py (Keras 3, Apache 2.0). The checks are Keras's:
config and serialization round trips, build-time weight counts, symbolic output shapes and
dtypes, eager output values, and one training step through `fit`. What differs is only how
onnxgraph is driven: eager tensors are numpy arrays, symbolic ones are `Input`s, the training
step runs on onnxgraph's trainer. Keras skips the mixed-precision check on torch CPU; so do we
(onnxgraph computes in the weights' dtype). Seed generators are counted as Keras counts them:
one per layer whose computation is random (Dropout and its relatives).
"""

from __future__ import annotations

import json
import os
import tempfile
import types

import numpy as np
from absl.testing import parameterized

import onnxgraph as og
from onnxgraph.backend import dtypes as _dtypes

__all__ = ["TestCase", "testing"]

_RANDOM_LAYERS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
                  "GaussianNoise", "AlphaDropout")


def _numpy(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_numpy(v) for v in x)
    if isinstance(x, dict):
        return {k: _numpy(v) for k, v in x.items()}
    return np.asarray(x)


def _flatten(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flatten(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flatten(item)]
    return [x]


def to_json_with_tuples(value):
    def encode(obj):
        if isinstance(obj, tuple):
            return {"__class__": "tuple", "__value__": [encode(e) for e in obj]}
        if isinstance(obj, list):
            return [encode(e) for e in obj]
        if isinstance(obj, dict):
            return {key: encode(v) for key, v in obj.items()}
        return obj

    return json.dumps(encode(value), sort_keys=True, indent=4, default=str)


def from_json_with_tuples(value):
    def decode(obj):
        if isinstance(obj, dict) and "__class__" in obj and "__value__" in obj:
            return tuple(obj["__value__"])
        return obj

    return json.loads(value, object_hook=decode)


def get_seed_generators(layer) -> list:
    found, stack = [], [layer]
    while stack:
        current = stack.pop()
        # Keras's Dropout family makes a SeedGenerator only when it is random (rate/stddev > 0).
        if type(current).__name__ in _RANDOM_LAYERS and (getattr(current, "rate", None) or getattr(current, "stddev", 0)):
            found.append(current)
        stack.extend(getattr(current, "_tracked_layers", []) or [])
    return found


def _eager_data(shape, dtype):
    if isinstance(shape, dict):
        return {k.removesuffix("_shape"): _eager_data(v, dtype[k]) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and not all(isinstance(d, (int, type(None))) for d in shape):
        return type(shape)(_eager_data(s, d) for s, d in zip(shape, dtype))
    rng = np.random.default_rng(0)
    return (rng.uniform(0, 1, tuple(shape)) * 3).astype(_dtypes.to_numpy(dtype))


def _symbolic(shape, dtype):
    if isinstance(shape, dict):
        return {k.removesuffix("_shape"): _symbolic(v, dtype[k]) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and not all(isinstance(d, (int, type(None))) for d in shape):
        return type(shape)(_symbolic(s, d) for s, d in zip(shape, dtype))
    return og.Input(batch_shape=tuple(shape), dtype=dtype)


def _dtype_like(shape, dtype="float32"):
    if isinstance(shape, dict):
        return {k: _dtype_like(v, dtype) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and not all(isinstance(d, (int, type(None))) for d in shape):
        return type(shape)(_dtype_like(s, dtype) for s in shape)
    return dtype


class TestCase(parameterized.TestCase):
    maxDiff = None

    def setUp(self):
        og.utils.clear_session()

    def get_temp_dir(self):
        folder = tempfile.mkdtemp()
        self.addCleanup(lambda: __import__("shutil").rmtree(folder, ignore_errors=True))
        return folder

    def convert_to_numpy(self, x):
        return np.asarray(x)

    def assertAllClose(self, x1, x2, atol=1e-6, rtol=1e-6, msg=None, tpu_atol=None, tpu_rtol=None):
        if not isinstance(x1, np.ndarray):
            x1 = np.asarray(x1)
        if not isinstance(x2, np.ndarray):
            x2 = np.asarray(x2)
        np.testing.assert_allclose(x1, x2, atol=atol, rtol=rtol, err_msg=msg or "")

    def assertNotAllClose(self, x1, x2, atol=1e-6, rtol=1e-6, msg=None):
        try:
            self.assertAllClose(x1, x2, atol=atol, rtol=rtol, msg=msg)
        except AssertionError:
            return
        self.fail(msg or f"The two values are close at all elements.\n{x1}\n{x2}")

    def assertAlmostEqual(self, x1, x2, decimal=3, tpu_decimal=None, msg=None):
        np.testing.assert_almost_equal(np.asarray(x1), np.asarray(x2), decimal=decimal, err_msg=msg or "")

    def assertAllEqual(self, actual, desired, msg=None):
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(desired), err_msg=msg or "")

    def assertLen(self, iterable, expected_len, msg=None):
        self.assertEqual(len(iterable), expected_len, msg=msg)

    def assertDType(self, x, dtype, msg=None):
        got = _dtypes.standardize(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype)
        self.assertEqual(got, _dtypes.standardize(dtype), msg=msg)

    def assertFileExists(self, path):
        self.assertTrue(os.path.exists(path), msg=f"File {path} does not exist")

    def assertSparse(self, x, sparse=True):
        from tests.keras_compat.shim import NotApplicable

        raise NotApplicable("not applicable: sparse tensors (ONNX tensors are dense)")

    assertRagged = assertSparse

    def run_class_serialization_test(self, instance, custom_objects=None):
        from onnxgraph.saving import custom_object_scope, deserialize_keras_object, serialize_keras_object

        cls = instance.__class__
        config = instance.get_config()
        config_json = to_json_with_tuples(config)
        ref_dir = dir(instance)[:]
        with custom_object_scope(custom_objects or {}):
            revived = cls.from_config(config)
        self.assertEqual(config_json, to_json_with_tuples(revived.get_config()))
        self.assertEqual(set(ref_dir), set(dir(revived)))

        serialized_json = to_json_with_tuples(serialize_keras_object(instance))
        with custom_object_scope(custom_objects or {}):
            revived = deserialize_keras_object(from_json_with_tuples(serialized_json))
        self.assertEqual(config_json, to_json_with_tuples(revived.get_config()))
        return revived

    def run_layer_test(self, layer_cls, init_kwargs, input_shape=None, input_dtype=None, input_sparse=False,
                       input_ragged=False, input_data=None, call_kwargs=None, expected_output_shape=None,
                       expected_output_dtype=None, expected_output_sparse=False, expected_output_ragged=False,
                       expected_output=None, expected_num_trainable_weights=None,
                       expected_num_non_trainable_weights=None, expected_num_non_trainable_variables=None,
                       expected_num_seed_generators=None, expected_num_losses=None, supports_masking=None,
                       expected_mask_shape=None, custom_objects=None, run_training_check=True,
                       run_mixed_precision_check=True, assert_built_after_instantiation=False, tpu_atol=None,
                       tpu_rtol=None):
        arguments = {k: v for k, v in locals().items() if k != "self"}
        from tests.keras_compat._layer_checks import run_layer_test

        run_layer_test(self, **arguments)


testing = types.SimpleNamespace(TestCase=TestCase, test_case=types.SimpleNamespace(TestCase=TestCase),
                                jax_uses_gpu=lambda: False, tensorflow_uses_gpu=lambda: False,
                                torch_uses_gpu=lambda: False, uses_gpu=lambda: False, uses_tpu=lambda: False,
                                jax_uses_tpu=lambda: False, tensorflow_uses_tpu=lambda: False,
                                to_json_with_tuples=to_json_with_tuples,
                                from_json_with_tuples=from_json_with_tuples)
