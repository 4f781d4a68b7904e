"""Keras 3 layer behaviours that Keras's own test suite checks (tests/keras_compat), pinned here."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers


@pytest.mark.parametrize("make", [lambda: layers.ReLU(), lambda: layers.LeakyReLU(), lambda: layers.ELU(),
                                  lambda: layers.Softmax(), lambda: layers.Activation("tanh"),
                                  lambda: layers.Dropout(0.5), lambda: layers.Identity(),
                                  lambda: layers.MaxPooling2D(), lambda: layers.GlobalAveragePooling1D(),
                                  lambda: layers.Masking(), lambda: layers.Reshape((2, 3))])
def test_stateless_layers_are_built_at_instantiation(make):
    assert make().built


def test_layers_with_weights_or_own_build_are_not_built_at_instantiation():
    class MyReLU(layers.ReLU):
        def build(self, input_shape):
            self.scale = self.add_weight((), initializer="ones", name="scale")

    assert not layers.Dense(2).built
    layer = MyReLU()
    assert not layer.built
    layer(og.Input(shape=(3,)))
    assert layer.built and len(layer.weights) == 1


def test_first_input_by_keyword_symbolic_and_eager():
    x = np.array([[-1.0, 2.0, -3.0]], "float32")
    assert layers.ReLU()(inputs=og.Input(shape=(3,))).shape == (None, 3)
    np.testing.assert_array_equal(layers.ReLU()(inputs=x), [[0.0, 2.0, 0.0]])


def test_attention_query_value_by_keyword_equals_positional():
    rng = np.random.default_rng(0)
    q, v = rng.normal(size=(2, 4, 8)).astype("float32"), rng.normal(size=(2, 3, 8)).astype("float32")
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=4)
    np.testing.assert_allclose(layer(query=q, value=v), layer(q, v), rtol=1e-6, atol=1e-6)


def test_eager_training_call_updates_batchnorm_moving_statistics():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 10.0, size=(64, 3)).astype("float32")
    layer = layers.BatchNormalization(momentum=0.25)
    out = layer(x, training=True)
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.75 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.25 + 0.75 * x.var(0), rtol=1e-5)
    before = layer.moving_mean.numpy().copy()
    layer(x, training=False)  # inference leaves the statistics alone
    np.testing.assert_array_equal(layer.moving_mean.numpy(), before)


def test_eager_batchnorm_follows_trainable_changes():
    x = np.random.default_rng(1).normal(5.0, 10.0, size=(32, 2)).astype("float32")
    layer = layers.BatchNormalization(epsilon=1e-7)
    layer.build((32, 2))
    layer.trainable = False
    np.testing.assert_allclose(layer(x, training=True), x, rtol=1e-5, atol=1e-5)  # frozen: inference mode
    layer.trainable = True
    np.testing.assert_allclose(layer(x, training=True).mean(0), 0.0, atol=1e-4)  # same shapes, new graph


def test_batchnorm_mask_broadcast_over_features_counts_every_position():
    # Keras broadcasts a (batch, steps, 1) mask to the inputs before counting.
    x = np.ones((1, 2, 3, 4), "float32")
    layer = layers.BatchNormalization(momentum=0.0, epsilon=1e-3)
    y = layer(x, training=True, mask=np.ones((1, 2, 1), "float32"))
    np.testing.assert_allclose(y, 0.0, atol=1e-6)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.0, atol=1e-6)


def test_relu_errors_carry_keras_wording():
    with pytest.raises(ValueError, match="max_value of a ReLU layer cannot be a negative value"):
        layers.ReLU(max_value=-1)
    with pytest.raises(ValueError, match="threshold of a ReLU layer cannot be None or a negative value"):
        layers.ReLU(threshold=None)
    with pytest.raises(ValueError, match="The negative_slope value of a Leaky ReLU layer cannot be None"):
        layers.LeakyReLU(negative_slope=None)


def test_argument_errors_carry_keras_wording():
    with pytest.raises(ValueError, match="`units` must be a positive integer.*should be a positive integer"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="Invalid value for argument `filters`. Expected a strictly positive value"):
        layers.Conv2D(0, 3)
    with pytest.raises(ValueError, match="Invalid value received for argument `rate`. Expected a float value between"):
        layers.Dropout(1.5)
    with pytest.raises(ValueError, match="`cropping` parameter of `Cropping1D` layer must be smaller than"):
        layers.Cropping1D((2, 3))(og.Input(batch_shape=(3, 5, 7)))
    with pytest.raises(ValueError, match="Values in `cropping` argument should be smaller than the corresponding"):
        layers.Cropping2D(((3, 3), (0, 0)))(og.Input(shape=(5, 5, 1)))


@pytest.mark.parametrize("noise_shape", [(None, 1, None), (20, 1, 10)])
def test_dropout_noise_shape_shares_the_mask_over_1_sized_axes(noise_shape):
    out = layers.Dropout(0.5, noise_shape=noise_shape, seed=1)(np.ones((20, 5, 10), "float32"), training=True)
    for step in range(1, 5):
        np.testing.assert_array_equal(out[:, 0, :], out[:, step, :])
    assert set(np.unique(out)) == {0.0, 2.0}  # kept units scaled by 1 / (1 - rate)


@pytest.mark.parametrize("bad", ["abc", 5, (10, "a"), (10, 0), (-1,)])
def test_dropout_refuses_bad_noise_shape(bad):
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.5, noise_shape=bad)


def test_dropout_noise_shape_is_a_tuple():
    assert layers.Dropout(0.5, noise_shape=[20, 1, 10]).noise_shape == (20, 1, 10)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_upsampling_int64_inputs(interpolation):
    # onnxruntime's Resize has no int64 kernel: nearest repeats exactly, the others go through float32.
    x = np.arange(12, dtype=np.int64).reshape(2, 2, 1, 3)
    y = layers.UpSampling2D(size=(1, 2), interpolation=interpolation)(x)
    assert y.dtype == np.int64 and y.shape == (2, 2, 2, 3)
    if interpolation == "nearest":
        np.testing.assert_array_equal(y, np.repeat(x, 2, axis=2))
    np.testing.assert_array_equal(layers.UpSampling1D(2)(np.arange(6).reshape(1, 2, 3)),
                                  np.repeat(np.arange(6).reshape(1, 2, 3), 2, axis=1))


def test_input_layer_keras_arguments():
    with pytest.warns(UserWarning, match="`input_shape` is deprecated"):
        assert layers.InputLayer(input_shape=(2, 3), batch_size=4).batch_shape == (4, 2, 3)
    assert layers.InputLayer(shape=(np.int64(32),)).batch_shape == (None, 32)
    with pytest.raises(ValueError, match="cannot pass both `batch_size` and `batch_shape`"):
        layers.InputLayer(batch_size=4, batch_shape=(2, 3))
    with pytest.raises(ValueError, match="You must pass a `shape` argument"):
        layers.InputLayer()
    assert layers.InputLayer(shape=(3,)).call() is None


def test_input_layer_on_an_existing_input_tensor():
    x = og.Input(batch_shape=(2, 3))
    layer = layers.InputLayer(input_tensor=x, shape=(3,), batch_size=2)
    assert layer.output is x and layer.batch_shape == (2, 3) and layer.dtype == "float32"
    for bad in ({"shape": (4,)}, {"batch_size": 5}, {"dtype": "float16"}, {"sparse": True}):
        with pytest.raises(ValueError, match="incompatible"):
            layers.InputLayer(input_tensor=x, **bad)
    with pytest.raises(ValueError, match="must be a KerasTensor"):
        layers.InputLayer(input_tensor=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="graph input"):
        layers.InputLayer(input_tensor=layers.Dense(2)(x))
    model = og.Model(layer.output, layers.Dense(2)(layer.output))
    assert model.predict(np.ones((2, 3), "float32"), verbose=0).shape == (2, 2)


def test_merge_errors_carry_keras_wording():
    a, b, c = (og.Input(shape=(4, 5)) for _ in range(3))
    with pytest.raises(ValueError, match="layer should be called on exactly 2 inputs"):
        layers.Subtract()([a, b, c])
    with pytest.raises(ValueError, match="requires inputs with matching shapes except for the concatenation axis"):
        layers.Concatenate()([np.ones((1, 2, 5)), np.ones((1, 1, 4))])
    for layer in (layers.Add(), layers.Concatenate()):
        with pytest.raises(ValueError, match="`mask` should be a list"):
            layer.compute_mask([a, b], np.ones((2, 4)))
        with pytest.raises(ValueError, match="`inputs` should be a list"):
            layer.compute_mask(a, [None, None])
        with pytest.raises(ValueError, match="should have the same length"):
            layer.compute_mask([a, b], [None])
        assert layer.compute_mask([a, b], None) is None


def test_normalization_mean_and_variance_broadcast_like_keras():
    layer = layers.Normalization(axis=-1, mean=5.0, variance=1.0)
    layer.build((3, 7))
    np.testing.assert_array_equal(layer.mean, np.full((1, 7), 5.0))
    layer = layers.Normalization(axis=(1, 2), mean=np.zeros((10, 13)), variance=np.ones((10, 13)))
    layer.build((None, 10, 13, 3))
    assert layer.mean.shape == (1, 10, 13, 1) and layer.variance.shape == (1, 10, 13, 1)
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(40, 4)).astype("float32")
    adapted = layers.Normalization()
    adapted.adapt(x)
    np.testing.assert_allclose(adapted.mean, x.mean(0, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(adapted.variance, x.var(0, keepdims=True), rtol=1e-4)
    with pytest.raises(AttributeError, match="before it is built"):
        layers.Normalization().mean


def test_normalization_adapts_on_the_features_of_x_y_batches():
    x = np.random.default_rng(1).random((24, 3)).astype("float32")
    layer = layers.Normalization()
    layer.adapt([(x[i:i + 8], np.zeros(8)) for i in range(0, 24, 8)])
    out = layer(x)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.var(0), 1.0, atol=1e-4)
    with pytest.raises(TypeError, match="`.shape`"):
        layers.Normalization().adapt(iter([42]))


def test_normalization_errors_carry_keras_wording():
    with pytest.raises(ValueError, match="both `mean` and `variance` must be set"):
        layers.Normalization(mean=0.5)
    with pytest.raises(ValueError, match="empty iterable"):
        layers.Normalization().adapt([])
    with pytest.raises(ValueError, match=r"All `axis` values must be in the range"):
        layers.Normalization(axis=3).build((2, 2))
    with pytest.raises(ValueError, match="incompatible shape"):
        layer = layers.Normalization()
        layer.adapt(np.ones((8, 4)))
        layer.adapt(np.ones((8, 6)))


def test_layer_normalization_on_the_last_axis_takes_any_rank():
    layer = layers.LayerNormalization()
    layer.build((2, 2, 2))
    x = np.random.default_rng(2).normal(5.0, 10.0, size=(50, 2, 2, 2)).astype("float32")
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="last dimension is 2"):
        layer(og.Input(shape=(3,)))


def test_group_and_layer_normalization_errors_carry_keras_wording():
    with pytest.raises(ValueError, match="cannot be more than the number of channels"):
        layers.GroupNormalization(groups=5)(og.Input(shape=(2, 2, 4)))
    with pytest.raises(ValueError, match="must be a multiple of the number of channels"):
        layers.GroupNormalization(groups=3)(og.Input(shape=(2, 2, 4)))
    with pytest.raises(ValueError, match="argument `groups`"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(TypeError, match="Expected an int or a list/tuple of ints for the argument 'axis'"):
        layers.LayerNormalization(axis={"axis": -1})


def test_reshaping_errors_carry_keras_wording():
    with pytest.raises(ValueError, match="Invalid permutation .*dims"):
        layers.Permute((0, 1, 2))
    with pytest.raises(ValueError, match="Invalid permutation .*dims"):
        layers.Permute((1, 4, 2))
    with pytest.raises(ValueError, match=r"non-negative integer.*-1.*target_shape=\(-2, 5\)"):
        layers.Reshape((-2, 5))
    with pytest.raises(ValueError, match=r"at most one unknown dimension.*target_shape=\(-1, -1, 5\)"):
        layers.Reshape((-1, -1, 5))
    with pytest.raises(TypeError, match="Expected an integer value for `n`"):
        layers.RepeatVector("3")
    with pytest.raises(ValueError, match="should be a positive integer"):
        layers.RepeatVector(0)
    with pytest.raises(TypeError, match="Expected an integer value for `size`"):
        layers.UpSampling1D(2.5)
    with pytest.raises(ValueError, match="incompatible with the layer"):
        dense = layers.Dense(2)
        dense.build((1, 2))
        dense(np.ones((1, 3), "float32"))


def test_time_distributed_checks_the_mask_shape():
    td = layers.TimeDistributed(layers.Dense(5))
    x = np.zeros((4, 5, 3), "float32")
    assert td(x, mask=np.ones((4, 5), bool)).shape == (4, 5, 5)
    for bad in (np.ones((5, 5), bool), np.ones((4, 6), bool), np.ones((4, 6, 2), bool)):
        with pytest.raises(ValueError, match="The `mask` passed to the `TimeDistributed` layer has a shape"):
            td(x, mask=bad)


def test_attention_key_value_mismatch_and_bad_value_dim():
    layer = layers.MultiHeadAttention(num_heads=4, key_dim=2, value_dim=2)
    with pytest.raises(ValueError, match="must be equal"):
        layer.compute_output_shape((2, 4, 8), (2, 2, 8), (2, 1, 7))
    with pytest.raises(ValueError, match="must be equal"):
        layer(np.ones((2, 4, 8), "float32"), np.ones((2, 2, 8), "float32"), np.ones((2, 1, 7), "float32"))
    with pytest.raises(ValueError, match="argument `value_dim`"):
        layers.MultiHeadAttention(num_heads=4, key_dim=4, value_dim=0)


def test_embedding_weights_argument_and_masking_flag():
    for weights in (np.ones((3, 4), "float32"), [np.ones((3, 4), "float32")]):
        layer = layers.Embedding(3, 4, weights=weights)
        assert layer.built
        np.testing.assert_array_equal(layer.embeddings.numpy(), np.ones((3, 4)))
    assert not layers.Embedding(3, 4).supports_masking
    assert layers.Embedding(3, 4, mask_zero=True).supports_masking


def test_dense_activation_may_be_set_to_none():
    layer = layers.Dense(2, use_bias=False)
    layer.build((1, 2))
    layer.set_weights([np.array([[1.0, -2.0], [3.0, -4.0]], "float32")])
    layer.activation = None
    np.testing.assert_allclose(layer(np.array([[-1.0, 2.0]], "float32")), [[5.0, -6.0]])


def test_conv_errors_carry_keras_wording():
    with pytest.raises(ValueError, match=r"The `kernel_size` argument must be a tuple of 2 integers. Received "
                                         r"kernel_size=\(1, 0\), including values \{0\}"):
        layers.Conv2D(2, (1, 0))
    with pytest.raises(ValueError, match="The number of groups must be a positive integer. Received: groups=0."):
        layers.Conv2D(5, 2, groups=0)
    with pytest.raises(ValueError, match="evenly divisible by the number of groups. Received: groups=2, filters=5."):
        layers.Conv2D(5, 2, groups=2)
    with pytest.raises(ValueError, match="`strides > 1` not supported in conjunction with `dilation_rate > 1`"):
        layers.Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="`output_padding` must be strictly less than `strides`"):
        layers.Conv1DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        layers.DepthwiseConv1D(11)(og.Input(shape=(10, 3)))
