"""The Layer base class: config in __init__, weights in build, computation in call.

Calling a layer on symbolic tensors checks the input spec, builds the layer once (weights
become numpy-backed Variables), runs `call` inside the layer's naming scope (ops emit ONNX
nodes) and records the call so models can walk the graph of layers. Calling it on numpy
arrays runs the same graph on onnxruntime.
"""

from __future__ import annotations

import functools
import inspect
import math

import numpy as np

from onnxgraph import constraints as _constraints
from onnxgraph import initializers as _initializers
from onnxgraph import regularizers as _regularizers
from onnxgraph.backend import dtypes
from onnxgraph.backend.ir import KerasHistory, SymbolicTensor, _ids
from onnxgraph.backend.scope import current_options, current_scope, name_scope
from onnxgraph.backend.variable import Variable
from onnxgraph.layers import _mask_flow as _masks
from onnxgraph.layers import _auto_config
from onnxgraph.layers import _call_args as _calls
from onnxgraph.layers import _onnxscript_hook as _onnxscript
from onnxgraph.layers._input_spec import check_input_spec
from onnxgraph.layers._node import LayerNode, is_recording
from onnxgraph.saving._limits import charge_weight
from onnxgraph.utils._naming import auto_name
from onnxgraph.utils._tree import flatten, map_structure

__all__ = ["Layer"]


