"""Embedding: integer indices -> rows of a (input_dim, output_dim) matrix (ONNX Gather)."""

from __future__ import annotations


from onnxgraph import initializers, ops
from onnxgraph.backend import gather_transpose
from onnxgraph.backend.emit import emit
from onnxgraph.layers._args import positive_int_message
from onnxgraph.layers._layer import Layer

__all__ = ["Embedding"]

# Keras accepts these short names for Embedding's initializer.
_ALIASES = {"uniform": "random_uniform", "normal": "random_normal"}


class Embedding(Layer):
    """Turns indices into dense vectors: output shape is input shape + (output_dim,).

    Inputs may be any integer dtype, or floats holding integers (Keras's default Input dtype
    is float32); they are cast to int64 for ONNX Gather. Indices must be in
    [0, input_dim): onnxruntime rejects out-of-range indices at run time.
    `mask_zero` is kept in the config, but masks are not propagated: downstream layers see
    every position.

    Args:
        input_dim: Vocabulary size (largest index + 1).
        output_dim: Size of each embedding vector.
        embeddings_initializer: Initializer of the `embeddings` matrix (Keras default
            "uniform", i.e. RandomUniform(-0.05, 0.05)).
        mask_zero: Recorded for Keras compatibility (see above).

    Returns:
        A float tensor of shape `input.shape + (output_dim,)`.

    Example:
        >>> tokens = Input(shape=(None,), dtype="int32")
        >>> Embedding(10000, 64)(tokens).shape
        (None, None, 64)
    """

    _activity_in_config = True

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        kwargs.pop("input_length", None)  # Keras 2 argument; Keras 3 ignores it too
        super().__init__(**kwargs)
        self._weight_options(embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(positive_int_message("Embedding", arg, value))
        self.input_dim = input_dim
        self.output_dim = output_dim
        if isinstance(embeddings_initializer, str):
            embeddings_initializer = _ALIASES.get(embeddings_initializer, embeddings_initializer)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero  # as Keras: only a mask_zero embedding makes a mask
        self._initial_weights = None
        if weights is not None:  # Keras builds at once: `layer.embeddings` holds them after __init__
            self.build()
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1 else [weights])

    def build(self, input_shape=None):
        self.embeddings = self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer,
                                          name="embeddings", regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs):
        if inputs.dtype in ("bool", "string"):
            raise ValueError(
                f"Layer '{self.name}' expects integer indices, got dtype {inputs.dtype} "
                f"(shape {inputs.shape}). Map the values to ints in [0, {self.input_dim}) first."
            )
        indices = inputs if inputs.dtype == "int64" else ops.cast(inputs, "int64")
        table = self.embeddings.graph_value()
        return emit("Gather", [table, indices], {"axis": 0}, shapes=[inputs.shape + (self.output_dim,)],
                    dtypes_=[table.dtype])

    def compute_mask(self, inputs, mask=None):
        """Keras's mask (inputs != 0) when mask_zero; None otherwise."""
        return ops.not_equal(inputs, 0) if self.mask_zero else None

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero}


# Embedding -> recurrent layer: transpose the indices, not the gathered rows.
gather_transpose.register()
