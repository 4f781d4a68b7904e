"""Edge export: opset target, float16, int8 and ORT format, with a measured report."""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import onnx

from onnxgraph.export import _report
from onnxgraph.export._fp16 import convert_float16
from onnxgraph.export._opset import convert_to_opset, model_opset
from onnxgraph.export._quantize import quantize as _quantize

__all__ = ["export_model"]

_MAX_PROTO = 2**31 - 2**26  # in-memory sessions and checks need a serializable proto


def _base_proto(model) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        from onnxgraph.saving._safe_io import check_onnx_proto

        check_onnx_proto(model, "export_model")  # in memory: external data (no folder) is refused
        return model
    if isinstance(model, (str, os.PathLike)):
        from onnxgraph.saving._files import read_model_file
        from onnxgraph.models._export import CONFIG_KEY
        from onnxgraph.saving._load import model_from_proto

        proto = read_model_file(model)
        if any(p.key == CONFIG_KEY for p in proto.metadata_props):  # the config is the source of truth
            return model_from_proto(proto, source=os.fspath(model)).to_onnx()
        return proto
    if hasattr(model, "to_onnx"):
        return model.to_onnx()
    raise TypeError(f"export needs a Model, an onnx.ModelProto or a path to a .onnx file, got {type(model).__name__}.")


def _feeds(proto, data) -> dict:
    """Normalize predict-style data (array, list, dict) into checked {input name: array}."""
    from onnxgraph.backend import dtypes
    from onnxgraph.runtime._feeds import InputSignature, normalize_feeds

    signatures = [InputSignature(name, shape, dtypes.standardize(np.dtype(dtype)))
                  for name, shape, dtype in _report.input_signatures(proto)]
    return normalize_feeds(data, signatures)


def _batches(feeds: dict, size: int) -> list[dict]:
    n = len(next(iter(feeds.values())))
    return [{k: v[i:i + size] for k, v in feeds.items()} for i in range(0, n, size)]


def export_model(model, filepath, target_opset: int | None = None, fp16: bool = False,
                 quantize: str | None = None, calibration_data=None, ort_format: bool = False, *,
                 keep_io_types: bool = True, per_channel: bool = False, sample_data=None,
                 verbose: bool = True) -> _report.ExportReport:
    """Write an edge-ready `.onnx` (and optionally `.ort`) file and measure it against float32.

    Args:
        model: a Model, an onnx.ModelProto or a path to a `.onnx` file.
        filepath: where to write the `.onnx` file (the `.ort` file goes beside it).
        target_opset: default-domain opset of the file (onnx's version converter); an op that
            does not exist in that opset is an error naming it.
        fp16: convert weights and compute to float16 (inputs/outputs stay float32 when
            `keep_io_types`).
        quantize: None, "dynamic" (int8 weights of MatMul/Gemm/RNN ops) or "static" (int8
            QDQ weights and activations, calibrated on `calibration_data`).
        calibration_data: predict-style inputs for static calibration (also the default
            sample data for the deviation report).
        ort_format: also write onnxruntime's ORT format (`<name>.ort`, basic optimizations,
            portable across hardware).
        per_channel: per-channel int8 weight scales.
        sample_data: inputs for the deviation report (default: calibration data, else random).
        verbose: print the report.

    Returns:
        An ExportReport: file sizes and max abs deviation from the float32 model per output.

    Example:
        >>> report = model.export("model_int8.onnx", quantize="static", calibration_data=x[:256])
        >>> report.max_abs_diff
    """
    if fp16 and quantize:
        raise ValueError("Choose fp16=True or quantize=..., not both: int8 quantization starts from float32.")
    if quantize not in (None, "dynamic", "static"):
        raise ValueError(f"quantize must be None, 'dynamic' or 'static', got {quantize!r}.")
    if quantize == "static" and calibration_data is None:
        raise ValueError("quantize='static' needs calibration_data: a few hundred samples shaped like the "
                         "model's inputs (the same array/list/dict you would pass to predict).")
    filepath = os.fspath(filepath)
    base = _base_proto(model)
    out = base
    calibration = _feeds(base, calibration_data) if calibration_data is not None else None
    if target_opset is not None:
        out = convert_to_opset(out, target_opset)
    notes = []
    if quantize:
        out = _quantize(out, quantize, _batches(calibration, 16) if calibration else None, per_channel)
    if fp16:
        out = convert_float16(out, keep_io_types=keep_io_types)
    if fp16 or quantize:
        _replace_metadata(out, {"target_opset": target_opset, "fp16": fp16, "quantize": quantize})
    from onnxgraph.saving._files import save_model_file

    save_model_file(out, filepath)
    report = _report.ExportReport(path=filepath, size_bytes=_file_size(filepath), float32_size_bytes=base.ByteSize(),
                                  opset=model_opset(out), ir_version=out.ir_version, fp16=fp16,
                                  quantize=quantize, notes=notes)
    if sample_data is not None:
        samples = _feeds(base, sample_data)
    elif calibration is not None:
        samples = {k: v[:32] for k, v in calibration.items()}
    else:
        samples = _report.sample_feeds(base)
    report.samples = len(next(iter(samples.values()))) if samples else 0
    reference = _run_reference(base, samples, notes)
    if ort_format:
        report.ort_path = _write_ort(filepath, notes)
        report.ort_size_bytes = _file_size(report.ort_path) if report.ort_path else None
    if reference is not None:
        report.output_scale = {k: float(np.max(np.abs(v))) if v.size else 0.0 for k, v in reference.items()}
        report.max_abs_diff = _measure(filepath, samples, reference, notes)
        if report.ort_path:
            report.ort_max_abs_diff = _measure(report.ort_path, samples, reference, notes)
    if verbose:
        print(report)
    return report


