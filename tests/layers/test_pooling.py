"""Max/Average pooling 1D/2D/3D and global pooling: shapes and numerics vs numpy and Keras 3."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers, ops
from tests.conftest import check_onnx, rand
from tests.layers import _conv_reference as ref

keras = pytest.importorskip("keras")

GRID_2D = [(shape, pool, strides, padding)
           for shape in [(7, 9, 3), (8, 5, 2)]
           for pool in [2, 3, (2, 3)]
           for strides in [None, 1, 2, (1, 3)]
           for padding in ["valid", "same"]]


def _asymmetric_same(shape, pool, strides, padding):
    """Keras's torch backend pads asymmetric "same" windows by edge replication, so its averages there
    differ from Keras's definition (TF/JAX: padding excluded); those cases are checked against numpy only."""
    if padding != "same":
        return False
    pools = np.broadcast_to(pool, len(shape) - 1)
    strides = pools if strides is None else np.broadcast_to(strides, len(shape) - 1)
    return any(a != b for a, b in (ref.same_pad(n, k, s) for n, k, s in zip(shape[:-1], pools, strides)))


def _check(class_name, shape, pool, strides, padding, data_format="channels_last"):
    mode = "max" if class_name.startswith("Max") else "average"
    kwargs = dict(pool_size=pool, strides=strides, padding=padding, data_format=data_format)
    layer = getattr(layers, class_name)(**kwargs)
    x = rand(2, *shape, seed=7)
    if data_format == "channels_first":
        x = ref.to_channels_first(x)
    got, model = ref.run_layer(layer, x)
    want_keras, keras_layer = ref.keras_output(keras, class_name, kwargs, x)
    assert model.output_shape == tuple(keras_layer.compute_output_shape((None, *x.shape[1:])))
    if mode == "max" or not _asymmetric_same(shape, pool, strides, padding):
        ref.assert_close(got, want_keras)
    x_last = x if data_format == "channels_last" else ref.to_channels_last(x)
    want = ref.pool(x_last, layer.pool_size, layer.strides, padding, mode)
    if data_format == "channels_first":
        want = ref.to_channels_first(want)
    ref.assert_close(got, want.astype("float32"))


@pytest.mark.parametrize("class_name", ["MaxPooling2D", "AveragePooling2D"])
@pytest.mark.parametrize("shape,pool,strides,padding", GRID_2D)
def test_pooling2d_grid(class_name, shape, pool, strides, padding):
    _check(class_name, shape, pool, strides, padding)


@pytest.mark.parametrize("class_name", ["MaxPooling2D", "AveragePooling2D"])
@pytest.mark.parametrize("shape,pool,strides,padding", GRID_2D[::5])
def test_pooling2d_channels_first(class_name, shape, pool, strides, padding):
    _check(class_name, shape, pool, strides, padding, "channels_first")


@pytest.mark.parametrize("class_name", ["MaxPooling1D", "AveragePooling1D"])
@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 2, "same"), (2, 1, "same"),
                                                  (4, 3, "same"), (3, 1, "valid")])
def test_pooling1d(class_name, pool, strides, padding):
    _check(class_name, (9, 3), pool, strides, padding)


@pytest.mark.parametrize("class_name", ["MaxPooling3D", "AveragePooling3D"])
@pytest.mark.parametrize("pool,strides,padding,data_format", [(2, None, "valid", "channels_last"),
                                                              ((2, 3, 1), 2, "same", "channels_last"),
                                                              (3, (1, 2, 2), "same", "channels_first")])
def test_pooling3d(class_name, pool, strides, padding, data_format):
    _check(class_name, (5, 6, 7, 2), pool, strides, padding, data_format)


def test_keras_torch_backend_replicates_asymmetric_same_padding():
    """The documented deviation above, pinned: Keras-torch averages the replicated edge, we exclude padding."""
    x = rand(1, 5, 5, 1)
    layer = layers.AveragePooling2D(4, strides=1, padding="same")
    got, _ = ref.run_layer(layer, x)
    want = ref.pool(x, (4, 4), (1, 1), "same", "average").astype("float32")
    ref.assert_close(got, want)
    keras_out, _ = ref.keras_output(keras, "AveragePooling2D", dict(pool_size=4, strides=1, padding="same"), x)
    assert not np.allclose(keras_out, want, atol=1e-4)
    np.testing.assert_allclose(keras_out[0, 1:3, 1:3], want[0, 1:3, 1:3], rtol=1e-5)  # windows inside agree


