"""The "onnx" engine: one train-step graph in standard ONNX on a plain onnxruntime InferenceSession.

The step graph (`_step_graph.py`) takes the weights and optimizer slots as inputs and returns
their new values. They live in OrtValues on the session's device and never come back to numpy
between steps: two buffers per state tensor, and two IOBindings, so step k reads buffer k % 2
and writes the other one, which step k + 1 reads (no copies, no allocation). The learning rate
is evaluated in Python (schedules, ReduceLROnPlateau) and fed as a scalar with the iteration count.

Values go back to the layers (Keras layout, through the inverse export transforms) and to the
optimizer's numpy slots only when someone reads them: `sync_to_model`. Values assigned to
Variables or restored into the optimizer in between win over the engine's at the next step.
"""

from __future__ import annotations

import warnings

import numpy as np

from onnxgraph.backend import transforms
from onnxgraph.backend.variable import state_epoch
from onnxgraph.optimizers._base import FLUSH_EVERY, flush_small
from onnxgraph.runtime._providers import import_onnxruntime
from onnxgraph.runtime._runner import make_session
from onnxgraph.trainer._engine import _with_masks
from onnxgraph.trainer._step_graph import build_step_graphs, initial_slots

__all__ = ["OnnxEngine"]

# No "session.set_denormal_as_zero": onnxruntime applies the first session's choice to the whole
# process (numpy included). `_FlushSlots` zeroes the slot values that would compute as subnormals
# every FLUSH_EVERY steps instead, like the numpy optimizers (in every step it cost ~30% of an MLP step).
_SESSION_CONFIG: dict = {}
# The train-step session alone spins its idle intra-op workers (onnxruntime's default), whatever the
# process-wide policy (`og.runtime.set_thread_spinning`): fit runs it back to back, and parked workers
# cost a wake-up per parallel node (2 threads, MNIST MLP: +15-25% steps/s on onnxruntime 1.19 and
# 1.32). Once fit stops, its workers spin out onnxruntime's bounded spin (~50 ms of CPU) and park.
# "session.force_spinning_stop" (park after every run) measured no faster than not spinning.
_TRAIN_SESSION_CONFIG: dict = {"session.intra_op.allow_spinning": "1"}


_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
                "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_}


def _fixed_after_batch(meta):
    """(shape, numpy dtype, batched) of an output whose only unknown dim is the leading batch, else None."""
    dims, dtype = list(meta.shape), _NUMPY_TYPES.get(meta.type)
    if dtype is None or any(not isinstance(d, int) for d in dims[1:]):
        return None
    if dims and not isinstance(dims[0], int):
        return tuple([0] + dims[1:]), dtype, True
    return tuple(dims), dtype, False


