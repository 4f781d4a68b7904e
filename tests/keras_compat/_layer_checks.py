"""The body of Keras's `TestCase.run_layer_test`, driving onnxgraph layers (see _testcase.py)."""

from __future__ import annotations

import numpy as np

import onnxgraph as og
from onnxgraph.backend import dtypes as _dtypes
from tests.keras_compat import _testcase as tc

__all__ = ["run_layer_test"]


def _call(layer, data, call_kwargs):
    return layer(**data, **call_kwargs) if isinstance(data, dict) else layer(data, **call_kwargs)


def _build(layer, shape):
    if isinstance(shape, dict):
        layer.build(**shape)
    else:
        layer.build(shape)


def _shape_of(x):
    if isinstance(x, dict):
        return {f"{k}_shape": _shape_of(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_shape_of(v) for v in x)
    return tuple(np.shape(x))


def _matches(expected, output) -> bool:
    if isinstance(output, dict):
        return all(_matches(expected[k], output[k]) for k in output)
    if isinstance(output, (list, tuple)) and not hasattr(output, "shape"):
        if expected and all(isinstance(d, (int, type(None))) for d in expected):
            expected = [expected] * len(output)
        return len(expected) == len(output) and all(_matches(e, o) for e, o in zip(expected, output))
    shape = tuple(output.shape)
    return len(shape) == len(expected) and all(e is None or e == d for e, d in zip(expected, shape))


def run_layer_test(test, layer_cls, init_kwargs, input_shape=None, input_dtype=None, input_sparse=False,
                   input_ragged=False, input_data=None, call_kwargs=None, expected_output_shape=None,
                   expected_output_dtype=None, expected_output_sparse=False, expected_output_ragged=False,
                   expected_output=None, expected_num_trainable_weights=None, expected_num_non_trainable_weights=None,
                   expected_num_non_trainable_variables=None, expected_num_seed_generators=None,
                   expected_num_losses=None, supports_masking=None, expected_mask_shape=None, custom_objects=None,
                   run_training_check=True, run_mixed_precision_check=True, assert_built_after_instantiation=False,
                   tpu_atol=None, tpu_rtol=None):
    from tests.keras_compat.shim import NotApplicable

    if input_sparse or input_ragged or expected_output_sparse or expected_output_ragged:
        raise NotApplicable("not applicable: sparse/ragged tensors (ONNX tensors are dense)")
    if input_shape is not None and input_data is not None:
        raise ValueError("input_shape and input_data cannot be passed at the same time.")
    init_kwargs = init_kwargs or {}
    call_kwargs = call_kwargs or {}
    if input_shape is not None and input_dtype is None:
        input_dtype = tc._dtype_like(input_shape)

    if input_data is not None or input_shape is not None:
        if input_data is None:
            input_data = tc._eager_data(input_shape, input_dtype)
        layer = layer_cls(**init_kwargs)
        _call(layer, input_data, call_kwargs)
        if expected_num_trainable_weights is None:
            expected_num_trainable_weights = len(layer.trainable_weights)
        if expected_num_non_trainable_weights is None:
            expected_num_non_trainable_weights = len(layer.non_trainable_weights)
        if expected_num_non_trainable_variables is None:
            expected_num_non_trainable_variables = len(layer.non_trainable_weights)
        if expected_num_seed_generators is None:
            expected_num_seed_generators = len(tc.get_seed_generators(layer))

    layer = layer_cls(**init_kwargs)
    test.run_class_serialization_test(layer, custom_objects)
    if supports_masking is not None:
        test.assertEqual(layer.supports_masking, supports_masking, msg="Unexpected supports_masking value")

    def build_asserts(layer):
        test.assertTrue(layer.built)
        if expected_num_trainable_weights is not None:
            test.assertLen(layer.trainable_weights, expected_num_trainable_weights,
                           msg="Unexpected number of trainable_weights")
        if expected_num_non_trainable_weights is not None:
            test.assertLen(layer.non_trainable_weights, expected_num_non_trainable_weights,
                           msg="Unexpected number of non_trainable_weights")
        if expected_num_non_trainable_variables is not None:
            test.assertLen(layer.non_trainable_weights, expected_num_non_trainable_variables,
                           msg="Unexpected number of non_trainable_variables")
        if expected_num_seed_generators is not None:
            test.assertLen(tc.get_seed_generators(layer), expected_num_seed_generators,
                           msg="Unexpected number of seed_generators")

    def output_asserts(layer, output, eager=False):
        if expected_output_shape is not None:
            test.assertTrue(_matches(expected_output_shape, output),
                            msg=f"Expected output shapes {expected_output_shape} but received {_shape_of(output)}")
        if expected_output_dtype is not None:
            for x in tc._flatten(output):
                test.assertEqual(_dtypes.standardize(x.dtype), expected_output_dtype,
                                 msg=f"Expected output dtype {expected_output_dtype}, received {x.dtype}")
        if eager:
            if expected_output is not None:
                test.assertEqual(type(expected_output), type(output))
                for ref, value in zip(tc._flatten(expected_output), tc._flatten(output)):
                    test.assertAllClose(ref, value, msg="Unexpected output value")
            if expected_num_losses is not None:
                test.assertLen(layer.losses, expected_num_losses)

    if input_data is not None or input_shape is not None:
        build_shape = input_shape if input_shape is not None else _shape_of(input_data)
        layer = layer_cls(**init_kwargs)
        _build(layer, build_shape)
        build_asserts(layer)

        if input_shape is None:
            symbolic = _symbolic_like(input_data)
        else:
            symbolic = tc._symbolic(input_shape, input_dtype)
        layer = layer_cls(**init_kwargs)
        outputs = _call(layer, symbolic, call_kwargs)
        build_asserts(layer)
        output_asserts(layer, outputs)
        if expected_mask_shape is not None:
            test.assertEqual(expected_mask_shape, tuple(layer.compute_mask(symbolic).shape))
        if assert_built_after_instantiation:
            layer = layer_cls(**init_kwargs)
            test.assertTrue(layer.built, msg=f"{type(layer)} is stateless, so it should be built after instantiation.")

        layer = layer_cls(**init_kwargs)
        output_data = _call(layer, input_data, call_kwargs)
        output_asserts(layer, output_data, eager=True)
        if run_training_check:
            _training_step(layer, input_data, output_data)


def _symbolic_like(data):
    if isinstance(data, dict):
        return {k: _symbolic_like(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_symbolic_like(v) for v in data)
    array = np.asarray(data)
    return og.Input(batch_shape=array.shape, dtype=_dtypes.standardize(array.dtype))


class _SumLoss(og.losses.Loss):
    """Keras's TestLoss: the sum of the predictions (a single-op loss)."""

    def call(self, y_true, y_pred):
        return og.ops.sum(y_pred)


def _training_step(layer, input_data, output_data):
    """Keras's run_training_step: wrap the layer in a subclassed model, fit one step with SGD."""

    class TestModel(og.Model):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def call(self, x, training=False):
            return self.layer(x, training=training)

    model = TestModel(layer)
    model.compile(optimizer="sgd", loss=_SumLoss())
    x = input_data
    y = output_data
    model.fit(x, y, batch_size=len(tc._flatten(x)[0]), epochs=1, verbose=0)
