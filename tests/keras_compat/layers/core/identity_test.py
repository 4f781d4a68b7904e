# Ported from keras/src/layers/core/identity_test.py (Keras 3.15.1, Apache License 2.0) by
# tests/keras_compat/port.py: only the keras imports changed (they point at the
# onnxgraph shim); the test bodies are Keras's.
import pytest
from absl.testing import parameterized

from tests.keras_compat.shim import backend
from tests.keras_compat.shim import layers
from tests.keras_compat.shim import testing


class IdentityTest(testing.TestCase):
    @parameterized.named_parameters(
        [
            {"testcase_name": "dense", "sparse": False},
            {"testcase_name": "sparse", "sparse": True},
        ]
    )
    def test_identity_basics(self, sparse):
        if sparse and not backend.SUPPORTS_SPARSE_TENSORS:
            pytest.skip("Backend does not support sparse tensors.")
        self.run_layer_test(
            layers.Identity,
            init_kwargs={},
            input_shape=(2, 3),
            input_sparse=sparse,
            expected_output_shape=(2, 3),
            expected_output_sparse=sparse,
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            run_training_check=not sparse,
            supports_masking=True,
            assert_built_after_instantiation=True,
        )
