"""`onnxgraph summary | check | view | plot`: look at a model file."""

from __future__ import annotations

import collections
import os
import signal
import threading

from onnxgraph.cli._common import load_any, read_model, session

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("summary", help="print the Keras-style layer table of a model",
                              description="Print the layer table (any .onnx file: onnxgraph models show their "
                                          "layers, other files one row per ONNX node).")
    p.add_argument("model", help="path to a .onnx file")
    p.add_argument("--expand-nested", action="store_true", help="show the layers of nested models")
    p.set_defaults(func=run_summary)

    p = subparsers.add_parser("check", help="ONNX checker, runtime load, opset/IR report",
                              description="Run onnx.checker (full_check), load the file in onnxruntime and "
                                          "report opsets, IR version, ops and sizes. Exit status 1 if a check fails.")
    p.add_argument("model", help="path to a .onnx (or .ort) file")
    p.set_defaults(func=run_check)

    p = subparsers.add_parser("view", help="open a model in Netron (serves until Ctrl-C)",
                              description="Serve the model with Netron from a private temporary folder and "
                                          "print the URL; Ctrl-C stops the server.")
    p.add_argument("model", help="path to a .onnx file")
    p.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    p.add_argument("--no-browse", action="store_true", help="do not open a web browser")
    p.add_argument("--layers", action="store_true",
                   help="onnxgraph files: show one node per layer (ONNX local functions)")
    p.set_defaults(func=run_view)

    p = subparsers.add_parser("plot", help="draw the graph of layers with graphviz (PNG, SVG, ...)",
                              description="Draw the model's graph of layers to an image (the extension picks "
                                          "the format). Needs graphviz's `dot` program.")
    p.add_argument("model", help="path to a .onnx file")
    p.add_argument("-o", "--output", default="model.png", help="image path (default model.png)")
    p.add_argument("--show-shapes", action="store_true")
    p.add_argument("--show-dtype", action="store_true")
    p.add_argument("--show-layer-names", action="store_true")
    p.add_argument("--show-layer-activations", action="store_true")
    p.add_argument("--expand-nested", action="store_true")
    p.add_argument("--rankdir", default="TB", choices=["TB", "LR", "BT", "RL"])
    p.add_argument("--dpi", type=int, default=200)
    p.set_defaults(func=run_plot)


def run_summary(args) -> int:
    load_any(args.model).summary(expand_nested=args.expand_nested)
    return 0


def run_check(args) -> int:
    import onnx

    path = args.model
    model = read_model(path)  # checked (structure, limits, confined data); onnxgraph files: the config's graph
    if isinstance(model, bytes):
        sess = session(model)
        print(f"{path}: ORT format; onnxruntime loads it "
              f"(inputs {[i.name for i in sess.get_inputs()]}, outputs {[o.name for o in sess.get_outputs()]})")
        return 0
    proto = model
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in proto.opset_import)
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    data_bytes = os.path.getsize(path)
    print(f"{path}: IR version {proto.ir_version}, opset {opsets}, producer "
          f"{proto.producer_name or '?'} {proto.producer_version}".rstrip())
    print(f"  {len(proto.graph.node)} nodes, {len(proto.functions)} local functions, "
          f"{len(proto.graph.initializer)} initializers, file {_size(data_bytes)}")
    print("  ops: " + ", ".join(f"{op} x{n}" for op, n in ops.most_common()))
    for value in proto.graph.input:
        print(f"  input  {value.name}: {_type_text(value)}")
    for value in proto.graph.output:
        print(f"  output {value.name}: {_type_text(value)}")
    failed = False
    try:
        onnx.checker.check_model(_checkable(proto), full_check=True)  # in memory: the checker opens nothing
        print("  onnx.checker (full_check): ok")
    except Exception as exc:  # noqa: BLE001 - reported, exit status 1
        print(f"  onnx.checker (full_check): FAILED: {' '.join(str(exc).split())[:500]}")
        failed = True
    try:
        from onnxgraph.runtime import import_onnxruntime

        session(proto)
        print(f"  onnxruntime {import_onnxruntime().__version__}: loads ok")
    except Exception as exc:  # noqa: BLE001
        print(f"  onnxruntime: FAILED to load: {' '.join(str(exc).split())[:500]}")
        failed = True
    return 1 if failed else 0


def _checkable(proto):
    """The proto itself, or over protobuf's 2 GiB a copy whose big tensors are marked as in-memory
    external data (the checker checks their declarations without reading any file)."""
    if proto.ByteSize() < 2**31 - 2**26:
        return proto
    import onnx

    light = onnx.ModelProto()
    light.CopyFrom(proto)
    for tensor in light.graph.initializer:
        if len(tensor.raw_data) > 2**20:
            tensor.ClearField("raw_data")
            tensor.data_location = onnx.TensorProto.EXTERNAL
            tensor.external_data.add(key="location", value="in-memory")
    return light


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} KB"


def _type_text(value) -> str:
    from onnx import TensorProto

    tensor_type = value.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor_type.shape.dim]
    return f"{TensorProto.DataType.Name(tensor_type.elem_type).lower()}{dims}"


def run_view(args) -> int:
    from onnxgraph.cli._common import _has_config
    from onnxgraph.saving._load import model_from_proto
    from onnxgraph.utils import view

    model = read_model(args.model)  # checked; a broken config is refused here
    layered = args.layers and not isinstance(model, bytes) and _has_config(model)
    source = model_from_proto(model, source=args.model) if layered else args.model
    handle = view(source, port=args.port, browse=not args.no_browse, layer_functions=args.layers)
    print(f"Netron is serving {os.path.basename(args.model)} at {handle.url} (Ctrl-C stops)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if not handle.running:
                print("onnxgraph view: error: the Netron process exited", flush=True)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    return 0


def run_plot(args) -> int:
    from onnxgraph.utils import plot_model

    model = load_any(args.model)
    plot_model(model, args.output, show_shapes=args.show_shapes, show_dtype=args.show_dtype,
               show_layer_names=args.show_layer_names, rankdir=args.rankdir, expand_nested=args.expand_nested,
               dpi=args.dpi, show_layer_activations=args.show_layer_activations)
    print(f"wrote {args.output}")
    return 0
