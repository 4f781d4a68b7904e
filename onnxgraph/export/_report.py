"""What an export produced: files, sizes, and how far its outputs are from the float32 model."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx

__all__ = ["ExportReport", "sample_feeds", "run_feeds", "input_signatures"]

_NUMPY = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16,
          onnx.TensorProto.DOUBLE: np.float64, onnx.TensorProto.INT64: np.int64,
          onnx.TensorProto.INT32: np.int32, onnx.TensorProto.BOOL: np.bool_,
          onnx.TensorProto.UINT8: np.uint8, onnx.TensorProto.INT8: np.int8}


@dataclasses.dataclass
class ExportReport:
    """Result of `model.export(...)`.

    Attributes:
        path: the `.onnx` file written. ort_path: the `.ort` file (ORT format) or None.
        size_bytes / ort_size_bytes / float32_size_bytes: file sizes (float32 = plain export).
        opset, ir_version: of the written file. fp16, quantize: what was applied.
        max_abs_diff: {output name: max |exported - float32|} on `samples` inputs (None if
        the file could not be run here), ort_max_abs_diff: the same for the `.ort` file.
        output_scale: {output name: max |float32 output|} on the same samples, for scale.
        notes: anything the caller should know (e.g. why a deviation is missing).
    """

    path: str
    size_bytes: int
    float32_size_bytes: int
    opset: int
    ir_version: int
    fp16: bool = False
    quantize: str | None = None
    samples: int = 0
    max_abs_diff: dict | None = None
    ort_path: str | None = None
    ort_size_bytes: int | None = None
    ort_max_abs_diff: dict | None = None
    output_scale: dict | None = None
    notes: list = dataclasses.field(default_factory=list)

    @property
    def worst_abs_diff(self) -> float | None:
        """The largest deviation over all outputs (None if not measured)."""
        return max(self.max_abs_diff.values()) if self.max_abs_diff else None

    def __str__(self) -> str:
        kind = ", ".join(k for k in ["float16" if self.fp16 else "", f"int8 {self.quantize}" if self.quantize else ""]
                         if k) or "float32"
        lines = [f"Exported {self.path} ({kind}, opset {self.opset}, IR {self.ir_version})",
                 f"  size: {_mb(self.size_bytes)} (float32: {_mb(self.float32_size_bytes)}, "
                 f"{self.size_bytes / max(self.float32_size_bytes, 1):.0%})"]
        if self.max_abs_diff is not None:
            lines.append(f"  max abs deviation from float32 on {self.samples} samples: {self._diffs(self.max_abs_diff)}")
        if self.ort_path:
            lines.append(f"  ORT format: {self.ort_path} ({_mb(self.ort_size_bytes)})")
            if self.ort_max_abs_diff is not None:
                lines.append(f"  ORT format max abs deviation: {self._diffs(self.ort_max_abs_diff)}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _diffs(self, diffs: dict) -> str:
        scale = self.output_scale or {}
        return ", ".join(f"{k}: {v:.3g}" + (f" (max |y| {scale[k]:.3g})" if k in scale else "")
                         for k, v in diffs.items())


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} KB"


def input_signatures(proto: onnx.ModelProto) -> list[tuple[str, tuple, type]]:
    """(name, shape with None for symbolic dims, numpy dtype) per real graph input."""
    initializers = {t.name for t in proto.graph.initializer}
    result = []
    for value in proto.graph.input:
        if value.name in initializers:
            continue
        tensor_type = value.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim)
        result.append((value.name, shape, _NUMPY.get(tensor_type.elem_type, np.float32)))
    return result


def sample_feeds(proto: onnx.ModelProto, batch: int = 4, seed: int = 0) -> dict:
    """Random inputs for `proto`: uniform [0, 1) floats, 0/1 integers (valid for any vocabulary)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, shape, dtype in input_signatures(proto):
        dims = [batch if i == 0 and d is None else (d if d is not None else 8) for i, d in enumerate(shape)]
        if np.issubdtype(dtype, np.floating):
            feeds[name] = rng.random(dims).astype(dtype)
        elif dtype is np.bool_:
            feeds[name] = rng.random(dims) < 0.5
        else:
            feeds[name] = rng.integers(0, 2, size=dims).astype(dtype)
    return feeds


def run_feeds(model_bytes_or_path, feeds: dict) -> dict:
    """{output name: array} from a fresh CPU session (float32 results for comparison)."""
    from onnxgraph.runtime import make_session

    if isinstance(model_bytes_or_path, str):
        from onnxgraph.runtime import import_onnxruntime

        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(model_bytes_or_path, sess_options=options,
                                       providers=["CPUExecutionProvider"])
    else:
        session = make_session(model_bytes_or_path, "cpu")
    wanted = {i.name: i.type for i in session.get_inputs()}
    inputs = {k: (v.astype(np.float16) if wanted.get(k) == "tensor(float16)" else v)
              for k, v in feeds.items() if k in wanted}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, inputs)))


def max_abs_diff(reference: dict, other: dict) -> dict:
    return {k: float(np.max(np.abs(other[k].astype(np.float64) - v.astype(np.float64)))) if v.size else 0.0
            for k, v in reference.items()}