class OnnxEngine:
    """Compiled training state of one model on onnxruntime: sessions, state buffers, bindings.

    Args: as `Engine` (model, losses, loss_weights, label_specs, optimizer, threads), plus
        providers: "auto", "cpu", "cuda" or a list of onnxruntime provider names.
    """

    kind = "onnx"

    def __init__(self, model, losses, loss_weights, label_specs, optimizer, threads=None, providers="auto"):
        self.model = model
        self.optimizer = optimizer
        self.graphs = graphs = build_step_graphs(model, losses, loss_weights, label_specs, optimizer)
        self.params = graphs.params
        self.trainable = graphs.trainable
        self.frozen = [name for name in self.params if name not in set(graphs.trainable)]
        self._ort = ort = import_onnxruntime()
        self.session = make_session(graphs.train_proto.SerializeToString(), providers, threads,
                                    {**_SESSION_CONFIG, **_TRAIN_SESSION_CONFIG})
        self.eval_session = make_session(graphs.eval_proto.SerializeToString(), providers, threads, _SESSION_CONFIG)
        self.device = "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        wanted_cuda = providers == "cuda" or (isinstance(providers, (list, tuple)) and providers and
                                              providers[0] == "CUDAExecutionProvider")
        if wanted_cuda and self.device != "cuda":
            raise RuntimeError(
                f"compile(providers={providers!r}) asked to train on CUDA, but onnxruntime {ort.__version__} could not "
                "load its CUDA provider and fell back to the CPU (see its log above: usually missing CUDA/cuDNN "
                "libraries for this onnxruntime build). Install onnxruntime-gpu matching the machine's CUDA, or "
                "train on the CPU with providers='cpu'.")
        self._n_losses, self._n_preds = len(graphs.loss_names), len(graphs.pred_names)
        self._fetch = graphs.loss_names + graphs.pred_names + graphs.mask_names
        self._eval_fetch = [o.name for o in self.eval_session.get_outputs()]  # losses, predictions, masks
        self._buffers: dict[str, list] = {}
        self._dtype: dict[str, np.dtype] = {}
        self._current = 0
        for name, (var, transform) in self.params.items():
            self._new_buffer(name, transforms.apply(var.value, transform))
        self._slots_seen = None
        self._push_slots()
        updated = {inp for inp, _ in graphs.state_pairs}
        for name in updated:
            first = self._buffers[name][0]
            self._buffers[name].append(ort.OrtValue.ortvalue_from_shape_and_type(
                first.shape(), self._dtype[name], self.device, 0))
        # The learning rate and iteration count live in two numpy scalars that the OrtValues bound in
        # both bindings wrap (on the CPU an OrtValue views the numpy memory): a step writes them in
        # place instead of binding two new inputs (~5 us each).
        self._lr, self._iteration = np.zeros((), np.float64), np.zeros((), np.int64)
        self._scalars = [ort.OrtValue.ortvalue_from_numpy(a, "cpu", 0) for a in (self._lr, self._iteration)]
        self._bindings = [self._binding(parity) for parity in (0, 1)]
        # Losses and predictions go to CPU OrtValues of our own, made once per batch size, so a step
        # reads them without wrapping every bound output (get_outputs() costs ~150 us on the MLP).
        meta = {o.name: o for o in self.session.get_outputs()}
        self._fetch_specs = [_fixed_after_batch(meta[name]) for name in self._fetch]
        self._fetch_values = [None, None]
        self._fetch_batch = [None, None]
        self._versions = {name: var.version for name, (var, _) in self.params.items()}
        self._epoch_seen = state_epoch()
        self._dirty = False
        self._warned = False
        self._flush = _FlushSlots(self, providers, threads) if graphs.slot_inputs else None

    # -- buffers ----------------------------------------------------------------------------------
    def _new_buffer(self, name: str, array) -> None:
        # A copy: on the CPU an OrtValue wraps the numpy memory, and steps write into it.
        array = np.array(array, order="C", copy=True)
        self._dtype[name] = array.dtype
        self._buffers[name] = [self._ort.OrtValue.ortvalue_from_numpy(array, self.device, 0)]

    def _slot_arrays(self):
        """The optimizer's numpy slots for our trainable order, or fresh initial values."""
        opt, shapes = self.optimizer, [self._buffers[n][0].shape() for n in self.trainable]
        slots = getattr(opt, "_slots", {})
        if opt.built and all(len(slots.get(s, ())) == len(shapes) for s in self.graphs.slot_names) and all(
                tuple(slots[s][i].shape) == tuple(shape) for s in self.graphs.slot_names
                for i, shape in enumerate(shapes)):
            return [{s: slots[s][i] for s in self.graphs.slot_names} for i in range(len(shapes))]
        dtypes = [self._dtype[n] for n in self.trainable]
        return [initial_slots(opt, shape, dtype) for shape, dtype in zip(shapes, dtypes)]

    def _push_slots(self) -> None:
        """Load the optimizer's slots (after set_state, or initial values) into the current buffers."""
        for name, per_param in zip(self.trainable, self._slot_arrays()):
            for slot, value in per_param.items():
                key = self.graphs.slot_inputs[(slot, name)]
                buffers = self._buffers.get(key)
                if buffers is None:
                    self._new_buffer(key, value)
                else:
                    buffers[self._current].update_inplace(np.ascontiguousarray(value))
        self._slots_seen = self.optimizer._slots

    def _binding(self, parity: int):
        binding = self.session.io_binding()
        for name in self._fetch:
            binding.bind_output(name, "cpu")
        for name, output in self.graphs.state_pairs:
            binding.bind_ortvalue_input(name, self._buffers[name][parity])
            binding.bind_ortvalue_output(output, self._buffers[name][1 - parity])
        updated = {inp for inp, _ in self.graphs.state_pairs}
        for name in self.params:
            if name not in updated:
                binding.bind_ortvalue_input(name, self._buffers[name][0])
        binding.bind_ortvalue_input(self.graphs.lr_name, self._scalars[0])
        binding.bind_ortvalue_input(self.graphs.iteration_name, self._scalars[1])
        return binding

    @property
    def trainable_paths(self) -> list[str]:
        return [self.params[name][0].path for name in self.trainable]

    # -- steps ------------------------------------------------------------------------------------
    def train_step(self, feeds: list[np.ndarray]):
        """One optimizer step on one batch. Returns (loss values, predictions) as numpy arrays."""
        self.pull_from_model()
        if not self.trainable and not self._warned:
            warnings.warn(f"Model '{self.model.name}' has no trainable weights that affect the loss; fit() only "
                          "computes losses, metrics and moving statistics.", stacklevel=4)
            self._warned = True
        binding = self._bindings[self._current]
        for name, value in zip(self.graphs.feed_names, feeds):
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        fetched = self._bind_fetches(binding, len(feeds[0]) if feeds and np.ndim(feeds[0]) else None)
        self._lr[()] = self.optimizer.learning_rate
        self._iteration[()] = self.optimizer.iterations
        self.session.run_with_iobinding(binding)
        if fetched is None:
            outputs = binding.get_outputs()
            results = [outputs[i].numpy() for i in range(len(self._fetch))]
        else:
            results = [value.numpy().copy() for value in fetched]  # numpy() views the reused buffer
        self._current = 1 - self._current
        if self.trainable:
            self.optimizer.iterations += 1
            if self._flush is not None and self.optimizer.iterations % FLUSH_EVERY == 0:
                self._flush.run()
        self._dirty = True
        return results[:self._n_losses], self._predictions(results, self.graphs.mask_outputs)

    def _predictions(self, results, mask_outputs):
        """The predictions, with the Keras masks the graph computed attached (`_keras_mask`)."""
        preds = results[self._n_losses:self._n_losses + self._n_preds]
        return _with_masks(preds, mask_outputs, results) if mask_outputs else preds

    def _bind_fetches(self, binding, batch):
        """Bind the loss/prediction outputs to preallocated CPU OrtValues; None when a shape is not
        known from the batch size alone (then onnxruntime allocates them, read via get_outputs)."""
        parity = self._current
        if batch is None or any(spec is None for spec in self._fetch_specs):
            for name in self._fetch:  # onnxruntime keeps the last run's outputs bound: rebind each step
                binding.bind_output(name, "cpu")
            self._fetch_batch[parity] = None
            return None
        if self._fetch_batch[parity] != batch:
            values = []
            for name, (shape, dtype, batched) in zip(self._fetch, self._fetch_specs):
                full = (batch, *shape[1:]) if batched else shape
                values.append(self._ort.OrtValue.ortvalue_from_shape_and_type(full, dtype, "cpu", 0))
                binding.bind_ortvalue_output(name, values[-1])
            self._fetch_values[parity], self._fetch_batch[parity] = values, batch
        return self._fetch_values[parity]

    def eval_step(self, feeds: list[np.ndarray]):
        """Inference-mode losses and predictions for one batch (no update)."""
        self.pull_from_model()
        ort = self._ort
        values = {name: ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v))
                  for name, v in zip(self.graphs.feed_names, feeds)}
        values.update({name: self._buffers[name][self._current if len(self._buffers[name]) > 1 else 0]
                       for name in self.graphs.eval_params})
        outputs = self.eval_session.run_with_ort_values(self._eval_fetch, values)
        results = [o.numpy() for o in outputs]
        return results[:self._n_losses], self._predictions(results, self.graphs.eval_mask_outputs)

    def _value(self, name: str):
        buffers = self._buffers[name]
        return buffers[self._current if len(buffers) > 1 else 0]

    # -- weights between the engine and the layers ------------------------------------------------
    def sync_to_model(self) -> None:
        """Write the trained values into the layers' Variables (Keras layout) and the optimizer's slots."""
        if not self._dirty:
            return
        self.pull_from_model()  # values assigned explicitly since the last sync win
        for name, (var, transform) in self.params.items():
            value = self._value(name).numpy()  # a view on the CPU: assign() copies it
            var.assign(transforms.invert(value, transform, var.shape) if transform else value)
            self._versions[name] = var.version
        if self.trainable:
            opt = self.optimizer
            # .copy(): OrtValue.numpy() on the CPU is a view of the buffer the next steps overwrite.
            opt._slots = {slot: [self._value(self.graphs.slot_inputs[(slot, n)]).numpy().copy()
                                 for n in self.trainable] for slot in self.graphs.slot_names}
            opt._shapes = [tuple(self._value(n).shape()) for n in self.trainable]
            opt.built = True
            self._slots_seen = opt._slots
        self._epoch_seen = state_epoch()  # our own assigns above are no change to pull back
        self._dirty = False

    def pull_from_model(self) -> None:
        """Copy Variables changed outside training (set_weights, load) and restored optimizer slots in."""
        if state_epoch() == self._epoch_seen and self.optimizer._slots is self._slots_seen:
            return  # no Variable anywhere was assigned since the last look (a step's usual case)
        for name, (var, transform) in self.params.items():
            if var.version != self._versions[name]:
                self._value(name).update_inplace(np.ascontiguousarray(transforms.apply(var.value, transform)))
                self._versions[name] = var.version
        if self.optimizer._slots is not self._slots_seen:
            self._push_slots()
        self._epoch_seen = state_epoch()

    def close(self) -> None:
        self._flush = None
        self._bindings = []
        self._buffers.clear()
        self.session = self.eval_session = None


