"""A compiled graph: one onnxruntime session per weights state, built from bytes."""

from __future__ import annotations

from onnxgraph.backend.graph import collect
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.backend.variable import state_epoch
from onnxgraph.runtime._providers import import_onnxruntime, resolve_providers

__all__ = ["GraphRunner", "make_session"]


def make_session(model_bytes: bytes, providers="auto", threads: int | None = None, config: dict | None = None):
    """An InferenceSession; `config` adds session config entries, e.g. {"session.intra_op.allow_spinning": "0"}
    (a server sharing the CPU with its event loop should not let idle worker threads spin)."""
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, str(value))
    return ort.InferenceSession(model_bytes, sess_options=options, providers=resolve_providers(providers))


class GraphRunner:
    """Runs the graph between `inputs` and `outputs`; re-exports when any weight changes.

    `build_proto` (optional) replaces the default export, so a Model can reuse its own
    `to_onnx`. Weights are compared by version: the global epoch check is O(1).
    """

    def __init__(self, inputs, outputs, input_names, output_names, variables, *, name="graph",
                 providers="auto", build_proto=None):
        self._inputs, self._outputs = list(inputs), list(outputs)
        self.input_names, self.output_names = list(input_names), list(output_names)
        self._variables = variables
        self._name = name
        self._providers = providers
        self._build_proto = build_proto
        self._epoch = -1
        self._key = None
        self.session = None

    def _export(self):
        if self._build_proto is not None:
            return self._build_proto()
        graph = collect(self._inputs, self._outputs, self.input_names, self.output_names)
        return to_model_proto(graph, name=self._name)[0]

    def ensure_session(self):
        epoch = state_epoch()
        if epoch != self._epoch:
            key = tuple(v.version for v in self._variables)
            if key != self._key or self.session is None:
                proto = self._export()
                self.session = make_session(proto.SerializeToString(), self._providers)
                self._key = key
            self._epoch = epoch
        return self.session

    def set_providers(self, providers) -> None:
        if providers != self._providers:
            self._providers = providers
            self.session = None
            self._epoch = -1

    def run_feeds(self, feeds: dict) -> list:
        return self.ensure_session().run(None, feeds)
