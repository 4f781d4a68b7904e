"""onnxruntime import and execution-provider choice ("auto", "cpu", "cuda" or a list)."""

from __future__ import annotations

import functools

__all__ = ["import_onnxruntime", "resolve_providers", "RuntimeMissingError"]


class RuntimeMissingError(ImportError):
    pass


def _skip_torch_import() -> None:
    """onnxruntime-training's __init__ imports torch through ORTModule (~2 s, and torch is not a
    dependency). Register `onnxruntime.training` as a bare package so its submodules
    (artifacts, api, onnxblock) still import, and make ORTModule absent."""
    import importlib.util
    import os
    import sys
    import types

    if "onnxruntime" in sys.modules or "onnxruntime.training" in sys.modules:
        return
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return
    folder = os.path.join(list(spec.submodule_search_locations)[0], "training")
    if not os.path.isdir(folder):
        return
    package = types.ModuleType("onnxruntime.training")
    package.__path__ = [folder]
    package.__package__ = "onnxruntime.training"
    sys.modules["onnxruntime.training"] = package
    sys.modules["onnxruntime.training.ortmodule"] = None


def import_onnxruntime():
    _skip_torch_import()
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeMissingError(
            "onnxgraph needs an ONNX runtime to run models, and none is installed. Install one "
            "extra: `pip install \"onnxgraph[cpu]\"` (onnxruntime), `pip install \"onnxgraph[gpu]\"` "
            "(onnxruntime-gpu) or `pip install \"onnxgraph[train]\"` (onnxruntime-training, also "
            "needed for fit). Install only one of them."
        ) from None
    return onnxruntime


@functools.lru_cache(maxsize=1)
def _cuda_usable() -> bool:
    """CUDA is listed by every GPU-capable wheel, loadable only with matching CUDA libraries."""
    ort = import_onnxruntime()
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    import ctypes

    for lib in ("libcudart.so.12", "libcudart.so.11.0", "libcuda.so.1"):
        try:
            ctypes.CDLL(lib)
        except OSError:
            continue
        return lib != "libcuda.so.1" or _has_runtime_libs()
    return False


def _has_runtime_libs() -> bool:
    import ctypes

    for lib in ("libcublas.so.12", "libcublas.so.11"):
        try:
            ctypes.CDLL(lib)
            return True
        except OSError:
            continue
    return False


def resolve_providers(providers="auto") -> list[str]:
    """Execution providers for a session: CUDA first when it can load, then CPU."""
    if isinstance(providers, (list, tuple)):
        return list(providers)
    if providers == "cpu":
        return ["CPUExecutionProvider"]
    if providers == "cuda":
        ort = import_onnxruntime()
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ValueError(
                "providers='cuda' was requested, but this onnxruntime has no CUDA provider. "
                "Install the `gpu` extra (onnxruntime-gpu) instead of `cpu`/`train`."
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if providers == "auto":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"] if _cuda_usable() else ["CPUExecutionProvider"]
    raise ValueError(f"providers must be 'auto', 'cpu', 'cuda' or a list of provider names, got {providers!r}.")
