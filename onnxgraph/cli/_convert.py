"""`onnxgraph export | extract`: write new model files from one."""

from __future__ import annotations

import numpy as np

from onnxgraph.cli._common import load_any, resolve_outputs

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("export", help="edge export: opset, float16, int8, ORT format (+ report)",
                              description="Write an edge-ready copy of a model and report its size and max abs "
                                          "deviation from the float32 model.")
    p.add_argument("model", help="path to a .onnx file")
    p.add_argument("output", help="path of the .onnx file to write (.ort goes beside it)")
    p.add_argument("--opset", type=int, default=None, help="target default-domain opset")
    p.add_argument("--fp16", action="store_true", help="float16 weights and compute (float32 inputs/outputs)")
    p.add_argument("--fp16-io", action="store_true", help="with --fp16: float16 inputs/outputs too")
    p.add_argument("--quantize", choices=["dynamic", "static"], default=None, help="int8 quantization")
    p.add_argument("--calibration", default=None,
                   help=".npy (single input) or .npz (arrays by input name) samples for static quantization")
    p.add_argument("--per-channel", action="store_true", help="per-channel int8 weight scales")
    p.add_argument("--ort", action="store_true", help="also write onnxruntime's ORT format")
    p.set_defaults(func=run_export)

    p = subparsers.add_parser("extract", help="cut a feature extractor at named layers/nodes/values",
                              description="Write a model whose outputs are the named layers (onnxgraph files), "
                                          "or node / value names (any ONNX file), keeping only the nodes and "
                                          "weights they need.")
    p.add_argument("model", help="path to a .onnx file")
    p.add_argument("output", help="path of the .onnx file to write")
    p.add_argument("--outputs", required=True, help="comma-separated layer, node or value names")
    p.set_defaults(func=run_extract)


def _calibration(path):
    if path is None:
        return None
    data = np.load(path, allow_pickle=False)
    return {k: data[k] for k in data.files} if isinstance(data, np.lib.npyio.NpzFile) else data


def run_export(args) -> int:
    from onnxgraph.export import export_model

    if args.fp16_io and not args.fp16:
        raise ValueError("--fp16-io needs --fp16")
    export_model(args.model, args.output, target_opset=args.opset, fp16=args.fp16, quantize=args.quantize,
                 calibration_data=_calibration(args.calibration), ort_format=args.ort,
                 keep_io_types=not args.fp16_io, per_channel=args.per_channel, verbose=True)
    return 0


def run_extract(args) -> int:
    from onnxgraph.models import Model

    names = [n.strip() for n in args.outputs.split(",") if n.strip()]
    if not names:
        raise ValueError("--outputs needs at least one name")
    model = load_any(args.model)
    outputs = resolve_outputs(model, names)
    inputs = model.inputs
    extractor = Model(inputs[0] if len(inputs) == 1 else inputs, outputs[0] if len(outputs) == 1 else outputs,
                      name=f"{model.name}_features")
    extractor.save(args.output)
    kept = len(extractor.to_onnx().graph.node)
    print(f"wrote {args.output}: outputs {extractor.output_names}, {kept} nodes, "
          f"{sum(int(np.prod(w.shape)) for w in extractor.weights):,} weights")
    return 0
