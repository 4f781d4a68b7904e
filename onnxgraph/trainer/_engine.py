"""The training engine: onnxruntime-training's Module computes gradients, numpy optimizers apply them.

The CheckpointState's parameter and gradient buffers are exposed as numpy arrays that view
onnxruntime's own memory (stable pointers), so the optimizer updates the weights in place
and the next step reads them with no copy. Trained values go back to the layers' Variables
(Keras layout, through the inverse export transforms) when someone looks: `sync_to_model`.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
from onnx import helper

from onnxgraph.backend import transforms
from onnxgraph.trainer import _ort
from onnxgraph.trainer._graph import build_graphs

__all__ = ["Engine"]


class Engine:
    """Compiled training state of one model: artifacts, Module, parameter views, optimizer.

    Args:
        model: the functional Model.
        losses: one Loss (or None) per flat model output.
        loss_weights: one float (or None) per flat model output.
        label_specs: one (shape, dtype) (or None) per flat model output.
        optimizer: an `onnxgraph.optimizers.Optimizer`.
        threads: intra-op threads for onnxruntime (None: its default).
    """

    kind = "ort-training"

    def __init__(self, model, losses, loss_weights, label_specs, optimizer, threads=None):
        self.model = model
        self.optimizer = optimizer
        self.train_graph, self.eval_graph, self.trainable, self.frozen = build_graphs(
            model, losses, loss_weights, label_specs)
        self.params = {name: self.train_graph.params[name] for name in self.train_graph.params}
        if self.trainable:
            self._artifacts = _ort.generate(self.train_graph.proto, self.eval_graph.proto, self.trainable,
                                            self.frozen)
            _, api = _ort.training_api()
            self.state = api.CheckpointState.load_checkpoint(self._artifacts.checkpoint)
            options = _ort.import_onnxruntime().SessionOptions()
            options.log_severity_level = 3
            if threads:
                options.intra_op_num_threads = int(threads)
            from onnxgraph.runtime._threads import spin_config

            for key, value in spin_config().items():  # the process-wide policy: idle workers do not spin
                options.add_session_config_entry(key, value)
            self.module = api.Module(self._artifacts.training_model, self.state, self._artifacts.eval_model,
                                     device="cpu", session_options=options)
            self._artifacts.cleanup()  # the Module has read the files
            self._views = {name: self.state.parameters[name].data for name in self.params}
        else:
            self.state = None
            self._views = {name: np.array(transforms.apply(var.value, transform))
                           for name, (var, transform) in self.params.items()}
            self.module = _ForwardOnly(self.train_graph.proto, self.eval_graph.proto, self._views, threads)
        self._trainable_views = [self._views[name] for name in self.trainable]
        self._constrained = _constrained_params(self.trainable, self.params, self._views)
        self._grads: list[np.ndarray] | None = None
        self._updates = [(self._views[self._param_name(var)], i) for i, (var, _) in enumerate(self.train_graph.updates)]
        self._versions = {name: var.version for name, (var, _) in self.params.items()}
        self._dirty = False
        self._n_losses = len(self.train_graph.loss_names)
        self._n_preds = len(self.train_graph.pred_names)

    def _param_name(self, variable) -> str:
        for name, (var, transform) in self.params.items():
            if var is variable:
                if transform:
                    raise RuntimeError(f"State update of '{variable.path}' through a layout transform.")
                return name
        raise RuntimeError(f"State update for '{variable.path}', which the training graph does not read.")

    @property
    def trainable_paths(self) -> list[str]:
        return [self.params[name][0].path for name in self.trainable]

    # -- steps -------------------------------------------------------------------------------------
    def train_step(self, feeds: list[np.ndarray]):
        """One optimizer step on one batch. Returns (loss values, predictions)."""
        self.pull_from_model()
        self.module.train()
        self.module.lazy_reset_grad()
        outputs = self._run_module(feeds, "training")
        if not self.trainable and not self._dirty:
            warnings.warn(f"Model '{self.model.name}' has no trainable weights that affect the loss; fit() only "
                          "computes losses, metrics and moving statistics.", stacklevel=4)
        if self.trainable:
            if self._grads is None:
                # Gradient buffers exist after the first step and keep their address afterwards.
                self._grads = [self.state.parameters[name].grad for name in self.trainable]
            self.optimizer.apply(self._trainable_views, self._grads)
            _apply_constraints(self._constrained)
        first_update = self._n_losses + self._n_preds
        for view, i in self._updates:
            view[...] = outputs[first_update + i]
        self._dirty = True
        preds = list(outputs[self._n_losses:first_update])
        return list(outputs[:self._n_losses]), _with_masks(preds, self.train_graph.mask_outputs, outputs)

    def eval_step(self, feeds: list[np.ndarray]):
        """Inference-mode losses and predictions for one batch (no update)."""
        self.pull_from_model()
        self.module.eval()
        outputs = self._run_module(feeds, "evaluation")
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        preds = list(outputs[self._n_losses:self._n_losses + self._n_preds])
        return list(outputs[:self._n_losses]), _with_masks(preds, self.eval_graph.mask_outputs, outputs)

    def _run_module(self, feeds, what: str):
        try:
            return self.module(*feeds)
        except RuntimeError as exc:  # onnxruntime-training's C++ errors: name the batch instead
            text = str(exc).strip()
            reason = text.split(" : ", 3)[-1] if "[ONNXRuntimeError]" in text else text.splitlines()[0]
            shapes = ", ".join(f"{tuple(np.shape(f))} {getattr(f, 'dtype', type(f).__name__)}" for f in feeds)
            raise ValueError(f"The {what} step of model '{self.model.name}' failed in onnxruntime on a batch of "
                             f"inputs, targets and weights shaped [{shapes}]: {reason.strip()}") from None

    # -- weights between the engine and the layers ---------------------------------------------------
    def sync_to_model(self) -> None:
        """Write the trained values into the layers' Variables (Keras layout)."""
        if not self._dirty:
            return
        from onnxgraph.backend.variable import weights_lock

        with weights_lock:  # one trained state, never half written, for a predict in another thread
            self.pull_from_model()  # values assigned explicitly since the last sync win
            for name, (var, transform) in self.params.items():
                value = transforms.invert(self._views[name], transform, var.shape) if transform else self._views[name]
                var.assign(value)
                self._versions[name] = var.version
            self._dirty = False

    def pull_from_model(self) -> None:
        """Copy Variables changed outside training (set_weights, load) into the engine's buffers."""
        for name, (var, transform) in self.params.items():
            if var.version != self._versions[name]:
                self._views[name][...] = transforms.apply(var.value, transform)
                self._versions[name] = var.version

    def close(self) -> None:
        self._views.clear()
        self._trainable_views = []
        self._grads = None
        self._updates = []
        self.module = None
        self.state = None


