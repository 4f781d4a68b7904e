"""What the server runs: one onnxruntime session per model, with its input/output signature.

A `ServedModel` is built from ONNX bytes, so the same object works in the local server, in
a Ray Serve replica and in a Ray Data actor. `resolve_models` turns what users pass (an
og.Model, a path, bytes, a list or a dict) into named ONNX bytes, cutting feature
extractors at the requested layers first.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass


import onnx

from onnxgraph.backend import dtypes
from onnxgraph.runtime import make_session, normalize_feeds
from onnxgraph.runtime._feeds import InputSignature
from onnxgraph.serving._limits import probe_inputs, read_limits
from onnxgraph.serving._probe import probe_rowwise
from onnxgraph.serving._rowwise import prove_rowwise

__all__ = ["ServedModel", "TensorInfo", "ModelSpec", "feature_model", "resolve_models", "BATCHING_MODES"]

BATCHING_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class TensorInfo:
    """Name, Keras-style shape (None = any size) and dtype name of a model input or output."""

    name: str
    shape: tuple
    dtype: str

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class ModelSpec:
    """A model ready to ship to a server process or a Ray worker: a name and ONNX bytes."""

    name: str
    onnx_bytes: bytes
    source: str = "onnxgraph"  # "onnxgraph" (saved by onnxgraph) or "onnx" (any other tool)
    layers: tuple = ()  # layer/value names this feature extractor was cut at, if any


_SPIN, _INTER_SPIN = "session.intra_op.allow_spinning", "session.inter_op.allow_spinning"
_ORT_TYPE = re.compile(r"tensor\((\w+)\)")


def _info(arg) -> TensorInfo:
    match = _ORT_TYPE.fullmatch(arg.type)
    dtype = dtypes.standardize(match.group(1)) if match else arg.type
    shape = tuple(d if isinstance(d, int) else None for d in (arg.shape or ()))
    return TensorInfo(arg.name, shape, dtype)


class ServedModel:
    """One onnxruntime session and the signature needed to check requests against it.

    Args:
        spec: the model's name and ONNX bytes (see `resolve_models`).
        providers: "auto", "cpu", "cuda" or a list of execution providers.
        threads: intra-op threads for the session (None: onnxruntime's default).
        batching: "auto" (stack requests only when the graph is proven row-independent and a
            stacked probe equals separate runs), "on" (always stack: you vouch that output rows
            depend only on their own input rows) or "off".
    """

    def __init__(self, spec: ModelSpec, providers="auto", threads: int | None = None, batching: str = "auto"):
        if batching not in BATCHING_MODES:
            raise ValueError(f"batching must be one of {BATCHING_MODES}, got {batching!r}: 'auto' stacks requests "
                             "only for models proven row-independent, 'on' always, 'off' never.")
        self.spec = spec
        self.name = spec.name
        # Spinning idle onnxruntime threads would take the CPU from the event loop between batches.
        from onnxgraph.saving._safe_io import onnx_from_bytes

        onnx_from_bytes(spec.onnx_bytes, f"model '{spec.name}'")  # no external data, recursion or deep nesting
        self.session = make_session(spec.onnx_bytes, providers, threads, config={_SPIN: "0", _INTER_SPIN: "0"})
        self.inputs = [_info(a) for a in self.session.get_inputs()]
        self.outputs = [_info(a) for a in self.session.get_outputs()]
        self.output_names = [o.name for o in self.outputs]
        self.signatures = [InputSignature(i.name, i.shape, i.dtype) for i in self.inputs]
        proto = onnx.load_from_string(spec.onnx_bytes)
        # Values the graph cannot take (ids outside a table, images smaller than a kernel) are refused
        # with a 400 before they reach onnxruntime.
        self.limits = read_limits(proto, keras_ids=spec.source == "onnxgraph")
        self.batchable, self.batching_reason = self._decide_batching(batching, proto)

    def _decide_batching(self, mode: str, proto) -> tuple[bool, str]:
        """Rows of different requests are stacked only along a free leading (batch) dimension, and (in
        "auto") only when the graph is proven row-independent and a stacked probe agrees."""
        if mode == "off":
            return False, "batching='off'"
        if not self.inputs or not all(i.shape and i.shape[0] is None for i in self.inputs):
            return False, "an input has no free leading (batch) dimension"
        if mode == "on":
            return True, "batching='on' (forced: the model was not checked for row independence)"
        proven, why = prove_rowwise(proto)
        if not proven:
            return False, why
        ok, probe_why = probe_rowwise(
            lambda feeds: self.session.run(self.output_names, feeds), self.signatures, lambda k: probe_inputs(self.signatures, self.limits, k, seed=k))
        if not ok:
            return False, probe_why
        return True, f"{why}; {probe_why}"

    def feeds(self, x) -> dict:
        """Check and convert a request's inputs; raises ValueError with a message for the client."""
        feeds = normalize_feeds(x, self.signatures)
        self.limits.check(feeds)
        return feeds

    def run(self, feeds: dict) -> list:
        return self.session.run(self.output_names, feeds)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "source": self.spec.source,
            "layers": list(self.spec.layers),
            "batchable": self.batchable,
            "batching_reason": self.batching_reason,
            "input_limits": self.limits.to_json(),
            "inputs": [i.to_json() for i in self.inputs],
            "outputs": [o.to_json() for o in self.outputs],
        }


def feature_model(model, layers):
    """Cut `model` at the named layers: a model from the same inputs to those layers' outputs.

    Args:
        model: a functional `og.Model` (or one loaded with `og.load_model`).
        layers: a layer name or a list of names; each becomes one output, named after the layer.

    Returns:
        An `og.Model` sharing the weights of `model`.

    Example:
        >>> extractor = og.serving.feature_model(model, ["dense_1"])
        >>> og.serving.serve(extractor).url
    """
    from onnxgraph.models import Model

    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("feature_model: give at least one layer name to cut the model at.")
    outputs = [model.get_layer(name).output for name in names]
    return Model(model.input, outputs if len(outputs) > 1 else outputs[0], name=f"{model.name}_features")


