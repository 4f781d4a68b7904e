"""int8 quantization with onnxruntime.quantization: dynamic, or static QDQ with calibration."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import types

import onnx

__all__ = ["quantize", "import_quantization", "LARGE_PROTO"]

# Above this size a proto cannot be serialized in one piece: weights go to external data.
LARGE_PROTO = 2**31 - 2**26


def import_quantization():
    """`onnxruntime.quantization`, without the torch import `onnxruntime.tools` does when torch exists.

    `onnxruntime/tools/__init__.py` imports a PyTorch helper whenever torch is installed (~4 s);
    quantization needs only its shape-inference module, so register the package bare first.
    """
    from onnxgraph.runtime import import_onnxruntime

    ort = import_onnxruntime()
    if "onnxruntime.tools" not in sys.modules:
        package = types.ModuleType("onnxruntime.tools")
        package.__path__ = [os.path.join(os.path.dirname(ort.__file__), "tools")]
        package.__package__ = "onnxruntime.tools"
        sys.modules["onnxruntime.tools"] = package
    from onnxruntime import quantization

    return quantization


@contextlib.contextmanager
def _quiet():
    """onnxruntime.quantization logs advice through the root logger; keep it out of user output."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


class _Reader:
    """A CalibrationDataReader over a list of feed dicts."""

    def __init__(self, feeds: list[dict]):
        self._feeds = list(feeds)
        self._next = 0

    def get_next(self):
        if self._next >= len(self._feeds):
            return None
        self._next += 1
        return self._feeds[self._next - 1]

    def rewind(self):
        self._next = 0


def quantize(proto: onnx.ModelProto, mode: str, calibration_feeds: list[dict] | None = None,
             per_channel: bool = False) -> onnx.ModelProto:
    """int8 weights (`"dynamic"`) or int8 weights and activations in QDQ form (`"static"`).

    Dynamic quantization covers MatMul/Gemm-style ops (activations are quantized at run time);
    static quantization also covers convolutions and needs `calibration_feeds`, a list of
    {input name: array} batches representative of real data.
    """
    if mode not in ("dynamic", "static"):
        raise ValueError(f"quantize must be None, 'dynamic' or 'static', got {mode!r}.")
    if mode == "static" and not calibration_feeds:
        raise ValueError("quantize='static' needs calibration_data: a few hundred samples shaped like the "
                         "model's inputs (the same array/list/dict you would pass to predict).")
    q = import_quantization()
    from onnxgraph.export._opset import convert_to_opset, model_opset

    if mode == "static" and model_opset(proto) > 20:
        # onnxruntime 1.19 fuses QDQ pairs into QLinearMatMul nodes of the model's opset, and has
        # no kernel for QLinearMatMul-21: quantize at opset 20.
        proto = convert_to_opset(proto, 20)
    with _quiet(), tempfile.TemporaryDirectory(prefix="onnxgraph-quant-") as folder:
        source, target = os.path.join(folder, "model.onnx"), os.path.join(folder, "quantized.onnx")
        large = proto.ByteSize() > LARGE_PROTO
        if large:
            copy = onnx.ModelProto()
            copy.CopyFrom(proto)  # saving with external data empties the tensors it writes out
            onnx.save_model(copy, source, save_as_external_data=True, location="model.onnx.data")
        else:
            onnx.save_model(proto, source)
        if mode == "dynamic":
            # ConvInteger has no int8-weight CPU kernel: dynamic mode leaves convolutions in float.
            # reduce_range (7-bit weights): x86 CPUs without VNNI (AVX2, plain AVX-512) multiply
            # uint8 x int8 pairs into saturating int16 sums (vpmaddubsw); with full-range weights an
            # MLP's outputs were 8.9% off on an AVX2 EPYC, 1.5% with reduce_range (ORT's advice).
            q.quantize_dynamic(source, target, weight_type=q.QuantType.QInt8, per_channel=per_channel,
                               reduce_range=True,
                               op_types_to_quantize=["MatMul", "Gemm", "Attention", "LSTM", "GRU"],
                               use_external_data_format=large)
        else:
            q.quantize_static(source, target, _Reader(calibration_feeds), quant_format=q.QuantFormat.QDQ,
                              activation_type=q.QuantType.QInt8, weight_type=q.QuantType.QInt8,
                              per_channel=per_channel, use_external_data_format=large)
        return onnx.load(target)
