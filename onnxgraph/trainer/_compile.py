"""compile()'s arguments resolved per model output, and the metric bookkeeping of fit/evaluate.

Keras 3's rules for `loss` (one loss for every output, one per output, dicts keyed by output
name, losses over nested output structures) are `_loss_plan.build_plan`'s. Metrics named "accuracy"/"acc" pick binary/categorical/sparse accuracy
from the label and output shapes. Logs are `loss`, then the compiled metrics (prefixed by the
output name when the model has several outputs), then `<output>_loss` per output.
"""

from __future__ import annotations

import numpy as np

from onnxgraph import losses as losses_module
from onnxgraph import metrics as metrics_module

__all__ = ["CompileConfig", "MetricsState"]


def _per_output(value, names: list[str], what: str, single_means_all: bool = True) -> list:
    n = len(names)
    if value is None:
        return [None] * n
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile(): `{what}` has key(s) {unknown} that are not model outputs; the outputs are "
                             f"{names}. (Invalid `{what}` argument: keys {unknown} do not match the outputs.)")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and n > 1:
        if len(value) != n:
            raise ValueError(f"compile(): `{what}` is a {type(value).__name__} of {len(value)} entries but the model "
                             f"has {n} outputs {names}. Pass one entry per output, or a dict keyed by output name.")
        return list(value)
    if isinstance(value, (list, tuple)) and n == 1 and what == "loss":
        if len(value) != 1:
            raise ValueError(f"compile(): `loss` has {len(value)} entries but the model has one output.")
        return [value[0]]
    if n > 1 and not single_means_all:
        raise ValueError(f"compile(): the model has {n} outputs {names}; give `{what}` as a list (one entry per "
                         "output) or a dict keyed by output name.")
    return [value] * n


class CompileConfig:
    """What compile() received, resolved against the model (and the first targets) on demand."""

    def __init__(self, model, optimizer, loss, loss_weights, metrics, weighted_metrics):
        self.model = model
        self.optimizer = optimizer
        self.loss, self.loss_weights_arg = loss, loss_weights
        self.metrics_arg, self.weighted_metrics_arg = metrics, weighted_metrics
        self.output_names = list(model.output_names)
        self.pred_shapes = [tuple(x.shape) for x in model.outputs]
        self.loss_weights = [None] * len(self.output_names)  # per-term weights live in the plan's terms
        self.losses = None

    def resolve_losses(self, y_shapes=None) -> list:
        """The LossPlan (per-output label losses + loss terms) on the first fit/evaluate, as Keras builds
        its CompileLoss then ("crossentropy" needs the target shapes; structure errors surface here)."""
        if self.losses is None:
            from onnxgraph.trainer._loss_plan import build_plan

            self.losses = build_plan(self.model, self.loss, self.loss_weights_arg, y_shapes)
        return self.losses

    def label_specs(self) -> list:
        return [None if loss is None else loss.label_spec(shape) for loss, shape in zip(self.losses, self.pred_shapes)]

    def make_metrics(self, y_shapes) -> MetricsState:
        return MetricsState(self, y_shapes)


class _RunningMean:
    """Keras's loss tracker: the batch-size-weighted mean of per-batch losses (float32 sums)."""

    direction = "down"

    def __init__(self, name: str):
        self.name = name
        self.reset_state()

    def reset_state(self) -> None:
        self.total, self.count = np.float32(0), np.float32(0)

    def update_state(self, value, sample_weight=1) -> None:
        self.total = np.float32(self.total + np.float32(value) * np.float32(sample_weight))
        self.count = np.float32(self.count + np.float32(sample_weight))

    def result(self) -> float:
        return float(self.total / self.count) if self.count else 0.0