@pytest.mark.parametrize("class_name", ["MaxPooling2D", "AveragePooling2D"])
def test_same_padding_with_runtime_sizes(class_name):
    mode = "max" if class_name.startswith("Max") else "average"
    x = og.Input(shape=(None, None, 2))
    model = og.Model(x, getattr(layers, class_name)(3, strides=2, padding="same")(x))
    proto = check_onnx(model)
    attributes = [a for n in proto.graph.node for a in n.attribute]
    assert not [a for a in attributes if a.name == "auto_pad"]
    assert all(a.i == 0 for a in attributes if a.name == "ceil_mode")
    for h, w in [(7, 8), (4, 9), (1, 1)]:
        data = rand(2, h, w, 2, seed=h)
        ref.assert_close(model.predict(data, verbose=0), ref.pool(data, (3, 3), (2, 2), "same", mode).astype("float32"))


GLOBAL = [(f"Global{kind}Pooling{rank}D", rank, data_format, keepdims)
          for kind in ("Max", "Average") for rank in (1, 2, 3)
          for data_format in ("channels_last", "channels_first") for keepdims in (False, True)]


@pytest.mark.parametrize("class_name,rank,data_format,keepdims", GLOBAL)
def test_global_pooling(class_name, rank, data_format, keepdims):
    shape = (5, 4, 3, 6)[-(rank + 1):]
    x = rand(3, *shape, seed=rank)
    if data_format == "channels_first":
        x = ref.to_channels_first(x)
    kwargs = dict(data_format=data_format, keepdims=keepdims)
    got, model = ref.run_layer(getattr(layers, class_name)(**kwargs), x)
    want_keras, keras_layer = ref.keras_output(keras, class_name, kwargs, x)
    assert model.output_shape == tuple(keras_layer.compute_output_shape((None, *x.shape[1:])))
    ref.assert_close(got, want_keras)
    axes = tuple(range(1, rank + 1)) if data_format == "channels_last" else tuple(range(2, rank + 2))
    reduce = np.max if "Max" in class_name else np.mean
    ref.assert_close(got, reduce(x, axis=axes, keepdims=keepdims))


def test_global_average_pooling1d_mask():
    x = rand(2, 5, 3)
    mask = np.array([[1, 1, 0, 0, 1], [1, 0, 0, 0, 0]], dtype=bool)
    inputs, mask_in = og.Input(shape=(5, 3)), og.Input(shape=(5,), dtype="bool")
    layer = layers.GlobalAveragePooling1D()
    model = og.Model([inputs, mask_in], layer(inputs, mask=mask_in))
    check_onnx(model)
    got = model.predict([x, mask], verbose=0)
    want = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    ref.assert_close(got, want.astype("float32"))
    keras_layer = keras.layers.GlobalAveragePooling1D()
    ref.assert_close(got, keras.ops.convert_to_numpy(keras_layer(x, mask=mask)))


def test_guide_shapes_config_and_errors():
    x = og.Input(shape=(28, 28, 64))
    pool = layers.MaxPooling2D(3)
    assert pool(x).shape == (None, 9, 9, 64)
    config = pool.get_config()
    assert config["pool_size"] == [3, 3] and config["strides"] == [3, 3]
    assert layers.MaxPooling2D.from_config(config).get_config() == config
    keras_config = keras.layers.MaxPooling2D(3).get_config()
    assert tuple(keras_config["strides"]) == (3, 3) and keras_config["padding"] == config["padding"]
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.GlobalAvgPool2D is layers.GlobalAveragePooling2D
    with pytest.raises(ValueError, match=r"Layer 'p' expects an input of rank 4"):
        layers.MaxPooling2D(2, name="p")(og.Input(shape=(8, 3)))
    with pytest.raises(ValueError, match=r"Layer 'q': input shape \(None, 2, 2, 1\) is smaller than pool_size"):
        layers.AveragePooling2D(3, name="q")(og.Input(shape=(2, 2, 1)))


def test_ops_pooling_eager():
    data = rand(2, 7, 6, 3)
    ref.assert_close(ops.max_pool(data, 3, 2, "same"), ref.pool(data, (3, 3), (2, 2), "same", "max").astype("float32"))
    ref.assert_close(ops.average_pool(data, (2, 3), None, "same"),
                     ref.pool(data, (2, 3), (2, 3), "same", "average").astype("float32"))
