"""`keras.applications.vgg19`: the VGG19 constructor and its input preprocessing."""

from onnxgraph.applications import _imagenet_utils
from onnxgraph.applications._vgg import VGG19

__all__ = ["VGG19", "preprocess_input"]


def preprocess_input(x, data_format=None):
    """Preprocess a channels_last RGB image batch (numpy) for VGG19 ("caffe" mode, as Keras)."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"onnxgraph applications are channels_last; got data_format={data_format!r}.")
    return _imagenet_utils.preprocess_input(x, mode="caffe")
