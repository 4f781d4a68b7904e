"""Importing ONNX models made by other tools (torch.onnx, Keras/tf2onnx export, onnx.helper).

    m = og.Model.from_onnx("model.onnx")
    features = og.Model(m.inputs, m.get_layer("/layer3/Relu").output)
"""

from onnxgraph.interop._import import ImportedModel, from_onnx
from onnxgraph.interop._node_layer import OnnxNode

__all__ = ["from_onnx", "ImportedModel", "OnnxNode"]
