"""`keras.applications.mobilenet`: the MobileNet constructor and its input preprocessing."""

from onnxgraph.applications import _imagenet_utils
from onnxgraph.applications._mobilenet import MobileNet

__all__ = ["MobileNet", "preprocess_input"]


def preprocess_input(x, data_format=None):
    """Preprocess a channels_last RGB image batch (numpy) for MobileNet ("tf" mode, as Keras)."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"onnxgraph applications are channels_last; got data_format={data_format!r}.")
    return _imagenet_utils.preprocess_input(x, mode="tf")
