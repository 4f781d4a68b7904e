"""`keras.applications.mobilenet_v2`: the MobileNetV2 constructor and its input preprocessing."""

from onnxgraph.applications import _imagenet_utils
from onnxgraph.applications._mobilenet_v2 import MobileNetV2

__all__ = ["MobileNetV2", "preprocess_input"]


def preprocess_input(x, data_format=None):
    """Preprocess a channels_last RGB image batch (numpy) for MobileNetV2 ("tf" mode, as Keras)."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"onnxgraph applications are channels_last; got data_format={data_format!r}.")
    return _imagenet_utils.preprocess_input(x, mode="tf")
