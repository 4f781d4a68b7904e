"""The Optimizer base: Keras 3's apply order (unscale, clip, weight decay, update, count) on numpy buffers."""

from __future__ import annotations

import inspect
import math
import re

import numpy as np

from onnxgraph.optimizers import schedules
from onnxgraph.utils._naming import auto_name

__all__ = ["Optimizer", "FLUSH_EVERY", "check_real", "flush_small"]

# Steps between two flushes of subnormal slot values (see Optimizer._flush_subnormal_slots).
FLUSH_EVERY = 16


def flush_small(a: np.ndarray, threshold: float, work: np.ndarray | None = None) -> None:
    """Zero, in place, the entries of the float array `a` whose magnitude is below `threshold`.

    `work`, an array shaped and typed like `a`, saves an allocation."""
    if a.dtype.kind != "f" or not a.size:
        return
    magnitude = np.abs(a, out=work) if work is not None and work.dtype == a.dtype else np.abs(a)
    np.copyto(a, 0, where=magnitude < a.dtype.type(threshold))


class Optimizer:
    """Base class: updates a list of numpy parameter arrays in place from their gradients.

    Subclasses declare their slot variables in `_slot_specs()` and implement
    `_update(i, param, grad, lr, tmp, tmp2)`; everything else (learning-rate schedules, clipping,
    Keras's decoupled weight decay, iteration count, config, checkpoint state) is here.

    Args:
        learning_rate: float, a `schedules.LearningRateSchedule`, or a callable taking the
            step (`iterations`) or no argument.
        weight_decay: float or None; `param -= param * weight_decay * lr` before each update.
        clipnorm: float or None; clip each gradient to this L2 norm.
        clipvalue: float or None; clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: float or None; clip all gradients together to this global L2 norm.
        loss_scale_factor: float or None; gradients are divided by it first.
        name: str; auto-named from the class like Keras when None.

    Example:
        >>> from onnxgraph.optimizers import SGD
        >>> opt = SGD(learning_rate=0.1)
        >>> w = np.ones(3, np.float32); opt.apply([w], [np.ones(3, np.float32)]); w
        array([0.9, 0.9, 0.9], dtype=float32)
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        kwargs.pop("decay", None)  # Keras 3 ignores the legacy `decay` argument too.
        if kwargs:
            raise ValueError(f"{type(self).__name__}: argument(s) not recognized: {kwargs}")
        if use_ema:
            raise ValueError(f"{type(self).__name__}: use_ema=True is not supported by onnxgraph's optimizers; "
                             "leave it False (the default).")
        if gradient_accumulation_steps:
            raise ValueError(f"{type(self).__name__}: gradient_accumulation_steps is not supported by onnxgraph's "
                             "optimizers; use a larger batch_size instead.")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        owner = type(self).__name__
        for arg, value in (("weight_decay", weight_decay), ("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm)):
            if value is not None:
                check_real(owner, arg, value, low=0.0)
        self.name = name or auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._learning_rate = self._check_learning_rate(learning_rate)
        self._iterations = 0
        self._slots: dict[str, list[np.ndarray]] = {}
        self._scratch: list[tuple[np.ndarray, np.ndarray]] = []
        self._exclude_paths: set[str] = set()
        self._exclude_pattern = None
        self._decay_mask: list[bool] | None = None
        self.built = False

    # -- learning rate and step ---------------------------------------------------------
    @staticmethod
    def _check_learning_rate(value):
        if callable(value):
            return value
        if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Argument `learning_rate` must be a finite float >= 0 (a NaN, infinite or "
                                 f"negative rate ruins every weight at the first step). Received: learning_rate={value!r}")
            return float(value)
        raise ValueError(
            "Argument `learning_rate` should be a float, a LearningRateSchedule or a callable of the step. "
            f"Received: learning_rate={value!r}"
        )

    @property
    def iterations(self) -> int:
        """Number of updates applied so far (the step schedules are evaluated at)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value: int):
        self._iterations = int(value)

    @property
    def learning_rate(self) -> float:
        """The learning rate the next update uses (a schedule is evaluated at `iterations`)."""
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            return float(lr(self._iterations))
        if callable(lr):
            return float(lr(self._iterations) if _takes_argument(lr) else lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._learning_rate = value
        elif callable(self._learning_rate):
            raise TypeError(
                f"{self.name}: this optimizer was created with a learning rate schedule or callable, so its "
                "learning rate cannot be set to a float. Create it with a float `learning_rate` instead."
            )
        else:
            self._learning_rate = self._check_learning_rate(value)

    # -- slots --------------------------------------------------------------------------
    def _slot_specs(self) -> dict[str, float]:
        """Slot name -> initial value, one array per parameter (subclasses override)."""
        return {}

    def build(self, params) -> None:
        """Create the slot arrays (zeros or the slot's initial value) for `params`.

        Args:
            params: list of numpy arrays, in the order later passed to `apply`.
        """
        self._shapes = [tuple(np.shape(p)) for p in params]
        self._slots = {
            slot: [np.full(np.shape(p), init, dtype=_float_dtype(p)) for p in params]
            for slot, init in self._slot_specs().items()
        }
        self.built = True

    # -- the update ---------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Keep some parameters out of weight decay (Keras API); call before the first `apply`.

        Args:
            var_list: variables (anything with `.path`) or their paths, e.g. "dense/bias".
            var_names: substrings (regular expressions) searched in parameter paths, e.g. ["bias", "gamma"].

        Example:
            >>> from onnxgraph.optimizers import AdamW
            >>> opt = AdamW(); opt.exclude_from_weight_decay(var_names=["bias"])
        """
        if self.built:
            raise ValueError(f"{self.name}: exclude_from_weight_decay() can only be configured before the "
                             "optimizer is built (before the first step).")
        self._exclude_paths = {getattr(v, "path", v) for v in (var_list or [])}
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _weight_decay_mask(self, n: int, names) -> list[bool]:
        if not self._exclude_paths and self._exclude_pattern is None:
            return [True] * n
        if names is None:
            raise ValueError(f"{self.name}: exclude_from_weight_decay() needs parameter names; pass "
                             "apply(params, grads, names=[...paths...]).")
        return [not (name in self._exclude_paths or (self._exclude_pattern is not None and
                                                       self._exclude_pattern.search(name))) for name in names]

    def apply(self, params, grads, names=None) -> None:
        """Update `params` in place from `grads` (one Keras optimizer step), then count the step.

        Args:
            params: list of writable numpy float arrays (the same list, same order, every call).
            grads: list of arrays of the same shapes (None skips that parameter this step).
            names: optional parameter paths ("dense/kernel", ...), read on the first call; needed only by
                `exclude_from_weight_decay`.

        Example:
            >>> from onnxgraph.optimizers import Adam
            >>> w = np.zeros(2, np.float32); Adam().apply([w], [np.ones(2, np.float32)])
        """
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"{self.name}.apply: got {len(params)} parameters but {len(grads)} gradients; "
                             "pass one gradient per parameter, in the same order.")
        if not self.built:
            self.build(params)
        self._check_params(params)
        pairs = [(i, p, np.asarray(g, dtype=p.dtype)) for i, (p, g) in enumerate(zip(params, grads))
                 if g is not None]
        if pairs:
            grads_kept = [g for _, _, g in pairs]
            if self.loss_scale_factor is not None:
                grads_kept = [g / p.dtype.type(self.loss_scale_factor) for (_, p, _), g in zip(pairs, grads_kept)]
            grads_kept = self._clip(grads_kept)
            lr = self.learning_rate
            if self.weight_decay is not None:
                if self._decay_mask is None or len(self._decay_mask) != len(params):
                    self._decay_mask = self._weight_decay_mask(len(params), names)
                for i, p, _ in pairs:
                    if self._decay_mask[i]:
                        # Keras 3 (torch backend): variable *= 1 - wd * lr, before the update step.
                        p *= p.dtype.type(1 - self.weight_decay * lr)
            if len(self._scratch) != len(params):
                # Two work buffers per parameter: updates run in place, no per-step allocation.
                self._scratch = [(np.empty_like(p), np.empty_like(p)) for p in params]
            for (i, p, _), g in zip(pairs, grads_kept):
                self._update(i, p, g, p.dtype.type(lr), *self._scratch[i])
        self._iterations += 1
        if self._iterations % FLUSH_EVERY == 0:
            self._flush_subnormal_slots()

    def _flush_subnormal_slots(self) -> None:
        """Set slot values below the smallest normal float to zero.

        A slot that decays while its gradient is zero (Adam's momentum for a dead ReLU unit,
        SGD/RMSprop momentum) sinks into subnormal floats and stays there: 0.9 * 4e-45 rounds
        back to 4e-45 in float32. x86 computes on subnormals about 50x slower than on normal
        floats, which made the optimizer 3-4x slower after a few hundred MNIST-MLP steps. What
        such a slot adds to an update is far below the resolution of any parameter it updates,
        so zeroing it every `FLUSH_EVERY` steps leaves the trained weights unchanged.
        """
        for slot, arrays in self._slots.items():
            for k, a in enumerate(arrays):
                work = self._scratch[k][0] if k < len(self._scratch) else None
                flush_small(a, self._flush_threshold(slot, a.dtype), work)

    def _flush_threshold(self, slot: str, dtype) -> float:
        """Values of `slot` below this magnitude are zeroed by the flush: the smallest normal float.

        An optimizer raises it for a slot whose small values would still make its update
        compute on subnormals (Adam's `m * alpha`), where it can show the values count for nothing.
        """
        return float(np.finfo(dtype).tiny)

    def apply_gradients(self, grads_and_vars) -> int:
        """Keras-style `apply_gradients([(grad, param), ...])`; returns the new `iterations`."""
        grads, params = zip(*grads_and_vars)
        self.apply(params, grads)
        return self._iterations

    def _update(self, i: int, param: np.ndarray, grad: np.ndarray, lr, tmp: np.ndarray, tmp2: np.ndarray) -> None:
        """Update `param` in place; `tmp`/`tmp2` are work buffers shaped like it (contents undefined)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update(i, param, grad, lr, tmp, tmp2).")

    def _emit_update(self, i: int, param, grad, slots: dict, step):
        """In-graph `_update`: return (new param, {slot: new value}) as SymbolicTensors (see `_graph.py`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _emit_update for the 'onnx' engine.")

    def emit_update(self, params, grads, slots, learning_rate, iteration, names=None):
        """Emit one step as ONNX nodes: (new params, new slots); see `onnxgraph.optimizers._graph.emit_step`.

        Args:
            params, grads: lists of SymbolicTensors (same shapes).
            slots: per parameter, {slot name: SymbolicTensor}.
            learning_rate: float64 scalar tensor (the value `self.learning_rate` gives for this step).
            iteration: int64 scalar tensor (`self.iterations` before this step).
            names: parameter paths (for `exclude_from_weight_decay`).
        """
        from onnxgraph.optimizers._graph import emit_step

        return emit_step(self, params, grads, slots, learning_rate, iteration, names)

    def _check_params(self, params) -> None:
        if len(params) != len(self._shapes):
            raise ValueError(f"{self.name}: built for {len(self._shapes)} parameters, got {len(params)}. An "
                             "optimizer instance trains one fixed list of parameters; create a new one.")
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray) or tuple(p.shape) != self._shapes[i] or not p.flags.writeable:
                raise ValueError(f"{self.name}: parameter {i} must be a writable numpy array of shape "
                                 f"{self._shapes[i]}, got {type(p).__name__} {np.shape(p)}.")

    def _clip(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            out = []
            for g in grads:
                norm = np.sqrt(np.vdot(g, g))  # sum of squares without a temporary array
                out.append(g * g.dtype.type(self.clipnorm) / np.maximum(norm, g.dtype.type(self.clipnorm)))
            return out
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = np.sqrt(np.float32(sum(np.vdot(g, g) for g in grads)))
            clip = np.float32(self.global_clipnorm)
            # Keras: clip * min(1/norm, 1/clip), plus (norm - norm) so a non-finite norm gives NaN.
            scale = clip * np.minimum(np.float32(1) / norm, np.float32(1) / clip) + (norm - norm)
            return [g * g.dtype.type(scale) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            return [np.clip(g, -self.clipvalue, self.clipvalue).astype(g.dtype) for g in grads]
        return grads

    # -- config and state ---------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras-layout optimizer config (schedules serialized with `schedules.serialize`)."""
        lr = self._learning_rate
        if callable(lr):
            lr = schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """Rebuild from `get_config()` (a fresh optimizer: no slots, iterations 0)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def get_state(self) -> dict[str, np.ndarray]:
        """Everything needed to resume: `iterations`, a float `learning_rate`, and `<slot>/<index>` arrays.

        Returns:
            dict of name -> numpy array (copies), ready for `np.savez`.
        """
        state = {"iterations": np.asarray(self._iterations, dtype=np.int64)}
        if not callable(self._learning_rate):
            state["learning_rate"] = np.asarray(self._learning_rate, dtype=np.float64)
        for slot, arrays in self._slots.items():
            for i, a in enumerate(arrays):
                state[f"{slot}/{i}"] = a.copy()
        return state

    def set_state(self, state: dict) -> None:
        """Restore `get_state()`'s dict (before or after `build`); later updates continue bit-identically."""
        self._iterations = int(np.asarray(state["iterations"]))
        if "learning_rate" in state and not callable(self._learning_rate):
            self._learning_rate = float(np.asarray(state["learning_rate"]))
        slots = {}
        for slot in self._slot_specs():
            keys = sorted((k for k in state if k.startswith(slot + "/")), key=lambda k: int(k.rsplit("/", 1)[1]))
            slots[slot] = [np.array(state[k]) for k in keys]
        counts = {len(v) for v in slots.values()}
        if len(counts) > 1:
            raise ValueError(f"{self.name}.set_state: slots have different parameter counts {counts}.")
        if slots and counts != {0}:
            self._slots = slots
            self._shapes = [a.shape for a in next(iter(slots.values()))]
            self.built = True

    def __repr__(self):
        return (f"<{type(self).__name__} name={self.name} learning_rate={self.learning_rate:g} "
                f"iterations={self._iterations}>")


def _float_dtype(p):
    dtype = np.asarray(p).dtype
    return dtype if np.issubdtype(dtype, np.floating) else np.float32


def _takes_argument(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


def check_real(owner: str, name: str, value, low: float = 0.0, high: float | None = None,
               high_open: bool = False) -> float:
    """A finite real in [low, high] (or [low, high) with `high_open`), not a bool; else a ValueError."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer))
          and math.isfinite(value) and value >= low
          and (high is None or (value < high if high_open else value <= high)))
    if not ok:
        bound = "" if high is None else f" and {'<' if high_open else '<='} {high}"
        raise ValueError(f"{owner}: `{name}` must be a finite float >= {low}{bound}. Received: {name}={value!r}")
    return float(value)
