"""BatchNormalization (LayerNormalization and GroupNormalization live in `_layer_norm.py`).

Three emissions of the same layer, chosen by what the graph is for:

- Inference file (the default): one ONNX BatchNormalization node on the moving statistics.
  ONNX normalizes channel axis 1, so channel-last data gets a Transpose pair around it
  (``perm`` to channel-first and back); the layout pass cancels those pairs against the
  ones around neighbouring convolutions, leaving Conv -> BatchNormalization, which
  onnxruntime fuses.
- Training graph, inference behaviour (``training`` falsy, or the layer frozen): the same
  formula as per-channel Mul/Add. onnxruntime-training turns a BatchNormalization node
  into batch statistics in a training graph, so it must not appear there.
- Training graph, ``training=True``: batch mean and variance from ReduceMean, and the
  moving-statistics update ``moving * momentum + batch * (1 - momentum)`` as tensors.
  When the emitter collects state updates (``emit_options(state_updates=[])``), each is
  appended as ``(variable, new_value_tensor)``; the training engine outputs them from the
  training graph and assigns them back after each step.

An export pass (after the layout pass) rewrites a BatchNormalization whose own Transpose
pair survived, i.e. one not next to a convolution, into the per-channel Mul/Add form on the
channel-last data: no transposes, and onnxruntime folds the weight arithmetic at load.
"""

from __future__ import annotations

import numpy as np

from onnxgraph import initializers, ops
from onnxgraph.backend import layout, serialize
from onnxgraph.backend.emit import constant, emit
from onnxgraph.backend.ir import Node, SymbolicTensor
from onnxgraph.backend.scope import current_options
from onnxgraph.layers._input_spec import InputSpec
from onnxgraph.layers._layer import Layer

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Normalize each channel with its moving mean and variance, then scale and shift.

    Inference: ``gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta``.
    Weights (Keras order): gamma, beta (trainable), moving_mean, moving_variance.

    Args:
        axis: the channel axis (default -1; 1 for channels_first data).
        momentum: moving-average momentum used when training.
        epsilon: added to the variance before the square root.
        center: learn the offset `beta`.
        scale: learn the scale `gamma`.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: initializers of the four weights.

    Example:
        >>> x = Input(shape=(32, 32, 16))
        >>> y = BatchNormalization()(x)
        >>> y.shape
        (None, 32, 32, 16)
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        self._weight_options(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                             beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if isinstance(axis, (list, tuple)):
            raise ValueError(f"BatchNormalization: `axis` must be one int (the channel axis), got {axis!r}.")
        if renorm:
            raise ValueError("BatchNormalization: renorm=True (batch renormalization) is not supported; "
                             "use renorm=False.")
        if synchronized:
            raise ValueError("BatchNormalization: synchronized=True is only meaningful for multi-device "
                             "TensorFlow training; use synchronized=False.")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.supports_masking = True
        self.gamma = self.beta = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"Layer '{self.name}': axis {self.axis} is out of range for input shape "
                             f"{tuple(input_shape)}.")
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(
                f"Layer '{self.name}' needs a known size on its channel axis {self.axis} to create its "
                f"weights, got input shape {tuple(input_shape)}."
            )
        shape = (channels,)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma", regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta", regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, name="moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               name="moving_variance", trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: channels})

    def call(self, inputs, training=None, mask=None):
        x = inputs if inputs.dtype == "float32" else ops.cast(inputs, "float32")
        if x.ndim < 2:
            raise ValueError(f"Layer '{self.name}' expects an input of rank >= 2 (batch, ..., channels), "
                             f"got shape {x.shape}.")
        axis = self.axis % x.ndim
        if training and self.trainable:
            y = self._batch_statistics(x, axis, mask)
        elif current_options().get("training_graph"):
            y = self._affine(x, axis)
        else:
            y = self._onnx_batch_norm(x, axis)
        return y if y.dtype == self.dtype else ops.cast(y, self.dtype)

    # -- emissions ---------------------------------------------------------------------------
    def _onnx_batch_norm(self, x, axis):
        """One ONNX BatchNormalization (opset 15) with the channel moved to axis 1 if needed."""
        channels = self.moving_mean.shape
        gamma = self.gamma.graph_value() if self.scale else constant(np.ones(channels, np.float32))
        beta = self.beta.graph_value() if self.center else constant(np.zeros(channels, np.float32))
        perm = [0, axis] + [i for i in range(1, x.ndim) if i != axis]
        if axis != 1:
            x = ops.transpose(x, perm)
        y = emit("BatchNormalization", [x, gamma, beta, self.moving_mean.graph_value(),
                                        self.moving_variance.graph_value()],
                 {"epsilon": self.epsilon}, shapes=[x.shape], dtypes_=[x.dtype])
        return ops.transpose(y, np.argsort(perm).tolist()) if axis != 1 else y

    def _affine(self, x, axis):
        """x * scale + shift with scale = gamma / sqrt(var + eps), shift = beta - mean * scale."""
        inv = ops.reciprocal(ops.sqrt(ops.add(self._param(self.moving_variance, x.ndim, axis),
                                              _scalar(self.epsilon))))
        scale = ops.multiply(inv, self._param(self.gamma, x.ndim, axis)) if self.scale else inv
        shift = ops.negative(ops.multiply(self._param(self.moving_mean, x.ndim, axis), scale))
        if self.center:
            shift = ops.add(shift, self._param(self.beta, x.ndim, axis))
        return ops.add(ops.multiply(x, scale), shift)

    def _batch_statistics(self, x, axis, mask):
        """Normalize with the batch's own mean/variance; emit the moving-statistics updates."""
        axes = [i for i in range(x.ndim) if i != axis]
        if mask is None:
            mean = ops.mean(x, axis=axes, keepdims=True)
            centered = ops.subtract(x, mean)
            variance = ops.mean(ops.square(centered), axis=axes, keepdims=True)
        else:
            mean, centered, variance = self._masked_moments(x, axes, mask)
        inv = ops.reciprocal(ops.sqrt(ops.add(variance, _scalar(self.epsilon))))
        y = ops.multiply(centered, inv)
        if self.scale:
            y = ops.multiply(y, self._param(self.gamma, x.ndim, axis))
        if self.center:
            y = ops.add(y, self._param(self.beta, x.ndim, axis))
        updates = current_options().get("state_updates")
        if updates is not None:
            for variable, batch_value in ((self.moving_mean, mean), (self.moving_variance, variance)):
                batch_value = ops.reshape(batch_value, variable.shape)
                new = ops.add(ops.multiply(variable.graph_value(), _scalar(self.momentum)),
                              ops.multiply(batch_value, _scalar(1.0 - self.momentum)))
                updates.append((variable, new))
        return y

    def _masked_moments(self, x, axes, mask):
        """Keras's masked moments: statistics over the positions where mask is true."""
        from onnxgraph.backend.emit import as_tensor

        mask = as_tensor(mask)
        if mask.ndim != x.ndim - 1:
            raise ValueError(f"Layer '{self.name}': the mask must have one dimension less than the inputs; "
                             f"got mask shape {mask.shape} for inputs of shape {x.shape}.")
        # A 0/1 float mask (not Where) keeps the gradient right under broadcasting. Summed
        # over the reduction axes it counts the unmasked positions, as Keras's broadcast mask does.
        weights = ops.cast(ops.expand_dims(mask, -1), "float32")
        # Keras broadcasts the mask to the inputs first: a size-1 mask axis counts every position on it.
        weights = ops.multiply(weights, ops.ones_like(x))
        count = ops.add(ops.sum(weights, axis=axes, keepdims=True), _scalar(1e-7))
        mean = ops.divide(ops.sum(ops.multiply(x, weights), axis=axes, keepdims=True), count)
        centered = ops.subtract(x, mean)
        variance = ops.divide(ops.sum(ops.multiply(ops.square(centered), weights), axis=axes, keepdims=True),
                              count)
        return mean, centered, variance

    def _param(self, variable, ndim, axis):
        """A (C,) weight shaped to broadcast on `axis` (an initializer reshape, not a node)."""
        if axis == ndim - 1:
            return variable.graph_value()
        shape = tuple(variable.shape[0] if i == axis else 1 for i in range(1, ndim))
        return variable.graph_value((("reshape", shape),))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "synchronized": False}


