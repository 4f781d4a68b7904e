"""The emission core: symbolic tensors, nodes, naming scopes and ONNX serialization.

See README.md in this folder for the design in prose.
"""
