"""onnxruntime-training access: artifact generation and the Module, without importing torch.

`onnxruntime.training`'s `__init__` imports torch; `runtime._providers` registers the package
bare so that the `artifacts`, `onnxblock` and `api` submodules load on their own. This file and
`_engine.py` are the only places that touch onnxruntime-training.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import onnx

from onnxgraph.backend.serialize import IR_VERSION
from onnxgraph.runtime._providers import import_onnxruntime

__all__ = ["TrainingRuntimeMissingError", "training_api", "Artifacts", "generate", "set_seed"]


class TrainingRuntimeMissingError(ImportError):
    pass


def training_api():
    """(onnxblock module, api module) of onnxruntime-training, or a teaching error.

    `onnxruntime.training.artifacts` is avoided: it imports onnxruntime.tools, which imports torch.
    """
    ort = import_onnxruntime()
    try:
        from onnxruntime.training import api, onnxblock
    except ImportError:
        raise TrainingRuntimeMissingError(
            f"compile(engine='ort-training') needs onnxruntime-training; the installed runtime is onnxruntime "
            f"{ort.__version__} without training support. Use engine='onnx' (the default, 'auto', picks it), "
            "which trains on any onnxruntime, or install the `train` extra instead of `cpu`/`gpu`: "
            "`pip uninstall onnxruntime onnxruntime-gpu && pip install \"onnxgraph[train]\"`."
        ) from None
    return onnxblock, api


def set_seed(seed: int) -> None:
    """Seed onnxruntime's random ops (Dropout masks)."""
    import_onnxruntime().set_seed(int(seed))


@contextlib.contextmanager
def _quiet_generation():
    """Generation builds a bare SessionOptions() that logs dozens of INFO lines; give it a quiet one."""
    from onnxruntime.training.onnxblock import _training_graph_utils as utils

    ort = import_onnxruntime()
    original = utils.SessionOptions

    def quiet_options():
        options = ort.SessionOptions()
        options.log_severity_level = 3
        return options

    utils.SessionOptions = quiet_options
    try:
        yield
    finally:
        utils.SessionOptions = original


class Artifacts:
    """A temporary folder holding training_model.onnx, eval_model.onnx and checkpoint."""

    def __init__(self, folder: tempfile.TemporaryDirectory):
        self._folder = folder
        self.path = folder.name
        self.training_model = os.path.join(self.path, "training_model.onnx")
        self.eval_model = os.path.join(self.path, "eval_model.onnx")
        self.checkpoint = os.path.join(self.path, "checkpoint")

    def cleanup(self) -> None:
        self._folder.cleanup()


def generate(forward: onnx.ModelProto, eval_model: onnx.ModelProto, requires_grad: list[str],
             frozen: list[str]) -> Artifacts:
    """Gradient graph for `forward` (its first output is the loss) plus our own eval model.

    `eval_model` must already take every parameter it reads as a graph input (named like the
    checkpoint's parameters); ORT's own eval model would replay the training-mode graph.
    """
    onnxblock, _ = training_api()

    class _Outputs(onnxblock.TrainingBlock):
        """What generate_artifacts(loss=None) builds: the graph's own outputs, the first is the loss."""

        def build(self, *output_names):
            return output_names

    block = _Outputs()
    for name in requires_grad:
        block.requires_grad(name, True)
    for name in frozen:
        block.requires_grad(name, False)
    folder = tempfile.TemporaryDirectory(prefix="onnxgraph-train-")
    result = Artifacts(folder)
    with _quiet_generation(), onnxblock.base(forward):
        block(*[output.name for output in forward.graph.output])
        training, _ = block.to_model_proto()
        onnxblock.save_checkpoint(block.parameters(), result.checkpoint)
    # onnx >= 1.17 stamps a newer IR version than ORT 1.19 accepts.
    training.ir_version = IR_VERSION
    onnx.save(training, result.training_model)
    eval_model.ir_version = IR_VERSION
    onnx.save(eval_model, result.eval_model)
    return result