def _scalar(value):
    return constant(np.asarray(value, dtype=np.float32))


def _rewrite_isolated(graph) -> None:
    """Export pass: Transpose -> BatchNormalization -> Transpose back becomes x * scale + shift."""
    producers = {out.id: node for node in graph.nodes for out in node.outputs}
    consumers = graph.consumers()
    output_ids = {x.id for x in graph.outputs}
    for bn in [node for node in graph.nodes if node.op_type == "BatchNormalization"]:
        entry = producers.get(bn.inputs[0].id)
        users = consumers.get(bn.outputs[0].id, [])
        if (entry is None or entry.op_type != "Transpose" or len(users) != 1 or users[0].op_type != "Transpose"
                or bn.outputs[0].id in output_ids):
            continue
        perm, back = list(entry.attrs["perm"]), list(users[0].attrs["perm"])
        if np.argsort(perm).tolist() != back:
            continue
        new_nodes = _affine_nodes(bn, entry.inputs[0], perm[1], users[0].outputs[0])
        position = graph.nodes.index(bn)
        graph.nodes[position:position + 1] = new_nodes
        graph.nodes.remove(users[0])
        if all(user is bn for user in consumers.get(entry.outputs[0].id, [])) and entry.outputs[0].id not in output_ids:
            graph.nodes.remove(entry)


def _affine_nodes(bn, x, axis, out):
    """Nodes computing BatchNormalization(x) on channel axis `axis` of x, writing tensor `out`."""
    gamma, beta, mean, var = (_on_axis(t, x.ndim, axis) for t in bn.inputs[1:5])
    nodes = []

    def node(op, inputs, shape, output=None):
        made = Node(op, inputs, {}, "", bn.scope)
        made.outputs = [output if output is not None else SymbolicTensor(shape, x.dtype, producer=made)]
        nodes.append(made)
        return made.outputs[0]

    eps = SymbolicTensor((), x.dtype, kind="constant", const=np.asarray(bn.attrs.get("epsilon", 1e-5), np.float32))
    param = gamma.shape
    inv = node("Reciprocal", [node("Sqrt", [node("Add", [var, eps], param)], param)], param)
    scale = node("Mul", [inv, gamma], param)
    shift = node("Sub", [beta, node("Mul", [mean, scale], param)], param)
    node("Add", [node("Mul", [x, scale], x.shape), shift], x.shape, output=out)
    return nodes


def _on_axis(t, ndim, axis):
    """A (C,) initializer shaped to broadcast on `axis` of a rank-`ndim` tensor."""
    if axis == ndim - 1:
        return t
    shape = tuple(t.shape[0] if i == axis else 1 for i in range(1, ndim))
    if t.kind == "variable":
        return t.variable.graph_value(tuple(t.transform) + (("reshape", shape),))
    return SymbolicTensor(shape, t.dtype, kind="constant", const=np.asarray(t.const).reshape(shape))


# After the layout pass, which first gets the chance to cancel the pair against convolutions.
layout.register()
if _rewrite_isolated not in serialize.PASSES:
    serialize.PASSES.append(_rewrite_isolated)
