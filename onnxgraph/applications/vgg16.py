"""`keras.applications.vgg16`: the VGG16 constructor and its input preprocessing."""

from onnxgraph.applications import _imagenet_utils
from onnxgraph.applications._vgg import VGG16

__all__ = ["VGG16", "preprocess_input"]


def preprocess_input(x, data_format=None):
    """Preprocess a channels_last RGB image batch (numpy) for VGG16 ("caffe" mode, as Keras)."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"onnxgraph applications are channels_last; got data_format={data_format!r}.")
    return _imagenet_utils.preprocess_input(x, mode="caffe")