def _has_onnxgraph_config(proto) -> bool:
    from onnxgraph.models._export import CONFIG_KEY

    return any(p.key == CONFIG_KEY for p in proto.metadata_props)


def _cut_plain_onnx(proto, names, source) -> bytes:
    """Features of an ONNX file from another tool, cut at node names or ONNX value names.

    `Model.from_onnx` wraps the graph so the cut keeps only the nodes and weights it needs; graphs
    it cannot wrap (control flow, local functions, custom domains) are cut with onnx's extractor.
    """
    from onnxgraph.models import Model

    try:
        imported = Model.from_onnx(proto, name="imported")
    except ValueError:
        return _extract(proto, names, source)
    outputs = {}
    for name in names:
        try:
            outputs[name] = imported.get_tensor(name)
        except ValueError:
            try:
                outputs[name] = imported.get_layer(name).output
            except ValueError:
                raise ValueError(f"{source} has no node or value named {name!r}; it is not an onnxgraph file, "
                                 "so features are cut at ONNX node or value names (see the graph in "
                                 "Netron, or `onnxgraph summary`).") from None
    return Model(imported.inputs, outputs, name="features").to_onnx().SerializeToString()


def _extract(proto, names, source) -> bytes:
    import onnx.utils

    known = {out for node in proto.graph.node for out in node.output}
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"{source} has no ONNX value named {missing}; features of this file are cut at value "
                         "names (see the graph in Netron).")
    weights = {t.name for t in proto.graph.initializer}
    inputs = [i.name for i in proto.graph.input if i.name not in weights]
    return onnx.utils.Extractor(proto).extract_model(inputs, list(names)).SerializeToString()


def _spec_from_model(model, name, layers) -> ModelSpec:
    name = name or model.name  # a cut model keeps the name it is served under
    if layers:
        model = feature_model(model, layers)
    return ModelSpec(name, model.to_onnx().SerializeToString(), "onnxgraph", tuple(layers or ()))


def _spec_from_path(path, name, layers) -> ModelSpec:
    from onnxgraph.saving._files import read_model_file
    from onnxgraph.saving._load import model_from_proto

    proto = read_model_file(path)
    stem = name or os.path.splitext(os.path.basename(os.fspath(path)))[0]
    if _has_onnxgraph_config(proto):  # what og.load_model does, without reading the file twice
        return _spec_from_model(model_from_proto(proto, source=os.fspath(path)), stem, layers)
    # A file from another tool runs as it is: no re-export that could change it.
    data = _cut_plain_onnx(proto, layers, path) if layers else proto.SerializeToString()
    return ModelSpec(stem, data, "onnx", tuple(layers or ()))


def _one_spec(item, name=None, layers=None) -> ModelSpec:
    if isinstance(item, ModelSpec):
        if layers:
            raise ValueError(f"Model '{item.name}' is already a prepared ModelSpec; cut it before packing.")
        return ModelSpec(name or item.name, item.onnx_bytes, item.source, item.layers)
    if isinstance(item, (str, os.PathLike)):
        return _spec_from_path(item, name, layers)
    if isinstance(item, (bytes, bytearray)):
        from onnxgraph.saving._safe_io import onnx_from_bytes

        proto = onnx_from_bytes(item)  # checked; a model in bytes has no folder: external data is refused
        if _has_onnxgraph_config(proto):
            from onnxgraph.saving._load import model_from_proto

            return _spec_from_model(model_from_proto(proto, source="the ONNX bytes"), name, layers)
        data = _cut_plain_onnx(proto, layers, "the ONNX bytes") if layers else bytes(item)
        return ModelSpec(name or proto.graph.name or "model", data, "onnx", tuple(layers or ()))
    if hasattr(item, "to_onnx") and hasattr(item, "get_layer"):
        return _spec_from_model(item, name, layers)
    raise TypeError(f"Cannot serve a {type(item).__name__}: pass an og.Model, a path to a .onnx file, "
                    "ONNX bytes, or a list/dict of those.")


def resolve_models(models, layers=None) -> list[ModelSpec]:
    """Named ONNX bytes for each model passed; `layers` cuts a single model into a feature extractor.

    Args:
        models: an og.Model, a `.onnx` path, ONNX bytes, a list of those, or a dict {name: model}.
        layers: layer names (onnxgraph models) or ONNX value names (other files) to serve
            instead of the model's outputs; only with a single model.

    Returns:
        A list of `ModelSpec`, names unique.
    """
    if isinstance(layers, str):
        layers = [layers]
    if isinstance(models, dict):
        items = [(str(k), v) for k, v in models.items()]
    elif isinstance(models, (list, tuple)):
        items = [(None, m) for m in models]
    else:
        items = [(None, models)]
    if not items:
        raise ValueError("No models to serve: pass at least one model or .onnx path.")
    if layers and len(items) > 1:
        raise ValueError("`layers=` cuts one model; with several models, cut each with "
                         "og.serving.feature_model(model, layers) and pass a dict {name: model}.")
    specs = [_one_spec(item, name, layers) for name, item in items]
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Two models are named {duplicates[0]!r}; model names are URL paths and must be "
                         "unique. Pass a dict {name: model} (or NAME=PATH on the command line).")
    for name in names:
        if not name or "/" in name or not name.isprintable():
            raise ValueError(f"Model name {name!r} cannot be a URL path segment; use letters, digits, '-', '_', '.'.")
    return specs

