"""VGG16/VGG19/ResNet50/MobileNet/MobileNetV2: Keras names, shapes, parameter counts and predictions."""

import numpy as np
import pytest

import onnxgraph as og
from tests.conftest import check_onnx, rand

keras = pytest.importorskip("keras")

# keras.applications.*(weights=None).count_params() with Keras 3.15 (torch backend).
FULL_SIZE_PARAMS = {"VGG16": 138_357_544, "VGG19": 143_667_240, "ResNet50": 25_636_712, "MobileNetV2": 3_538_984,
                    "MobileNet": 4_253_864}


def both(name, **kwargs):
    keras.backend.clear_session()
    og.utils.clear_session()
    return getattr(og.applications, name)(weights=None, **kwargs), getattr(keras.applications, name)(weights=None, **kwargs)


def copy_randomized_weights(theirs, ours, seed=0):
    """Random Keras weights (BN statistics too, variances positive), copied into ours."""
    rng = np.random.default_rng(seed)
    values = []
    for w in theirs.weights:
        v = rng.standard_normal(tuple(w.shape)).astype("float32")
        if "variance" in w.path:
            v = np.abs(v) + 0.5
        elif "kernel" in w.path:  # keep activations O(1) through deep stacks
            fan_in = int(np.prod(w.shape[:-1])) if len(w.shape) > 1 else 1
            v *= np.sqrt(2.0 / fan_in) if "depthwise" not in w.path else 0.3
        values.append(v)
    theirs.set_weights(values)
    ours.set_weights(values)


def assert_close_to_keras(got, want):
    scale = max(float(np.abs(want).max()), 1e-6)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5 * scale)


@pytest.mark.parametrize("name", [pytest.param("VGG19", marks=pytest.mark.slow), "ResNet50", "MobileNetV2",
                                  "MobileNet"])
def test_full_size_parameter_counts_and_names(name):
    # VGG16's 138,357,544 was checked the same way; it is left out because building its
    # 138M random weights takes ~10 s. VGG19 is the guide's model.
    model = getattr(og.applications, name)(weights=None)  # built, never run
    assert model.count_params() == FULL_SIZE_PARAMS[name]
    assert model.input.shape == (None, 224, 224, 3) and model.output.shape == (None, 1000)
    assert model.name == {"MobileNetV2": "mobilenetv2_1.00_224", "MobileNet": "mobilenet_1.00_224"}.get(
        name, name.lower())
    assert model.layers[-1].name == "predictions"


def assert_same_structure(ours, theirs):
    assert ours.name == theirs.name
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers]
    assert [layer.output.shape for layer in ours.layers] == [tuple(layer.output.shape) for layer in theirs.layers]
    assert ours.count_params() == theirs.count_params()
    assert len(ours.trainable_weights) == len(theirs.trainable_weights)


@pytest.mark.parametrize("name,kwargs", [
    ("VGG16", dict(include_top=False, input_shape=(48, 40, 3), pooling="max")),
    ("MobileNetV2", dict(input_shape=(96, 96, 3), alpha=0.35, classes=7, classifier_activation=None)),
    ("MobileNetV2", dict(input_shape=(64, 80, 3), alpha=1.4, include_top=False)),
    ("MobileNet", dict(input_shape=(128, 128, 3), alpha=0.5, depth_multiplier=2, classes=7)),
    ("MobileNet", dict(input_shape=(64, 80, 3), include_top=False, pooling="avg")),
])
def test_structure_matches_keras(name, kwargs):
    assert_same_structure(*both(name, **kwargs))


@pytest.mark.parametrize("name,kwargs", [
    ("ResNet50", dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")),
    ("MobileNetV2", dict(include_top=False, input_shape=(32, 32, 3))),
    ("MobileNet", dict(include_top=False, input_shape=(32, 32, 3), alpha=0.25)),
])
def test_predictions_match_keras(name, kwargs):
    ours, theirs = both(name, **kwargs)
    assert_same_structure(ours, theirs)
    copy_randomized_weights(theirs, ours)
    proto = check_onnx(ours)
    # channels_last in, channels_last out, everything between in NCHW.
    assert sum(node.op_type == "Transpose" for node in proto.graph.node) <= 2
    x = rand(2, *ours.input.shape[1:], seed=1)
    assert_close_to_keras(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs(x)))


def test_vgg19_feature_extraction_like_the_guide():
    vgg19, keras_vgg19 = both("VGG19", include_top=False, input_shape=(32, 32, 3))
    assert_same_structure(vgg19, keras_vgg19)
    features = og.Model(inputs=vgg19.input, outputs=[layer.output for layer in vgg19.layers])
    keras_features = keras.Model(keras_vgg19.input, [layer.output for layer in keras_vgg19.layers])
    check_onnx(features)
    copy_randomized_weights(keras_vgg19, vgg19, seed=2)
    img = np.random.default_rng(3).random((1, 32, 32, 3)).astype("float32")
    extracted = features(img)
    assert len(extracted) == len(vgg19.layers) == 22
    want = [keras.ops.convert_to_numpy(t) for t in keras_features(img)]
    assert [a.shape for a in extracted] == [w.shape for w in want]
    assert extracted[-1].shape == (1, 1, 1, 512)
    for got, expected in zip(extracted, want):
        assert_close_to_keras(got, expected)


def test_weights_from_a_keras_weights_file(tmp_path):
    ours_arch, theirs = both("MobileNetV2", include_top=False, input_shape=(32, 32, 3), pooling="avg")
    copy_randomized_weights(theirs, ours_arch, seed=4)
    theirs.save_weights(tmp_path / "mnv2.weights.h5")
    og.utils.clear_session()
    ours = og.applications.MobileNetV2(include_top=False, input_shape=(32, 32, 3), pooling="avg",
                                       weights=str(tmp_path / "mnv2.weights.h5"))
    x = rand(2, 32, 32, 3, seed=5)
    assert_close_to_keras(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs(x)))


def test_input_tensor_and_preprocess_input():
    image = og.Input(shape=(32, 32, 3), name="image")
    model = og.applications.VGG16(weights=None, include_top=False, input_tensor=image)
    assert model.input is image and model.layers[0].name == "image"
    x = np.random.default_rng(0).integers(0, 256, size=(2, 4, 4, 3)).astype("uint8")
    for module in ("vgg16", "vgg19", "resnet50", "mobilenet_v2"):
        np.testing.assert_allclose(getattr(og.applications, module).preprocess_input(x),
                                   keras.ops.convert_to_numpy(getattr(keras.applications, module).preprocess_input(x.astype("float32"))),
                                   rtol=1e-6, atol=1e-4)


def test_argument_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"vgg16_weights_tf_dim_ordering_tf_kernels_notop\.h5.*does not download"):
        og.applications.VGG16(include_top=False, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match=r"`input_shape` should be \(224, 224, 3\)"):
        og.applications.ResNet50(input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="at least 32x32"):
        og.applications.VGG19(weights=None, include_top=False, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="`classes` should be 1000"):
        og.applications.MobileNetV2(classes=10)
    with pytest.raises(ValueError, match="The `weights` argument"):
        og.applications.VGG19(weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="static `input_shape`"):
        og.applications.VGG19(weights=None, input_shape=(None, None, 3))
