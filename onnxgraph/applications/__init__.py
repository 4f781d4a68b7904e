"""Keras applications with Keras layer names, shapes and parameter counts.

    vgg19 = og.applications.VGG19(weights=None, include_top=False, input_shape=(64, 64, 3))
    features = og.Model(vgg19.input, [layer.output for layer in vgg19.layers])

`weights` is None, a path to a Keras weights file (`.weights.h5`, `.keras`, or the
legacy `.h5` ImageNet files keras.applications downloads), or "imagenet", which reads
the file from Keras's download cache: onnxgraph itself never downloads.
"""

from onnxgraph.applications import mobilenet, mobilenet_v2, resnet50, vgg16, vgg19
from onnxgraph.applications._mobilenet import MobileNet
from onnxgraph.applications._mobilenet_v2 import MobileNetV2
from onnxgraph.applications._resnet import ResNet50
from onnxgraph.applications._vgg import VGG16, VGG19

__all__ = ["VGG16", "VGG19", "ResNet50", "MobileNet", "MobileNetV2", "vgg16", "vgg19", "resnet50", "mobilenet",
           "mobilenet_v2"]