class MetricsState:
    """Loss trackers and compiled metrics for one model, updated with numpy batch results."""

    def __init__(self, config: CompileConfig, y_shapes):
        names = config.output_names
        multi = len(names) > 1
        self.loss_tracker = _RunningMean("loss")
        terms = config.losses.terms
        self.output_loss_trackers = [(k, _RunningMean(f"{term.name}_loss")) for k, term in enumerate(terms)
                                     if len(terms) > 1]
        self.metrics: list[tuple[int, object, str, bool]] = []  # (output index, metric, log name, weighted)
        for arg, weighted in ((config.metrics_arg, False), (config.weighted_metrics_arg, True)):
            per_output = _per_output(arg, names, "weighted_metrics" if weighted else "metrics",
                                     single_means_all=not multi or isinstance(arg, dict))
            for i, entry in enumerate(per_output):
                if entry is None:
                    continue
                for identifier in entry if isinstance(entry, (list, tuple)) else [entry]:
                    metric = metrics_module.get(identifier, y_true_shape=y_shapes[i],
                                                y_pred_shape=config.pred_shapes[i], loss=config.losses[i])
                    self.metrics.append((i, metric, f"{names[i]}_{metric.name}" if multi else metric.name, weighted))
        self._dedupe_names()
        self.directions = {metric.name: getattr(metric, "direction", None) for _, metric, _, _ in self.metrics}
        self.directions.update({log: getattr(metric, "direction", None) for _, metric, log, _ in self.metrics})

    def _dedupe_names(self):
        seen: dict[str, int] = {}
        renamed = []
        for i, metric, log, weighted in self.metrics:
            if log in seen:
                seen[log] += 1
                log = f"{log}_{seen[log] - 1}" if not weighted else log.replace(metric.name, f"weighted_{metric.name}")
            seen.setdefault(log, 1)
            renamed.append((i, metric, log, weighted))
        self.metrics = renamed

    def reset(self) -> None:
        self.loss_tracker.reset_state()
        for _, tracker in self.output_loss_trackers:
            tracker.reset_state()
        for _, metric, _, _ in self.metrics:
            metric.reset_state()

    def update(self, loss_values, preds, targets, weights, batch_size: int) -> None:
        self.loss_tracker.update_state(float(loss_values[0]), sample_weight=batch_size)
        for k, (_, tracker) in enumerate(self.output_loss_trackers):
            tracker.update_state(float(loss_values[1 + k]), sample_weight=batch_size)
        for i, metric, _, weighted in self.metrics:
            if targets[i] is None:
                continue
            sample_weight = weights[i] if weighted and weights else None
            pred, mask = np.asarray(preds[i]), getattr(preds[i], "_keras_mask", None)
            if mask is not None and isinstance(metric, metrics_module.MeanMetricWrapper):
                sample_weight = _masked_weights(sample_weight, mask)  # Keras apply_mask(reduction="sum")
            metric.update_state(targets[i], pred, sample_weight=sample_weight)

    def results(self) -> dict:
        logs = {"loss": self.loss_tracker.result()}
        for _, metric, log, _ in self.metrics:
            logs[log] = float(metric.result())
        for _, tracker in self.output_loss_trackers:
            logs[tracker.name] = tracker.result()
        return logs

    def ordered(self, logs: dict) -> list:
        """evaluate()'s list: Keras's `_flatten_metrics_in_order` (loss, known names, then sorted rest)."""
        known = list(dict.fromkeys(["loss"] + [metric.name for _, metric, _, _ in self.metrics] +
                                   [tracker.name for _, tracker in self.output_loss_trackers]))
        values = [logs[name] for name in known if name in logs]
        values += [logs[key] for key in sorted(logs) if key not in known]
        return values[0] if len(values) == 1 else values


def batch_size_of(arrays) -> int:
    first = arrays[0] if arrays else None
    return int(first.shape[0]) if first is not None and np.ndim(first) else 1


def _masked_weights(sample_weight, mask):
    """Keras's `apply_mask(sample_weight, mask, reduction="sum")`: the mask times the sample weights."""
    mask = np.asarray(mask, dtype=np.float32)
    if sample_weight is None:
        return mask
    sample_weight = np.asarray(sample_weight, dtype=np.float32)
    while sample_weight.ndim < mask.ndim:
        sample_weight = sample_weight[..., None]
    return mask * sample_weight
