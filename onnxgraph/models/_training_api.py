"""compile / fit / evaluate / train_on_batch and training checkpoints for Model (Keras 3 API).

The engine behind them lives in `onnxgraph/trainer/` (onnxruntime-training gradient graphs,
numpy optimizers). Trained values are written back into the layers' weights whenever the
model is read through its public API (predict, get_weights, save, to_onnx), after
train_on_batch, before batch-end callbacks that may read layers, at every epoch end, and when
fit() returns or is interrupted.
"""

from __future__ import annotations

import json
import os

import numpy as np

from onnxgraph.models._guards import (check_class_weight, check_count, check_fit_args, check_not_empty,
                                     check_validation_data, check_verbose, guarded)

__all__ = ["TrainingMixin"]

_CHECKPOINT_FORMAT = "onnxgraph.checkpoint/1"


class TrainingMixin:
    """Keras's training methods for functional models."""

    optimizer = None
    compiled = False
    stop_training = False
    history = None
    _engine = None
    _compile_config = None
    _compile_args = None
    _metrics_state = None
    _completed_epochs = 0
    _epochs_seen = 0
    _resume_epoch = 0
    _train_seed = None
    _optimizer_order = None
    _train_threads = None
    _train_engine = "auto"
    _train_providers = "auto"

    # -- compile ---------------------------------------------------------------------------------
    @guarded("compile()")
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True, engine="auto",
                providers="auto"):
        """Configure the model for training (Keras 3 arguments).

        Args:
            optimizer: name ("adam", "rmsprop", "sgd", ...) or an `onnxgraph.optimizers` instance.
            loss: name, Loss, function, or a list / dict keyed by output name.
            loss_weights: float per output (list or dict) scaling each output's loss in the total.
            metrics: names ("accuracy", "mae", ...) or Metric objects; a list/dict per output for
                multi-output models.
            weighted_metrics: like `metrics`, computed with the sample weights.
            run_eagerly, steps_per_execution, jit_compile, auto_scale_loss: accepted for Keras
                compatibility; steps always run as onnxruntime graph steps.
            engine: "auto", "onnx" (a standard-ONNX train-step graph on any onnxruntime) or
                "ort-training" (onnxruntime-training, CPU only); see onnxgraph/trainer/_engines.py.
            providers: where "onnx" trains: "auto" (CUDA if usable), "cpu", "cuda" or a provider list.

        Example:
            >>> model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        """
        from onnxgraph import optimizers
        from onnxgraph.runtime._providers import resolve_providers
        from onnxgraph.trainer._engines import check_engine

        self._close_engine()
        self._train_engine = check_engine(engine)
        if providers not in ("auto", "cpu", "cuda") and not isinstance(providers, (list, tuple)):
            resolve_providers(providers)  # raises the teaching error
        self._train_providers = providers
        self.optimizer = optimizers.get(optimizer)
        self._compile_args = (loss, loss_weights, metrics, weighted_metrics)
        self._compile_config = None
        self._metrics_state = None
        self.compiled = True
        self.stop_training = False
        if self._has_graph():
            self._compile_config = self._make_compile_config()  # argument errors surface here

    def _make_compile_config(self):
        from onnxgraph.trainer._compile import CompileConfig

        return CompileConfig(self, self.optimizer, *self._compile_args)

    def _has_graph(self) -> bool:
        try:
            self.outputs  # noqa: B018 - a lazily built model raises until it has been called
        except AttributeError:
            return False
        return True

    def _build_from_data(self, x) -> None:
        """Keras builds an Input-less Sequential or a subclassed model from the first batch: so do we."""
        from onnxgraph.trainer._data import is_array_like

        def first_rows(value):
            if isinstance(value, dict):
                return {k: first_rows(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)) and value and all(is_array_like(v) for v in value):
                return [first_rows(v) for v in value]
            if is_array_like(value):
                return np.asarray(value)[:2]
            raise ValueError(
                f"Model '{self.name}' is not built yet and fit() cannot build it from this data "
                f"({type(value).__name__}). Call the model on a batch first, or give it an Input()."
            )

        sample = first_rows(x)
        if isinstance(sample, (list, tuple)) and len(sample) == 1:
            sample = sample[0]
        self(sample)

    def _build_from_stream(self, x):
        """An unbuilt model trained on a generator is built from its first batch (put back in front)."""
        if self._has_graph() or not hasattr(self, "_build_open") or isinstance(x, (list, tuple, dict)) or (
                not hasattr(x, "__next__")):
            return x
        import itertools

        first = next(x, None)
        if first is None:
            return x
        self._build_open(first[0] if isinstance(first, tuple) else first)
        return itertools.chain([first], x)

    def _require_compiled(self, what: str):
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before using the model for {what}: "
                               "model.compile(optimizer=..., loss=...).")

    def _close_engine(self):
        if self._engine is not None:
            self._engine.sync_to_model()
            self._engine.close()
        self._engine = None

    # -- engine and data ---------------------------------------------------------------------------
    def _prepare(self, x, y, what: str):
        """Resolve losses/metrics (from the first targets) and build the engine once."""
        from onnxgraph.trainer._data import DataSpec, is_array_like
        from onnxgraph.trainer._engines import make_engine

        self._require_compiled(what)
        if self._compile_config is None:
            if not self._has_graph():
                self._build_from_data(x)
            self._compile_config = self._make_compile_config()
        config = self._compile_config
        y_shapes = [None] * len(self.output_names)
        if y is not None:
            raw = DataSpec.__new__(DataSpec)
            raw.model, raw.output_names = self, list(self.output_names)
            y_shapes = [np.shape(v) if v is not None and (is_array_like(v) or isinstance(v, list)) else None
                        for v in raw.per_output(y, "y", allow_single=False)]
        losses = config.resolve_losses(y_shapes)
        if self._metrics_state is None:
            self._metrics_state = config.make_metrics(y_shapes)
        if self._train_seed is None:
            self._train_seed = _default_train_seed(self)
        if self._engine is None:
            self._engine = make_engine(self._train_engine, self, losses, config.loss_weights, config.label_specs(),
                                       self.optimizer, threads=self._train_threads, providers=self._train_providers)
            self._match_optimizer_order()
        return DataSpec(self, losses)

    def _data(self, spec, x, y, sample_weight=None, class_weight=None, batch_size=None, shuffle=False,
              steps=None):
        from onnxgraph.trainer._data import make_data

        return make_data(spec, x, y, sample_weight, class_weight, batch_size, shuffle, steps, seed=self._train_seed)

    def _sync_trained_weights(self) -> None:
        if self._engine is not None:
            self._engine.sync_to_model()

    def _metric_direction(self, name: str):
        state = self._metrics_state
        return None if state is None else state.directions.get(name)

    # -- fit / evaluate ---------------------------------------------------------------------------------
    @guarded("fit()")
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=None,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs on arrays, lists/dicts of arrays, or an iterable of batches.

        Returns a History whose `history` dict has Keras's keys (`loss`, metric names, `val_*`,
        `<output>_loss` for several outputs). `initial_epoch` defaults to 0, except for the first fit
        after `load_checkpoint`, which continues from the checkpoint's epoch: after resuming from
        epoch 5, `fit(epochs=10)` runs epochs 6-10.

        Example:
            >>> history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2)
        """
        from onnxgraph.trainer._data import split_validation
        from onnxgraph.trainer._loop import fit_loop

        check_fit_args(batch_size, epochs, verbose, validation_split, initial_epoch, steps_per_epoch,
                       validation_steps, validation_batch_size, validation_freq)
        check_class_weight(class_weight)
        x = self._build_from_stream(x)
        spec = self._prepare(x, y, "training")
        data = self._data(spec, x, y, sample_weight, class_weight, batch_size, shuffle, steps_per_epoch)
        check_not_empty(data, "fit")
        val_data = None
        if validation_split and validation_data is None:
            val_data = split_validation(data, validation_split)
        elif validation_data is not None:
            val_data = self._validation(spec, validation_data, validation_batch_size or batch_size, validation_steps)
        verbose = 1 if verbose == "auto" else verbose
        if initial_epoch is None:
            initial_epoch, self._resume_epoch = self._resume_epoch, 0
        return fit_loop(self, self._engine, self._compile_config, self._metrics_state, data, val_data,
                        epochs=epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose,
                        validation_freq=validation_freq, seed=self._train_seed)

    def _validation(self, spec, validation_data, batch_size, steps):
        check_validation_data(validation_data)
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
            x_val, y_val = validation_data[0], validation_data[1]
            sw_val = validation_data[2] if len(validation_data) == 3 else None
            return self._data(spec, x_val, y_val, sw_val, None, batch_size or 32, False, steps)
        return self._data(spec, validation_data, None, None, None, None, False, steps)

    @guarded("evaluate()")
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics in inference mode (moving statistics, no dropout), with the current weights.

        Returns a float (only a loss), a list `[loss, *metrics]` in Keras's order, or a dict.

        Example:
            >>> test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
        """
        from onnxgraph.callbacks import CallbackList
        from onnxgraph.trainer._loop import evaluate_loop

        check_count("batch_size", batch_size, where="evaluate")
        check_count("steps", steps, where="evaluate")
        check_verbose(verbose, where="evaluate")
        spec = self._prepare(x, y, "evaluation")
        data = self._data(spec, x, y, sample_weight, None, batch_size or 32, False, steps)
        check_not_empty(data, "evaluate")
        verbose = 1 if verbose == "auto" else verbose
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                           steps=data.num_batches)
        logs = evaluate_loop(self, self._engine, self._compile_config, self._metrics_state, data, callbacks=cbs)
        return dict(logs) if return_dict else self._metrics_state.ordered(logs)

    @guarded("train_on_batch()")
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; its loss/metrics (reset first, as Keras 3 does)."""
        from onnxgraph.trainer._compile import batch_size_of
        from onnxgraph.trainer._loop import CompletedStep, feeds_for

        spec = self._prepare(x, y, "training")
        inputs, targets = spec.inputs(x), spec.targets(y)
        weights = spec.weights(sample_weight, class_weight, targets, batch_size_of(inputs))
        self.reset_metrics()
        with CompletedStep() as guard, guard.step():
            losses, preds = self._engine.train_step(feeds_for(self._compile_config.losses, inputs, targets, weights))
        self._engine.sync_to_model()  # layer.get_weights() right after a step sees it, as in Keras
        self._metrics_state.update(losses, preds, targets, weights, batch_size_of(inputs))
        logs = self._metrics_state.results()
        return logs if return_dict else self._metrics_state.ordered(logs)

    @guarded("test_on_batch()")
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on one batch in inference mode (reset first, as Keras 3 does)."""
        from onnxgraph.trainer._compile import batch_size_of
        from onnxgraph.trainer._loop import feeds_for

        spec = self._prepare(x, y, "evaluation")
        inputs, targets = spec.inputs(x), spec.targets(y)
        weights = spec.weights(sample_weight, None, targets, batch_size_of(inputs))
        self.reset_metrics()
        losses, preds = self._engine.eval_step(feeds_for(self._compile_config.losses, inputs, targets, weights))
        self._metrics_state.update(losses, preds, targets, weights, batch_size_of(inputs))
        logs = self._metrics_state.results()
        return logs if return_dict else self._metrics_state.ordered(logs)

    def predict_on_batch(self, x):
        """Predictions for one batch, in one run (no batching, no progress bar)."""
        from onnxgraph.utils._tree import flatten

        first = next((v for v in flatten(x) if hasattr(v, "shape") and len(v.shape)), None)
        return self.predict(x, batch_size=max(1, len(first) if first is not None else 1), verbose=0)

    def reset_metrics(self) -> None:
        if self._metrics_state is not None:
            self._metrics_state.reset()

    # -- reads that must see trained weights -----------------------------------------------------------
    def get_weights(self):
        self._sync_trained_weights()
        return super().get_weights()

    def to_onnx(self, *args, **kwargs):
        self._sync_trained_weights()
        return super().to_onnx(*args, **kwargs)

    def _runner(self, *args, **kwargs):
        self._sync_trained_weights()
        return super()._runner(*args, **kwargs)

    def export_training(self, filepath, y=None) -> None:
        """Write the train-step graph (forward, loss, gradients, optimizer update) as one `.onnx` file.

        It runs on any ONNX runtime: inputs are a batch, labels, sample weights, the weights and
        optimizer slots (defaulting to their current values), `learning_rate` and `iteration`;
        outputs the loss, predictions, gradients and new weights and slots. Its doc string and
        metadata entry `onnxgraph.training` say which output feeds which input at the next step.
        `y`: example targets, needed only when a loss depends on their shape ("crossentropy").
        """
        from onnxgraph.trainer._export import export_model

        self._require_compiled("export_training()")
        export_model(self, filepath, y)

    # -- checkpoints ----------------------------------------------------------------------------------
    def save_checkpoint(self, filepath) -> None:
        """Write weights, optimizer state (slots, iterations, learning rate), epoch and seed to one file.

        The file is a numpy `.npz` archive written atomically. `load_checkpoint` + `fit` resume the run
        exactly: 5 epochs, save, load, 5 more equal 10 epochs in one go.

        Example:
            >>> model.save_checkpoint("run.ckpt.npz")
        """
        from onnxgraph import optimizers

        self._sync_trained_weights()
        arrays = {f"weights/{i}": w for i, w in enumerate(self.get_weights())}
        meta = {"format": _CHECKPOINT_FORMAT, "model": self.name, "epoch": int(self._completed_epochs),
                "epochs_seen": int(self._epochs_seen),
                "seed": self._train_seed, "weight_paths": [v.path for v in self.weights]}
        if self.optimizer is not None:
            arrays.update({f"optimizer/{k}": np.asarray(v) for k, v in self.optimizer.get_state().items()})
            meta["optimizer"] = optimizers.serialize(self.optimizer)
            meta["optimizer_params"] = self._optimizer_param_paths()
        arrays["meta"] = np.asarray(json.dumps(meta))
        from onnxgraph.trainer._checkpoint_files import atomic_savez

        atomic_savez(os.fspath(filepath), arrays)

    def _optimizer_param_paths(self):
        if self._engine is not None:
            return self._engine.trainable_paths
        return self._optimizer_order

    def load_checkpoint(self, filepath) -> int:
        """Restore what `save_checkpoint` wrote; returns the number of completed epochs.

        Call it after `compile()` (the optimizer must be the same kind as when saving).
        """
        filepath = os.fspath(filepath)
        with np.load(filepath, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != _CHECKPOINT_FORMAT:
                raise ValueError(f"{filepath} is not an onnxgraph training checkpoint (format {meta.get('format')}).")
            paths = meta["weight_paths"]
            own = [v.path for v in self.weights]
            if len(paths) != len(own):
                raise ValueError(f"Checkpoint {filepath} holds {len(paths)} weights, model '{self.name}' has "
                                 f"{len(own)}. Load it into the same architecture it was saved from.")
            weights = [data[f"weights/{i}"] for i in range(len(paths))]
            opt_state = {k[len("optimizer/"):]: data[k] for k in data.files if k.startswith("optimizer/")}
        self.set_weights(weights)
        if opt_state:
            if self.optimizer is None:
                raise RuntimeError("This checkpoint holds optimizer state: call compile() with the same optimizer "
                                   "before load_checkpoint().")
            saved_name = meta.get("optimizer", {}).get("class_name")
            if saved_name and saved_name != type(self.optimizer).__name__:
                raise ValueError(f"The checkpoint was saved with a {saved_name} optimizer but the model is compiled "
                                 f"with {type(self.optimizer).__name__}; compile with {saved_name} to resume.")
            self.optimizer.set_state(opt_state)
            self._optimizer_order = meta.get("optimizer_params")
            if self._engine is not None:
                self._match_optimizer_order()
        self._completed_epochs = self._resume_epoch = int(meta.get("epoch", 0))
        self._epochs_seen = int(meta.get("epochs_seen", self._completed_epochs))
        if meta.get("seed") is not None:
            self._train_seed = int(meta["seed"])
        return self._completed_epochs

    def _match_optimizer_order(self) -> None:
        """Slots restored by load_checkpoint follow the saved weight order; reorder them to the engine's."""
        saved, self._optimizer_order = self._optimizer_order, None
        current = self._engine.trainable_paths
        if saved is None or saved == current:
            return
        if sorted(saved) != sorted(current):
            raise ValueError("The checkpoint's optimizer state is for other trainable weights "
                             f"({len(saved)} saved, {len(current)} now); were layers frozen differently?")
        from onnxgraph.trainer._checkpoint_files import reorder_slots

        self.optimizer.set_state(reorder_slots(self.optimizer.get_state(), saved, current))


def _default_train_seed(model) -> int:
    """Seed of shuffling and dropout masks: from the layers' own seeds when they give them.

    Keras makes `Dropout(0.5, seed=1)` draw the same masks in every run; dropout here draws from
    onnxruntime's generator, reseeded from this value each epoch, so seeded layers fix it. Without
    layer seeds it comes from onnxgraph's generator (`onnxgraph.utils.set_random_seed`).
    """
    seeds, stack = [], list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop(0)
        seed = getattr(layer, "seed", None)
        if isinstance(seed, int) and not isinstance(seed, bool):
            seeds.append(seed)
        stack.extend(getattr(layer, "layers", []) if layer is not model else [])
    if seeds:
        return int(np.random.default_rng(seeds).integers(1, 2**31 - 1))
    from onnxgraph.utils._rng import generator

    return int(generator().integers(1, 2**31 - 1))
