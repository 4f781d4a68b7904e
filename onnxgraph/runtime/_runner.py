"""A compiled graph: one onnxruntime session per weights state, built from bytes."""

from __future__ import annotations

import weakref

from onnxgraph.backend.graph import collect
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.backend.variable import state_epoch, weights_lock
from onnxgraph.runtime._providers import import_onnxruntime, resolve_providers
from onnxgraph.runtime._threads import spin_config

__all__ = ["GraphRunner", "make_session", "session_from_proto", "release_sessions", "IN_MEMORY_THRESHOLD"]

# Protobuf cannot serialize over 2 GiB: above this, big initializers reach onnxruntime as
# in-memory OrtValues instead of bytes inside the serialized model (no temp files either way).
IN_MEMORY_THRESHOLD = 2**31 - 2**26
_BIG_TENSOR = 2**20


def make_session(model_bytes: bytes, providers="auto", threads: int | None = None, config: dict | None = None,
                 external=None):
    """An InferenceSession; `config` adds session config entries over the defaults, which follow the
    process-wide spinning policy (`set_thread_spinning`; idle worker threads do not spin).
    `external` maps initializer names declared external to numpy arrays supplied from memory."""
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    if external:
        names = list(external)
        options.add_external_initializers(names, [ort.OrtValue.ortvalue_from_numpy(external[n]) for n in names])
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    for key, value in {**spin_config(), **(config or {})}.items():
        options.add_session_config_entry(key, str(value))
    # onnxruntime 1.32 removes a Dropout in training mode whose mask nobody reads when its output
    # feeds another node (1.19 keeps it): `layer(x, training=True)`, MC-dropout models and the
    # noise_shape mask would silently stop dropping. onnxgraph emits Dropout only when it must drop.
    return ort.InferenceSession(model_bytes, sess_options=options, providers=resolve_providers(providers),
                                disabled_optimizers=["EliminateDropout"])


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
        self._fetches = None
        self.session = None
        self._state = (None, None)
        _RUNNERS.add(self)

    def _export(self):
        """(ModelProto, {initializer name: array}): big weights reach onnxruntime from memory."""
        external: dict = {}
        if self._build_proto is not None:
            return self._build_proto(external), external
        graph = collect(self._inputs, self._outputs, self.input_names, self.output_names)
        return to_model_proto(graph, name=self._name, external=external)[0], external

    def release(self) -> None:
        """Drop the cached session (the next run builds a new one)."""
        self.session, self._fetches, self._key, self._epoch = None, None, None, -1
        self._state = (None, None)

    def ensure_session(self):
        return self.session_state()[0]

    def session_state(self) -> tuple:
        """(session, fetches) for the current weights; exported under `weights_lock`, so the session
        holds one weights state even while another thread runs set_weights."""
        if state_epoch() != self._epoch:
            with weights_lock:
                epoch = state_epoch()
                key = tuple(v.version for v in self._variables)
                if key != self._key or self.session is None:
                    proto, external = self._export()
                    session = session_from_proto(proto, self._providers, external=external)
                    # Fetching outputs by name skips onnxruntime's per-call name list (~1.5 µs of predict).
                    self._state = (session, [output.name for output in session.get_outputs()])
                    self.session, self._fetches = self._state
                    self._key = key
                self._epoch = epoch
        return self._state

    def set_providers(self, providers) -> None:
        if providers != self._providers:
            self._providers = providers
            self.session = None
            self._epoch = -1

    def run_feeds(self, feeds: dict) -> list:
        session, fetches = self.session_state()
        return session.run(fetches, feeds)


_RUNNERS: "weakref.WeakSet[GraphRunner]" = weakref.WeakSet()


def release_sessions() -> None:
    """Release every live GraphRunner's session (`clear_session`); each rebuilds on its next run."""
    for runner in list(_RUNNERS):
        runner.release()


def session_from_proto(proto, providers="auto", external=None, **kwargs):
    """A session for a ModelProto of any size.

    `external` maps initializers the proto declares external ("in-memory") to their arrays,
    which onnxruntime then reads in place. Without it, a proto over the protobuf limit gets its
    tensors over 1 MiB moved out the same way.
    """
    import numpy as np
    from onnx import TensorProto, numpy_helper

    if external:
        session = make_session(proto.SerializeToString(), providers, external=external, **kwargs)
        session._onnxgraph_buffers = external  # the OrtValues borrow these arrays: keep them alive
        return session
    if sum(len(t.raw_data) for t in proto.graph.initializer) <= IN_MEMORY_THRESHOLD:
        return make_session(proto.SerializeToString(), providers, **kwargs)
    import onnx

    light = onnx.ModelProto()
    light.CopyFrom(proto)
    external = {}
    for tensor in light.graph.initializer:
        if len(tensor.raw_data) > _BIG_TENSOR:
            external[tensor.name] = np.ascontiguousarray(numpy_helper.to_array(tensor))
            tensor.ClearField("raw_data")
            tensor.data_location = TensorProto.EXTERNAL
            for key, value in (("location", "in-memory"), ("offset", "0"), ("length", str(external[tensor.name].nbytes))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
    session = make_session(light.SerializeToString(), providers, external=external, **kwargs)
    session._onnxgraph_buffers = external  # the OrtValues borrow these arrays: keep them alive
    return session