class Layer:
    """Base class of all layers (subclass it for custom layers, as in Keras)."""

    # Keras's conv, embedding and recurrent configs list activity_regularizer even when None.
    _activity_in_config = False

    def __init__(self, *, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_size=None, activity_regularizer=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__ got unexpected keyword arguments {sorted(kwargs)}."
            )
        object.__setattr__(self, "_tracked_layers", [])
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"{type(self).__name__}: `name` must be a non-empty string, got {name!r}.")
        self.name = name or auto_name(type(self).__name__)
        self._trainable = trainable
        self.dtype = dtypes.standardize(dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype)
        self.built = False
        self._trainable_vars: list[Variable] = []
        self._non_trainable_vars: list[Variable] = []
        self._inbound_nodes: list[LayerNode] = []
        self.input_spec = None
        # As in Keras: a layer that defines compute_mask supports masking; others opt in.
        self.supports_masking = type(self).compute_mask is not Layer.compute_mask
        self.activity_regularizer = _regularizers.get(activity_regularizer)
        self._losses: list = []
        self._weight_option_names: list[str] = []
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._batch_input_shape = (batch_size, *input_shape) if input_shape is not None else None
        self._call_params = set(inspect.signature(self.call).parameters)

    def __init_subclass__(cls, **kwargs):
        # As in Keras, a layer is built once its own `build` returns, however it was called
        # (`layer.build(shape)` then `set_weights` must not be undone by the first call).
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_sets_built", False):
            @functools.wraps(build)
            def build_and_mark(self, *args, **kw):
                build(self, *args, **kw)
                self.built = True

            build_and_mark._sets_built = True
            cls.build = build_and_mark

    # -- sublayer tracking -----------------------------------------------------------------
    def __setattr__(self, name, value):
        tracked = self.__dict__.get("_tracked_layers")
        if tracked is not None and not name.startswith("_tracked"):
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, Layer) and item is not self and all(item is not t for t in tracked):
                    tracked.append(item)
        object.__setattr__(self, name, value)

    @property
    def _layers(self) -> list:
        return self._tracked_layers

    # -- weights ----------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, name=None,
                   regularizer=None, constraint=None, **kwargs) -> Variable:
        """Create a weight owned by this layer (Keras `add_weight`)."""
        shape = tuple(int(d) for d in (shape or ()))
        if any(d is None or d < 0 for d in shape):
            raise ValueError(f"Layer '{self.name}': weight {name!r} needs a fully known shape, got {shape}.")
        dtype = dtypes.standardize(dtype or self.dtype)
        name = name or f"variable_{len(self._trainable_vars) + len(self._non_trainable_vars)}"
        charge_weight(self.name, name, shape, dtypes.to_numpy(dtype))  # a file's config cannot allocate freely
        if initializer is None:
            initializer = "glorot_uniform" if dtypes.is_float(dtype) else "zeros"
        value = _initializers.get(initializer)(shape, dtype=dtypes.to_numpy(dtype))
        path = "/".join(current_scope() or (self.name,)) + "/" + name
        variable = Variable(value, name=name, path=path, trainable=trainable, dtype=dtype, copy=False)
        # Read by the training graph (penalty added to the loss) and the engine (projection after
        # each step), as Keras's `variable.regularizer` / `variable.constraint`.
        variable.regularizer = _regularizers.get(regularizer)
        variable.constraint = _constraints.get(constraint)
        (self._trainable_vars if trainable else self._non_trainable_vars).append(variable)
        return variable

    def _weight_options(self, **options) -> None:
        """Keep `*_regularizer` / `*_constraint` constructor arguments (resolved, and in get_config)."""
        for key, value in options.items():
            value = _regularizers.get(value) if key.endswith("_regularizer") else _constraints.get(value)
            setattr(self, key, value)
            if key not in self._weight_option_names:
                self._weight_option_names.append(key)

    # -- losses ------------------------------------------------------------------------------
    def add_loss(self, loss) -> None:
        """Add a scalar loss term (Keras `add_loss`): call it in `call` on a symbolic tensor.

        The training graph sums every added loss into the total loss (Keras's `compute_loss`
        adds `model.losses`); tensors are reduced with a sum first.
        """
        collector = current_options().get("added_losses")
        items = list(flatten(loss))
        for item in items:
            if not isinstance(item, SymbolicTensor) and not hasattr(item, "shape"):
                raise ValueError(f"Layer '{self.name}': add_loss() takes tensors (from inside call() or "
                                 f"build()), got {item!r}.")
        (collector if collector is not None else self._losses).extend(items)

    @property
    def losses(self) -> list:
        """Losses from `add_loss` and activity regularizers of this layer and its sublayers, then
        the weight regularization penalties (current values)."""
        own = list(self._losses)
        for layer in _all_sublayers(self):
            own.extend(layer._losses)
        return own + [np.asarray(v.regularizer(v.value)) for v in self.trainable_weights
                      if getattr(v, "regularizer", None) is not None]

    def _activity_losses(self, outputs) -> None:
        """Keras: activity penalty of every output, divided by the batch size."""
        from onnxgraph.layers._masking import batch_normalized

        for output in flatten(outputs):
            if isinstance(output, SymbolicTensor):
                self.add_loss(batch_normalized(self.activity_regularizer(output), output))

    @property
    def weights(self) -> list[Variable]:
        """All weights: own trainable, own non-trainable, then sublayers' (Keras order)."""
        return _unique(self._trainable_vars + self._non_trainable_vars
                       + [w for layer in self._layers for w in layer.weights])

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        return _unique(self._trainable_vars + [w for layer in self._layers for w in layer.trainable_weights])

    @property
    def non_trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return self.weights
        return _unique(self._non_trainable_vars + [w for layer in self._layers for w in layer.non_trainable_weights])

    variables = weights
    _build_at_init = _calls.build_at_init  # Keras 3: stateless layers are built once constructed
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    def get_weights(self) -> list:
        """Weight values as numpy arrays, in `weights` order and Keras layout."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Assign values in `weights` order; shapes must match `get_weights()`."""
        own = self.weights
        if isinstance(weights, (str, bytes, dict)) or not hasattr(weights, "__len__"):
            raise TypeError(f"Layer '{self.name}': set_weights takes a list of {len(own)} arrays (as from get_weights()), "
                            f"got {type(weights).__name__}.")
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}' has {len(own)} weights {[w.name for w in own]}, but set_weights "
                f"received {len(weights)} arrays."
            )
        for variable, value in zip(own, weights):
            if tuple(getattr(value, "shape", ())) != variable.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{variable.name}' has shape {variable.shape}, but "
                    f"set_weights received shape {tuple(getattr(value, 'shape', ()))} (weight '{variable.path}')."
                )
        from onnxgraph.backend.variable import weights_lock

        with weights_lock:  # predict in another thread sees all old or all new weights
            for variable, value in zip(own, weights):
                variable.assign(value)

    def save_own_variables(self, store) -> None:
        """Write this layer's own weights (not its sublayers') into `store` as "0", "1", ... (Keras)."""
        for i, variable in enumerate(self._trainable_vars + self._non_trainable_vars):
            store[f"{i}"] = variable.numpy()

    def load_own_variables(self, store) -> None:
        """Assign this layer's own weights from a `save_own_variables` store (keys "0", "1", ...)."""
        own = self._trainable_vars + self._non_trainable_vars
        if len(store.keys()) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expected {len(own)} variables {[w.name for w in own]}, but the store "
                f"holds {len(store.keys())} ({sorted(store.keys())}). Build the layer first (so its weights "
                "exist) and pass a store written by save_own_variables for the same layer configuration.")
        values = [store[f"{i}"] for i in range(len(own))]
        for variable, value in zip(own, values):
            if tuple(getattr(value, "shape", ())) != variable.shape:
                raise ValueError(f"Layer '{self.name}': weight '{variable.name}' has shape {variable.shape}, but "
                                 f"store entry has shape {tuple(getattr(value, 'shape', ()))}.")
        from onnxgraph.backend.variable import weights_lock

        with weights_lock:
            for variable, value in zip(own, values):
                variable.assign(value)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet, so it has no weights to count. Call it on "
                "an input first (or call `build(input_shape)`)."
            )
        return sum(math.prod(w.shape) for w in self.weights)

    # -- the three methods subclasses write -----------------------------------------------------
    def build(self, input_shape) -> None:
        """Create weights from the input shape (override). The default creates none."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        """The computation on symbolic tensors (override). The default is the identity."""
        return inputs

    def __new__(cls, *args, **kwargs):
        instance = super().__new__(cls)
        instance.__dict__["_auto_config"] = _auto_config.capture(cls, args, kwargs)
        return instance

    def get_config(self) -> dict:
        auto = self.__dict__.get("_auto_config") if type(self).get_config is Layer.get_config else None
        config = {**(auto or {}), "name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        for key in self._weight_option_names:
            serialize = _regularizers.serialize if key.endswith("_regularizer") else _constraints.serialize
            config[key] = serialize(getattr(self, key))
        if self.activity_regularizer is not None or self._activity_in_config:
            config["activity_regularizer"] = _regularizers.serialize(self.activity_regularizer)
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        batch_input_shape = config.pop("batch_input_shape", None)
        try:
            layer = cls(**config)
        except Exception as e:  # Keras's wrapping (its tests match on TypeError), keeping the cause
            raise TypeError(f"Error when deserializing class '{cls.__name__}' using config={config}.\n\n"
                            f"Exception encountered: {e}") from e
        if batch_input_shape is not None:
            layer._batch_input_shape = tuple(batch_input_shape)
        return layer

    def compute_output_shape(self, input_shape):
        """Output shape for an input shape, found by emitting the layer on a placeholder."""
        from onnxgraph.layers._input_layer import placeholder
        from onnxgraph.layers._node import recording

        with recording(False):
            out = self(map_structure(lambda s: placeholder(s, self.dtype), input_shape,)
                       if isinstance(input_shape, list) else placeholder(input_shape, self.dtype))
        return map_structure(lambda t: t.shape, out)

    # -- calling -----------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        args, kwargs = _calls.first_input_positional(self.call, args, kwargs)  # layer(inputs=x), mha(query=q)
        try:
            flat_inputs = [x for x in flatten((args, kwargs)) if isinstance(x, SymbolicTensor)]
        except RecursionError:
            raise ValueError(f"Layer '{self.name}' was called on lists nested too deeply to be tensors or arrays.") from None
        if not flat_inputs and current_scope():
            # Inside another layer's call, arrays (ops.zeros(...) state in the guide's CustomRNN)
            # are graph constants, as Keras traces them: emit on them instead of running eagerly.
            from onnxgraph.layers._eager import arrays_to_constants

            args, kwargs = arrays_to_constants(args, kwargs)
            flat_inputs = [x for x in flatten((args, kwargs)) if isinstance(x, SymbolicTensor)]
        if not flat_inputs:
            from onnxgraph.layers._eager import call_eagerly

            return call_eagerly(self, args, kwargs)
        _onnxscript.ensure_installed()  # onnxscript functions called in `call` emit into the graph
        inputs = args[0] if args else next(iter(kwargs.values()))
        if not self.__dict__.get("_functional"):  # a functional model checks after matching its input structure
            check_input_spec(self, self.input_spec, [x for x in flatten(inputs) if isinstance(x, SymbolicTensor)])
        if not current_scope() and current_options().get("added_losses") is None:
            self._clear_losses()  # as Keras: a top-level call keeps only its own added losses
        with name_scope(self.name):
            if not self.built:
                self._build_from(inputs)
            start = next(_ids)
            call_kwargs = {k: v for k, v in kwargs.items() if k in self._call_params or
                           "kwargs" in self._call_params}
            previous_mask = _masks.populate(self, args, kwargs, call_kwargs)
            outputs = self.call(*args, **call_kwargs)
            if self.activity_regularizer is not None:
                self._activity_losses(outputs)
        outputs = self._claim_outputs(args, kwargs, outputs, start)
        _masks.set_output_masks(self, inputs, outputs, previous_mask)
        return outputs

    def compute_mask(self, inputs, previous_mask=None):
        """The mask of the outputs (override; the default passes the input's mask on)."""
        return previous_mask

    def _clear_losses(self) -> None:
        self._losses.clear()
        for layer in _all_sublayers(self):
            layer._losses.clear()

    def _build_from(self, inputs) -> None:
        shapes = map_structure(lambda x: x.shape if isinstance(x, SymbolicTensor) else None, inputs)
        self.build(shapes)
        self.built = True

    def _claim_outputs(self, args, kwargs, outputs, start_id):
        """Give each output tensor this call's history (Identity for tensors made elsewhere)."""
        from onnxgraph import ops

        def claim(x):
            if not isinstance(x, SymbolicTensor):
                if hasattr(x, "graph_value"):
                    x = x.graph_value()
                elif x is None:
                    return x
                else:
                    from onnxgraph.backend.emit import constant

                    x = constant(x)
            if x.id < start_id or x.producer is None:
                mask = getattr(x, "_keras_mask", None)
                with name_scope(self.name):
                    x = ops.identity(x)
                if mask is not None:
                    x._keras_mask = mask
            return x

        outputs = map_structure(claim, outputs)
        if not is_recording():
            return outputs
        node = LayerNode(self, args, kwargs, outputs)
        self._inbound_nodes.append(node)
        flat = node.output_tensors
        for i, x in enumerate(flat):
            x._keras_history = KerasHistory(self, len(self._inbound_nodes) - 1, i)
            if x.name is None:
                x.name = self.name if len(flat) == 1 else f"{self.name}:{i}"
        return outputs

    # -- graph accessors --------------------------------------------------------------------------
    def _first_node(self, what: str) -> LayerNode:
        if not self._inbound_nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called and thus has no defined {what}. "
                "Call it on an input first."
            )
        return self._inbound_nodes[0]

    @property
    def input(self):
        node = self._first_node("input")
        return node.input_tensors[0] if len(node.input_tensors) == 1 else list(node.input_tensors)

    @property
    def output(self):
        return self._first_node("output").outputs

    @property
    def input_shape(self):
        return map_structure(lambda x: x.shape, self.input)

    @property
    def output_shape(self):
        return map_structure(lambda x: x.shape, self.output)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _all_sublayers(layer):
    found, stack, seen = [], list(layer._layers), {id(layer)}
    while stack:
        item = stack.pop(0)
        if id(item) not in seen:
            seen.add(id(item))
            found.append(item)
            stack.extend(item._layers)
    return found


def _unique(variables):
    seen, result = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            result.append(v)
    return result
