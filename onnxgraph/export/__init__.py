"""Edge export: opset targets, float16, int8 (dynamic / static QDQ), ORT format, with a report.

    report = model.export("model_fp16.onnx", fp16=True)
    print(report.size_bytes, report.max_abs_diff)
"""

from onnxgraph.export._edge import export_model
from onnxgraph.export._fp16 import convert_float16
from onnxgraph.export._opset import convert_to_opset, missing_ops
from onnxgraph.export._report import ExportReport

__all__ = ["export_model", "ExportReport", "convert_float16", "convert_to_opset", "missing_ops"]
