"""The emission core: symbolic tensors, nodes, naming scopes and ONNX serialization.

See README.md in this folder for the design in prose.
"""

from onnxgraph.utils._naming import clear_session

__all__ = ["clear_session"]
