"""Model: a graph of layers between symbolic inputs and outputs, itself usable as a layer."""

from __future__ import annotations

from onnxgraph.backend.ir import SymbolicTensor
from onnxgraph.backend.scope import current_scope
from onnxgraph.layers._input_spec import InputSpec, check_input_spec
from onnxgraph.layers._layer import Layer
from onnxgraph.models._export import ExportMixin
from onnxgraph.models._graph_walk import clone_from_intermediate, map_graph
from onnxgraph.models._standardize import standardize_inputs, structure_paths
from onnxgraph.models._subclassed import SubclassedMixin
from onnxgraph.models._summary import print_summary
from onnxgraph.models._training_api import TrainingMixin
from onnxgraph.utils._tree import flatten, map_structure, pack_like

__all__ = ["Model"]


class Model(TrainingMixin, SubclassedMixin, ExportMixin, Layer):
    """`Model(inputs, outputs, name=None)`: the functional API's model.

    Inputs and outputs may be a tensor, a list or a dict. Calling a model on symbolic tensors
    nests it (weights shared); calling it on arrays runs it on onnxruntime.

    Example:
        >>> inputs = Input(shape=(784,))
        >>> outputs = layers.Dense(10)(layers.Dense(64, activation="relu")(inputs))
        >>> model = Model(inputs, outputs, name="mnist_model")
    """

    # A nested model's outputs carry the masks its own layers computed (Keras's Functional).
    _warns_on_dropped_mask = False

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name or _auto_model_name(type(self)), trainable=trainable, **kwargs)
        self._functional = False
        self._runners = {}
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("Model(inputs, outputs): give both `inputs` and `outputs`.")
            self._init_graph(inputs, outputs)
            if not trainable:
                self.trainable = False  # Keras: the layers of a non-trainable model are frozen too

    # -- graph ------------------------------------------------------------------------------------
    def _init_graph(self, inputs, outputs) -> None:
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(outputs, tuple) and len(outputs) == 1:
            outputs = list(outputs)  # tuples (and namedtuples) of several outputs stay so, as in Keras
        inputs, outputs = clone_from_intermediate(inputs, outputs)
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        # Keras walks dict outputs in sorted-key order: layer and weight order follow it, so
        # weights copy between Keras and onnxgraph models in `get_weights()` order.
        walk_outputs = flatten({k: outputs[k] for k in sorted(outputs)}) if isinstance(outputs, dict) else self.outputs
        walk_struct = {k: outputs[k] for k in sorted(outputs)} if isinstance(outputs, dict) else outputs
        layers, nodes_by_depth = map_graph(self.inputs, walk_outputs, structure_paths(walk_struct))
        self._all_layers = layers
        self._nodes_by_depth = nodes_by_depth
        self._ordered_nodes = [n for d in sorted(nodes_by_depth, reverse=True) for n in nodes_by_depth[d]
                               if not n.is_input]
        object.__setattr__(self, "_tracked_layers", [layer for layer in layers if not _is_input_layer(layer)])
        self.input_names = [x._keras_history.layer.name for x in self.inputs]
        self.output_names = _output_names(outputs)
        self.__dict__["_graph_input_spec"] = [InputSpec(shape=x.shape, name=n)
                                              for x, n in zip(self.inputs, self.input_names)]
        self._functional = True
        self.built = True
        self._runners = {}

    @property
    def layers(self) -> list:
        """All layers, Keras order (inputs first, then by depth); InputLayers included."""
        if not self._functional:
            return list(self._tracked_layers)
        return list(self._all_layers)

    @layers.setter
    def layers(self, _):
        raise AttributeError(f"Model '{self.name}': `Model.layers` attribute is reserved and should not be used. "
                             "Please use another name (e.g. self.blocks = [...]); `layers` lists the tracked layers.")

    @property
    def input_spec(self):
        """The graph's input specs, unless one was set by hand (Keras: then eager calls check it too)."""
        manual = self.__dict__.get("_manual_input_spec")
        return manual if manual is not None else self.__dict__.get("_graph_input_spec")

    @input_spec.setter
    def input_spec(self, value):
        self.__dict__["_manual_input_spec"] = value

    @property
    def input(self):
        self._require_graph("input")
        return self._inputs_struct

    @property
    def output(self):
        self._require_graph("output")
        return self._outputs_struct

    def _require_graph(self, what):
        if not self._functional and not self._ensure_export_graph():
            raise AttributeError(
                f"Model '{self.name}' has no {what} yet: it is built when first called on data."
            )

    def get_layer(self, name=None, index=None):
        """A layer by unique name or by index in `layers`."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: pass exactly one of `name=` or `index=`.")
        layers = self.layers
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError(f"get_layer: `index` must be an int, got {index!r}.")
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range; the model has {len(layers)} layers.")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named '{name}' in model '{self.name}'. Layers: {[l.name for l in layers]}.")

    # -- calling ---------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self._functional and args and not current_scope() and not kwargs.get("training"):
            try:
                symbolic = [x for x in flatten((args, kwargs)) if isinstance(x, SymbolicTensor)]
            except RecursionError:  # lists nested deeper than any model input: data, refused by the feeds
                symbolic = []
            if not symbolic:
                return self._run_eager(args[0])
        return super().__call__(*args, **kwargs)

    def _build_from(self, inputs) -> None:
        if self._is_subclassed():
            self._build_subclassed(inputs)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if not self._functional:
            raise NotImplementedError(
                f"Model '{self.name}' has no graph: build it with Model(inputs, outputs), or subclass "
                "Model and define `call`."
            )
        flat = standardize_inputs(self, inputs, warn=False)
        check_input_spec(self, self.input_spec, flat)
        return self._run_graph(flat, training)

    def _run_graph(self, flat_inputs, training=None):
        """Replay every layer call on new tensors (nesting, training graphs)."""
        if not self._functional:
            return self._run_subclassed(flat_inputs, training)
        tensor_map = {x.id: new for x, new in zip(self.inputs, flat_inputs)}
        for node in self._ordered_nodes:
            def swap(t):
                return tensor_map[t.id] if isinstance(t, SymbolicTensor) else t

            args, kwargs = map_structure(swap, (list(node.args), dict(node.kwargs)))
            if training is not None and "training" not in kwargs and (
                "training" in node.layer._call_params or isinstance(node.layer, Model)
            ):
                kwargs["training"] = training
            outputs = node.layer(*args, **kwargs)
            for old, new in zip(node.output_tensors, flatten(outputs)):
                tensor_map[old.id] = new
        return pack_like(self._outputs_struct, [tensor_map[x.id] for x in self.outputs])

    # -- weights and info -------------------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print a Keras 3 style table of layers, output shapes and parameter counts."""
        self._ensure_export_graph()  # a subclassed model's sublayers get their output shapes
        print_summary(self, line_length=line_length, print_fn=print_fn, expand_nested=expand_nested,
                      show_trainable=show_trainable)

    def load_weights(self, filepath, skip_mismatch: bool = False) -> None:
        """Load weights saved by Keras (`.weights.h5`, `.keras`, legacy `.h5`) by layer name.

        The model must have the architecture of the saved one; see
        `onnxgraph.saving._keras_weights.load_weights` for the matching rules.
        """
        from onnxgraph.saving._keras_weights import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def get_config(self) -> dict:
        from onnxgraph.models._config import functional_config

        if not self._functional:
            return Layer.get_config(self)
        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from onnxgraph.models._config import functional_from_config

        if "layers" in config and "input_layers" in config:
            return functional_from_config(config, custom_objects, cls=cls)
        return cls(**config)

    @classmethod
    def from_onnx(cls, source, name=None):
        """Wrap an ONNX model from any exporter (path or ModelProto); see `onnxgraph.interop.from_onnx`.

        Example:
            >>> m = Model.from_onnx("exported.onnx")
            >>> features = Model(m.inputs, m.get_layer("/layer3/Relu").output)
        """
        from onnxgraph.interop import from_onnx

        return from_onnx(source, name=name)


def _is_input_layer(layer) -> bool:
    return type(layer).__name__ == "InputLayer"


def _auto_model_name(cls) -> str:
    from onnxgraph.utils._naming import auto_name

    return auto_name("functional" if cls is Model else cls.__name__)


def _path_names(structure) -> list:
    items = structure.items() if isinstance(structure, dict) else enumerate(structure)
    return [str(k) if not isinstance(v, (list, tuple, dict)) else f"{k}_{sub}"
            for k, v in items for sub in ([None] if not isinstance(v, (list, tuple, dict)) else _path_names(v))]


def _output_names(outputs) -> list:
    if isinstance(outputs, dict):
        # Nested values: one name per flat output, its path ("c_c1_0"), so names match `outputs`.
        return [str(k) if not isinstance(v, (list, tuple, dict)) else f"{k}_{sub}"
                for k, v in outputs.items() for sub in ([None] if not isinstance(v, (list, tuple, dict))
                                                       else _path_names(v))]
    names, seen = [], set()
    for x in flatten(outputs):
        base = x._keras_history.layer.name
        name, k = base, 0
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        names.append(name)
    return names