class MaskedPrediction(np.ndarray):
    """A batch of predictions with the Keras mask the graph computed for it (`_keras_mask`)."""

    _keras_mask = None


def _with_masks(preds, mask_outputs, outputs) -> list:
    """Attach the graph's mask outputs (the last ones) to their predictions."""
    first = len(outputs) - len(mask_outputs)
    for k, (i, _) in enumerate(mask_outputs):
        pred = np.asarray(preds[i]).view(MaskedPrediction)
        pred._keras_mask = np.asarray(outputs[first + k])
        preds[i] = pred
    return preds


def _constrained_params(names, params, views) -> list:
    """(view, variable, transform) of each trained parameter whose Variable has a constraint."""
    return [(views[name], params[name][0], params[name][1]) for name in names
            if getattr(params[name][0], "constraint", None) is not None]


def _apply_constraints(constrained) -> None:
    """Keras: after the update, `variable.assign(variable.constraint(variable))`, in Keras layout.

    The buffers hold the ONNX layout, so each value goes through the inverse export transform,
    the constraint, and the transform again (an elementwise constraint skips the round trip).
    """
    for view, variable, transform in constrained:
        value = transforms.invert(view, transform, variable.shape) if transform else view
        projected = np.asarray(variable.constraint(value), dtype=view.dtype)
        view[...] = transforms.apply(projected, transform) if transform else projected


class _ForwardOnly:
    """Module stand-in for a model with nothing to train: forward sessions, weights fed as inputs."""

    def __init__(self, train_proto, eval_proto, views: dict, threads=None):
        from onnxgraph.runtime import make_session

        train_proto = _weights_as_inputs(train_proto, views)
        self._sessions = {True: make_session(train_proto.SerializeToString(), "cpu", threads),
                          False: make_session(eval_proto.SerializeToString(), "cpu", threads)}
        self._names = {mode: [i.name for i in session.get_inputs()] for mode, session in self._sessions.items()}
        self._views = views
        self.training = True

    def train(self, mode: bool = True):
        self.training = mode

    def eval(self):
        self.training = False

    def lazy_reset_grad(self):
        pass

    def __call__(self, *feeds):
        names = self._names[self.training]
        inputs = dict(zip(names, feeds))
        inputs.update({name: self._views[name] for name in names[len(feeds):]})
        return tuple(self._sessions[self.training].run(None, inputs))


def _weights_as_inputs(proto, names):
    proto = copy.deepcopy(proto)
    keep = []
    for init in proto.graph.initializer:
        if init.name in names:
            proto.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        else:
            keep.append(init)
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(keep)
    return proto