def _file_size(path: str) -> int:
    folder = os.path.dirname(os.path.abspath(path))
    size = os.path.getsize(path)
    if path.endswith(".onnx"):
        proto = onnx.load(path, load_external_data=False)
        locations = {e.value for t in proto.graph.initializer for e in t.external_data if e.key == "location"}
        size += sum(os.path.getsize(os.path.join(folder, loc)) for loc in locations)
    return size


def _replace_metadata(proto: onnx.ModelProto, options: dict) -> None:
    """Converted weights no longer match the onnxgraph config: the file says what it is instead."""
    kept = [p for p in proto.metadata_props if not p.key.startswith("onnxgraph.")]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    proto.metadata_props.add(key="onnxgraph.export", value=json.dumps(options))


def _run_reference(base, samples, notes):
    if base.ByteSize() <= _MAX_PROTO:
        return _report.run_feeds(base.SerializeToString(), samples)
    # Too large for one protobuf message: onnxruntime reads it from a file with external data.
    with tempfile.TemporaryDirectory(prefix="onnxgraph-reference-") as folder:
        path = os.path.join(folder, "reference.onnx")
        copy = onnx.ModelProto()
        copy.CopyFrom(base)  # saving with external data empties the tensors it writes out
        onnx.save_model(copy, path, save_as_external_data=True, location="reference.onnx.data")
        return _report.run_feeds(path, samples)


def _measure(path, samples, reference, notes):
    try:
        return _report.max_abs_diff(reference, _report.run_feeds(path, samples))
    except Exception as exc:  # noqa: BLE001 - a file for another runtime is still a valid export
        notes.append(f"onnxruntime here could not run {os.path.basename(path)}: {str(exc).splitlines()[0]}")
        return None


def _write_ort(filepath: str, notes) -> str | None:
    """Convert with onnxruntime itself: load the model and save the optimized graph as ORT."""
    from onnxgraph.runtime import import_onnxruntime

    ort = import_onnxruntime()
    ort_path = filepath[: -len(".onnx")] + ".ort"
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Basic optimizations only: "all" bakes in CPU-specific layouts that other devices cannot run.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = ort_path
    options.add_session_config_entry("session.save_model_format", "ORT")
    try:
        ort.InferenceSession(filepath, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001
        notes.append(f"ORT format not written: onnxruntime could not load the model: {str(exc).splitlines()[0]}")
        return None
    return ort_path
