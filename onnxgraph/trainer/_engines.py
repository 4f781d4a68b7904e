"""compile(engine=...): which engine trains a model.

- "onnx": the train step as one standard-ONNX graph on onnxruntime's InferenceSession
  (`_onnx_engine.py`): any onnxruntime build (cpu, gpu, training), any provider.
- "ort-training": onnxruntime-training 1.19.2 computes the gradients, numpy applies the
  optimizer (`_engine.py`); CPU only, needs the `train` extra.
- "auto" (default): "onnx", unless the model needs something only "ort-training" has (an op
  without an onnxgraph gradient rule, an optimizer without an in-graph update) and
  onnxruntime-training is installed.
"""

from __future__ import annotations

__all__ = ["ENGINES", "check_engine", "make_engine", "training_runtime_available"]

ENGINES = ("auto", "onnx", "ort-training")


def check_engine(kind) -> str:
    if kind not in ENGINES:
        raise ValueError(f"compile(): engine must be one of {list(ENGINES)}, got {kind!r}. 'onnx' runs on any "
                         "onnxruntime; 'ort-training' needs the `train` extra (onnxruntime-training).")
    return kind


def training_runtime_available() -> bool:
    from onnxgraph.trainer import _ort

    try:
        _ort.training_api()
    except ImportError:
        return False
    return True


def make_engine(kind, model, losses, loss_weights, label_specs, optimizer, threads=None, providers="auto"):
    """The engine object for `kind` (see the module docstring)."""
    if kind == "ort-training":
        return _ort_training(model, losses, loss_weights, label_specs, optimizer, threads, providers)
    from onnxgraph.autodiff import NoGradientError
    from onnxgraph.trainer._onnx_engine import OnnxEngine

    if kind == "onnx":
        return OnnxEngine(model, losses, loss_weights, label_specs, optimizer, threads, providers)
    try:
        return OnnxEngine(model, losses, loss_weights, label_specs, optimizer, threads, providers)
    except (NoGradientError, NotImplementedError) as error:
        if not training_runtime_available():
            raise
        engine = _ort_training(model, losses, loss_weights, label_specs, optimizer, threads, providers)
        engine.auto_reason = f"the 'onnx' engine cannot train it: {error}"  # model._engine.auto_reason says why
        return engine


def _ort_training(model, losses, loss_weights, label_specs, optimizer, threads, providers):
    from onnxgraph.trainer._engine import Engine

    wants_cuda = providers == "cuda" or (isinstance(providers, (list, tuple)) and "CUDAExecutionProvider" in providers)
    if wants_cuda:
        raise ValueError("engine='ort-training' runs on the CPU only (onnxruntime-training 1.19.2's CUDA build needs "
                         "CUDA 11.8/cuDNN 8); train on CUDA with engine='onnx' and onnxruntime-gpu.")
    return Engine(model, losses, loss_weights, label_specs, optimizer, threads=threads)