class _FlushSlots:
    """Zero the slot values below the optimizer's flush threshold (`Optimizer._flush_threshold`).

    On the CPU the current buffers are numpy views: zeroed in place between two steps (~1 us per
    1,000 values; the step bindings stay as they are). On another device a small graph reads each
    slot's current buffer and writes the other, then the two swap roles (the step bindings are
    re-pointed), so no buffer is read and written by one run."""

    def __init__(self, engine, providers, threads):
        self.engine = engine
        self.names = list(engine.graphs.slot_inputs.values())
        self.thresholds = {name: engine.optimizer._flush_threshold(slot, engine._dtype[name])
                           for (slot, _), name in engine.graphs.slot_inputs.items()}
        self.session = None if engine.device == "cpu" else self._graph_session(providers, threads)
        self._work: dict = {}  # dtype -> one scratch array as large as the largest slot of that dtype

    def _graph_session(self, providers, threads):
        from onnxgraph.backend.graph import Graph
        from onnxgraph.backend.serialize import to_model_proto
        from onnxgraph.layers._input_layer import placeholder
        from onnxgraph.optimizers._graph import flush_subnormal

        inputs, outputs = [], []
        for name in self.names:
            buffer = self.engine._buffers[name][0]
            inputs.append(placeholder(tuple(buffer.shape()), str(self.engine._dtype[name]), name))
            outputs.append(flush_subnormal(inputs[-1], self.thresholds[name]))
        graph = Graph(_nodes(outputs), inputs, outputs, self.names, [f"flushed/{n}" for n in self.names])
        proto, _ = to_model_proto(graph, name="flush_subnormal_slots")
        return make_session(proto.SerializeToString(), providers, threads)

    def run(self) -> None:
        engine = self.engine
        if self.session is None:
            for name in self.names:  # OrtValue.numpy() on the CPU views the buffer the next step reads
                value = engine._value(name).numpy()
                work = self._work.get(value.dtype)
                if work is None or work.size < value.size:
                    work = self._work[value.dtype] = np.empty(value.size, value.dtype)
                flush_small(value, self.thresholds[name], work[:value.size].reshape(value.shape))
            return
        current = engine._current
        binding = self.session.io_binding()
        for name in self.names:
            buffers = engine._buffers[name]
            binding.bind_ortvalue_input(name, buffers[current])
            binding.bind_ortvalue_output(f"flushed/{name}", buffers[1 - current])
        self.session.run_with_iobinding(binding)
        outputs = {name: engine.graphs.state_pairs_by_input[name] for name in self.names}
        for name in self.names:
            buffers = engine._buffers[name]
            buffers.reverse()  # the flushed values are now the current buffer
            for parity, step_binding in enumerate(engine._bindings):
                step_binding.bind_ortvalue_input(name, buffers[parity])
                step_binding.bind_ortvalue_output(outputs[name], buffers[1 - parity])


def _nodes(outputs):
    from onnxgraph.trainer._rewrite import _new_nodes

    return _new_nodes(outputs, set())
