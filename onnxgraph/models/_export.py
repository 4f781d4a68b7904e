"""Model -> ONNX (to_onnx, save) and running it (predict, eager __call__)."""

from __future__ import annotations

import json
import math

import numpy as np

from onnxgraph.backend import transforms
from onnxgraph.backend.emit import OPSET
from onnxgraph.backend.graph import collect
from onnxgraph.backend.serialize import to_model_proto
from onnxgraph.models._guards import check_count, check_verbose
from onnxgraph.models._input_checks import check_ids, embedding_ranges, run_explained
from onnxgraph.layers._input_spec import check_input_spec
from onnxgraph.models._standardize import standardize_inputs
from onnxgraph.runtime._feeds import normalize_feeds
from onnxgraph.utils._tree import flatten, pack_like

__all__ = ["ExportMixin", "CONFIG_KEY", "WEIGHTS_KEY"]

CONFIG_KEY = "onnxgraph.config"
WEIGHTS_KEY = "onnxgraph.weights"


class ExportMixin:
    """to_onnx / save / predict for Model (needs `inputs`, `outputs`, names and `weights`)."""

    def to_onnx(self, target_opset: int | None = None, layer_functions: bool = False):
        """The model as an `onnx.ModelProto` (opset 21 unless `target_opset` is given).

        The file carries the model config and weight layout in `metadata_props`, so
        `load_model` rebuilds the same layers, names and weights. `layer_functions=True`
        wraps each layer call in an ONNX local function (see `backend/functions.py`).
        """
        self._require_graph("ONNX graph")
        if target_opset is not None and (isinstance(target_opset, bool) or not isinstance(target_opset, int)
                                         or not 7 <= target_opset <= OPSET):
            raise ValueError(f"`target_opset` must be an int from 7 to {OPSET} (onnxgraph writes opset {OPSET} and "
                             f"converts down), got {target_opset!r}.")
        graph = collect(self.inputs, self.outputs, self.input_names, self.output_names)
        proto, weight_map = to_model_proto(graph, name=self.name, doc=_doc(self), metadata=None)
        self._record_weights(proto, weight_map)
        if layer_functions:
            from onnxgraph.backend.functions import group_layers

            if target_opset is not None and target_opset != OPSET:
                raise ValueError(f"layer_functions=True writes opset {OPSET}; save the flat file to convert "
                                 f"it to opset {target_opset}.")
            return group_layers(proto, self, graph)
        if target_opset is not None and target_opset != OPSET:
            from onnxgraph.saving._files import convert_opset

            proto = convert_opset(proto, target_opset)
        return proto

    def _inference_proto(self, external=None):
        """The graph alone for a session (no config metadata); weights go to `external` when given."""
        sync = getattr(self, "_sync_trained_weights", None)
        if sync is not None:
            sync()
        self._require_graph("ONNX graph")
        graph = collect(self.inputs, self.outputs, self.input_names, self.output_names)
        return to_model_proto(graph, name=self.name, doc=_doc(self), external=external)[0]

    def _record_weights(self, proto, weight_map) -> None:
        """Metadata: config JSON and, per weight, its initializer name and layout transform."""
        from onnx import numpy_helper

        used = {init.name for init in proto.graph.initializer}
        entries = []
        for variable in self.weights:
            if id(variable) in weight_map:
                name, transform = weight_map[id(variable)]
            else:  # weight not read by any node (still saved so load restores it)
                name, transform, k = variable.path, (), 0
                while name in used:
                    k += 1
                    name = f"{variable.path}_{k}"
                used.add(name)
                proto.graph.initializer.append(numpy_helper.from_array(variable.value, name))
            entries.append([name, transforms.to_spec(transform)])
        config = {"class_name": self._class_name(), "config": self.get_config()}
        proto.metadata_props.add(key=CONFIG_KEY, value=json.dumps(config, default=_json_default))
        proto.metadata_props.add(key=WEIGHTS_KEY, value=json.dumps(entries))

    def _class_name(self) -> str:
        return "Functional" if type(self).__name__ == "Model" else type(self).__name__

    def save(self, filepath, overwrite: bool = True, layer_functions: bool = False, include_optimizer=None,
             **kwargs) -> None:
        """Write the model as one `.onnx` file (atomically; external data beside it over 2 GB),
        or as a Keras 3 `.keras` archive when the name ends in `.keras` (real Keras loads it).

        A compiled model keeps its compile config (optimizer, loss, metrics, loss_weights) in
        either file, so `load_model` returns it compiled: `evaluate`/`fit` work at once.
        `include_optimizer` also stores the optimizer's variables (slots, iterations): default
        True for `.keras` (as Keras), False for `.onnx`, which stays a lean inference file (pass
        True to resume training exactly; they are initializers no node reads).
        `layer_functions=True` wraps each layer call in an ONNX local function (one node per
        layer in Netron); the default file is flat. Both compute the same values and load back.

        Example:
            >>> model.save("m.keras")                          # keras.saving.load_model reads it
            >>> model.save("m.onnx", include_optimizer=True)   # resume fit() after load_model
        """
        import os

        from onnxgraph.saving._compile_config import attach_training_state
        from onnxgraph.saving._files import save_model_file

        if not os.fspath(filepath).endswith((".onnx", ".keras")):
            raise ValueError(f"Model files end in '.onnx' (the default: an ONNX model) or '.keras' (a Keras 3 "
                             f"archive); got {os.fspath(filepath)!r}.")
        if os.fspath(filepath).endswith(".keras"):
            from onnxgraph.saving._keras_archive import save_keras

            self._require_graph("graph to save")
            save_keras(self, filepath, overwrite=overwrite,
                       include_optimizer=True if include_optimizer is None else include_optimizer)
            return
        proto = self.to_onnx(layer_functions=layer_functions,
                             **{k: v for k, v in kwargs.items() if k == "target_opset"})
        attach_training_state(proto, self, bool(include_optimizer))
        save_model_file(proto, filepath, overwrite=overwrite)

    def to_json(self, **kwargs) -> str:
        """The model config as a JSON string in Keras 3's layout (`keras.models.model_from_json` reads it).

        Example:
            >>> clone = og.models.model_from_json(model.to_json())   # same layers, fresh weights
        """
        from onnxgraph.saving._keras_archive import model_to_json

        self._require_graph("config to serialize")
        return model_to_json(self, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Write the weights as a Keras 3 `.weights.h5` file (Keras's `load_weights` reads it).

        Like Keras, a compiled model's optimizer variables are saved with them.

        Example:
            >>> model.save_weights("m.weights.h5")
        """
        import os

        from onnxgraph.saving._keras_archive import save_weights_file

        filepath = os.fspath(filepath)
        if not filepath.endswith(".weights.h5"):
            raise ValueError(f"Weight files end in '.weights.h5' (Keras's format); got {filepath!r}.")
        save_weights_file(self, filepath, overwrite=overwrite)

    def export(self, filepath, target_opset=None, fp16=False, quantize=None, calibration_data=None,
               ort_format=False, format="onnx", **kwargs):
        """Edge export (opset, float16, int8, ORT format) with a size/deviation report.

        See `onnxgraph.export.export_model` for the arguments. Returns an ExportReport.
        """
        from onnxgraph.export import export_model

        if format != "onnx":
            raise ValueError(f"onnxgraph exports ONNX only (format='onnx'), got format={format!r}. "
                             f"(Unrecognized format={format!r}.)")
        return export_model(self, filepath, target_opset=target_opset, fp16=fp16, quantize=quantize,
                            calibration_data=calibration_data, ort_format=ort_format, **kwargs)

    def view(self, port=None, browse=True, layer_functions=True):
        """Open the model in Netron, served by its own process; returns the view (`.url`, `.stop()`).

        See `onnxgraph.utils.view`. `layer_functions=True` shows one node per layer.
        """
        from onnxgraph.utils._netron import view

        return view(self, port=port, browse=browse, layer_functions=layer_functions)

    # -- running -----------------------------------------------------------------------------------
    def _runner(self, providers="auto"):
        from onnxgraph.layers._recurrent import refuse_stateful

        refuse_stateful(self, "running the model (predict / __call__)")
        key = providers if isinstance(providers, str) else tuple(providers)
        runner = self._runners.get(key)
        if runner is None:
            from onnxgraph.runtime import GraphRunner

            runner = GraphRunner(self.inputs, self.outputs, self.input_names, self.output_names,
                                 self.weights, name=self.name, providers=providers,
                                 build_proto=self._inference_proto)
            self._runners[key] = runner
        return runner

    def _signatures(self):
        from onnxgraph.runtime._feeds import InputSignature

        cached = self.__dict__.get("_input_signatures")
        if cached is None or cached[0] is not self.inputs:
            cached = (self.inputs, [InputSignature(n, x.shape, x.dtype) for n, x in zip(self.input_names, self.inputs)])
            self._input_signatures = cached
        return cached[1]

    def _id_ranges(self):
        """(input name, input_dim, layer name) per Embedding fed straight from a model input."""
        cached = self.__dict__.get("_id_ranges_cache")
        if cached is None or cached[0] is not self.inputs:
            cached = (self.inputs, embedding_ranges(self))
            self._id_ranges_cache = cached
        return cached[1]

    def _feeds(self, x) -> dict:
        if self._functional and not (type(x) is np.ndarray and len(self.inputs) == 1
                                     and x.ndim == len(self.inputs[0].shape)):
            flat = standardize_inputs(self, x)
            x = flat[0] if len(flat) == 1 else flat
        feeds = normalize_feeds(x, self._signatures())
        if self.__dict__.get("_manual_input_spec") is not None:
            check_input_spec(self, self._manual_input_spec, [feeds[n] for n in self.input_names])
        ranges = self._id_ranges()
        if ranges:  # only models with an Embedding on an input pay for the check (a min and a max)
            check_ids(feeds, ranges)
        return feeds

    def _run_eager(self, x, providers="auto"):
        feeds = self._feeds(x)
        runner = self._runner(providers)
        return pack_like(self._outputs_struct, run_explained(self, runner.session_state(), feeds))

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, providers="auto"):
        """Run the model on numpy data in batches; returns an array, list or dict like Keras.

        `x` may also be a generator or iterator of batches (`x` or `(x,)`/`(x, y)` tuples): each
        batch runs whole and the outputs are concatenated. An Input-less model is built from the first.
        """
        if _is_batch_stream(x):
            return self._predict_stream(x, steps, verbose, providers)
        self._require_graph("graph to predict with")
        check_count("batch_size", batch_size, where="predict")
        check_count("steps", steps, where="predict")
        check_verbose(verbose, where="predict")
        feeds = self._feeds(x)
        # One weights state for the whole answer: every batch runs on the same session, even if
        # set_weights (or training) changes the weights while predict runs.
        state = self._runner(providers).session_state()
        batched = [feeds[sig.name] for sig in self._signatures() if sig.shape and sig.shape[0] is None]
        # Inputs with a fixed first dimension (imported graphs) have no batch axis: one run, whole.
        n = batched[0].shape[0] if batched and len(batched) == len(feeds) else 1
        batch_size = batch_size or 32
        steps_total = max(1, math.ceil(n / batch_size))
        if steps is not None:
            steps_total = min(steps_total, steps)
        bar = None
        if verbose:  # "auto" means 1, like Keras
            from onnxgraph.utils._progbar import Progbar

            bar = Progbar(steps_total, verbose=1 if verbose == "auto" else verbose)
        if steps_total == 1 and steps is None:
            results = run_explained(self, state, feeds)
            if bar:
                bar.update(1, finalize=True)
        else:
            chunks = []
            for step in range(steps_total):
                batch = {k: v[step * batch_size:(step + 1) * batch_size] for k, v in feeds.items()}
                chunks.append(run_explained(self, state, batch))
                if bar:
                    bar.update(step + 1, finalize=step + 1 == steps_total)
            results = [np.concatenate(parts, axis=0) for parts in zip(*chunks)]
        return pack_like(self._outputs_struct, results)

    def _predict_stream(self, x, steps, verbose, providers):
        check_count("steps", steps, where="predict")
        check_verbose(verbose, where="predict")
        parts = []
        for step, batch in enumerate(x):
            if steps is not None and step >= steps:
                break
            inputs = batch[0] if isinstance(batch, tuple) else batch
            if not self._has_graph():
                self._build_from_data(inputs)
            self._fit_input_to(inputs)
            parts.append(flatten(self.predict(inputs, batch_size=None, verbose=0, providers=providers)))
        if not parts:
            raise ValueError(f"Model '{self.name}': predict() got a generator that yielded no batches.")
        try:
            results = [np.concatenate(outs, axis=0) for outs in zip(*parts)]
        except ValueError as exc:
            raise ValueError(f"Model '{self.name}': predict() could not concatenate the outputs of the generator's "
                             f"batches (their shapes beyond the batch differ: {exc}). Predict batch by batch instead.") from None
        return pack_like(self._outputs_struct, results)

    def _fit_input_to(self, inputs) -> None:
        """A hook: a Sequential built from data opens the input dimensions that vary between batches."""


def _is_batch_stream(x) -> bool:
    return (not isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)) and not hasattr(x, "__array__")
            and (hasattr(x, "__next__") or hasattr(x, "__iter__")))




def _doc(model) -> str:
    return f"{model.name}: built with onnxgraph (Keras functional API, ONNX as the model)."


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"Config value {value!r} ({type(value).__name__}) is not JSON-serializable; "
                    "return plain Python values from get_config().")
