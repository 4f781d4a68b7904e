"""Reverse-mode differentiation of onnxgraph graphs into standard ONNX ops.

`gradients(graph, loss, wrt)` returns dloss/dx for each tensor in `wrt`, as symbolic tensors
computed by backward nodes in plain ONNX (opset 21, default domain), so the resulting
forward+backward graph runs on any onnxruntime. Each op's gradient is a rule registered with
`register_gradient` (one module per op family); see README.md in this folder.
"""

from onnxgraph.autodiff._registry import NoGradientError, register_gradient
from onnxgraph.autodiff._core import gradients

# Rule modules register on import (one line per family).
from onnxgraph.autodiff import _recurrent  # noqa: F401,E402
from onnxgraph.autodiff import _einsum  # noqa: F401,E402
from onnxgraph.autodiff import _elementwise  # noqa: F401,E402
from onnxgraph.autodiff import _matmul  # noqa: F401,E402
from onnxgraph.autodiff import _activations  # noqa: F401,E402
from onnxgraph.autodiff import _misc  # noqa: F401,E402
from onnxgraph.autodiff import _reduce  # noqa: F401,E402
from onnxgraph.autodiff import _softmax  # noqa: F401,E402
from onnxgraph.autodiff import _shape  # noqa: F401,E402
from onnxgraph.autodiff import _indexing  # noqa: F401,E402
from onnxgraph.autodiff import _conv  # noqa: F401,E402
from onnxgraph.autodiff import _pool  # noqa: F401,E402
from onnxgraph.autodiff import _resize  # noqa: F401,E402
from onnxgraph.autodiff import _normalization  # noqa: F401,E402
from onnxgraph.autodiff import _dropout  # noqa: F401,E402

__all__ = ["gradients", "register_gradient", "NoGradientError"]
