"""Export pass: remove the layout changes that channels_last convolutions put between ops.

ONNX convolutions and pools are channels_first, so a channels_last layer emits
Transpose -> Conv -> Transpose. Between two such layers the Transposes are inverse pairs,
and between a conv and the next conv there are often layout-agnostic ops (Relu, Add of a
residual branch, a per-channel Mul/Add, Concat on the channel axis, Pad, Slice, a Reduce).
This pass sinks each Transpose towards the outputs through those ops (rewriting their
axes and constant operands), folds Transpose pairs and drops dead nodes, so a chain of
conv/pool/activation/add layers keeps one layout change at its entry and one at its exit.

A sink is taken only when it does not add Transposes: the Transpose it removes (plus any
other input Transposes that become dead) must pay for those it creates after the ops.
It runs on the private copy made by `graph.collect`: it never edits shared nodes or tensors.
"""

from __future__ import annotations

import collections

import numpy as np

from onnxgraph.backend.graph import Graph
from onnxgraph.backend.ir import Node, SymbolicTensor

__all__ = ["optimize_layout", "register"]

ELEMENTWISE = frozenset("""
Abs Acos Acosh Add And Asin Asinh Atan Atanh BitwiseAnd BitwiseNot BitwiseOr BitwiseXor Cast Ceil
Celu Clip Cos Cosh Div Elu Equal Erf Exp Floor Gelu Greater GreaterOrEqual HardSigmoid HardSwish
Identity IsInf IsNaN LeakyRelu Less LessOrEqual Log Max Mean Min Mish Mod Mul Neg Not Or PRelu Pow
Reciprocal Relu Round Selu Shrink Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Sub Sum Tan Tanh
ThresholdedRelu Where Xor
""".split())
REDUCE = frozenset("""ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin
ReduceProd ReduceSum ReduceSumSquare""".split())
AXIS_OPS = frozenset({"Softmax", "LogSoftmax", "Hardmax", "Concat"})


def register() -> None:
    """Add the pass to `serialize.PASSES` once (layer and op modules call this on import)."""
    from onnxgraph.backend import serialize

    if optimize_layout not in serialize.PASSES:
        serialize.PASSES.append(optimize_layout)


def _perm(node: Node) -> tuple:
    perm = node.attrs.get("perm")
    return tuple(perm) if perm is not None else tuple(reversed(range(node.inputs[0].ndim)))


def _is_identity(perm) -> bool:
    return tuple(perm) == tuple(range(len(perm)))


class _Plan:
    """How one consumer is rewritten: its new inputs/attrs, output perm and new output shapes."""

    def __init__(self, inputs, attrs, out_perm, shapes):
        self.inputs, self.attrs, self.out_perm, self.shapes = inputs, attrs, out_perm, shapes


class _Optimizer:
    """Rewrites with incrementally kept producer/consumer maps (re-indexing per rewrite is quadratic)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.output_ids = {x.id for x in graph.outputs}
        self.index()

    # -- bookkeeping --------------------------------------------------------------------------
    def index(self) -> None:
        self.producer: dict[int, Node] = {}
        self.consumers: dict[int, list[Node]] = {}
        self.removed: set[int] = set()
        self.inserted: dict[int, list[Node]] = {}  # node id -> new nodes that go right after it
        for node in self.graph.nodes:
            for out in node.outputs:
                self.producer[out.id] = node
            for x in node.inputs:
                if x is not None:
                    self.consumers.setdefault(x.id, []).append(node)

    def used(self, x) -> bool:
        return x.id in self.output_ids or bool(self.consumers.get(x.id))

    def set_inputs(self, node: Node, inputs) -> None:
        """Rewire `node`; producers left without consumers are removed (recursively)."""
        old, node.inputs = node.inputs, list(inputs)
        for x in node.inputs:
            if x is not None:
                self.consumers.setdefault(x.id, []).append(node)
        for x in old:
            if x is not None:
                users = self.consumers[x.id]
                users.pop(next(i for i, n in enumerate(users) if n is node))
                self.release(x)

    def release(self, x) -> None:
        node = self.producer.get(x.id)
        if node is None or node.id in self.removed or any(self.used(o) for o in node.outputs):
            return
        self.removed.add(node.id)
        self.set_inputs(node, [])

    def insert_after(self, anchor: Node, node: Node) -> None:
        self.inserted.setdefault(anchor.id, []).append(node)
        for out in node.outputs:
            self.producer[out.id] = node
        for x in node.inputs:
            self.consumers.setdefault(x.id, []).append(node)

    def materialize(self) -> None:
        """Write the node order back (new nodes right after their anchors), without removed nodes."""
        order: list[Node] = []

        def place(node):
            if node.id not in self.removed:
                order.append(node)
            for follower in self.inserted.pop(node.id, []):
                place(follower)

        for node in self.graph.nodes:
            place(node)
        self.graph.nodes[:] = order

    def transposed_source(self, x, perm):
        """`a` when x = Transpose(a, perm), else None."""
        node = self.producer.get(x.id) if x is not None else None
        if node is not None and node.op_type == "Transpose" and _perm(node) == tuple(perm):
            return node.inputs[0]
        return None

    def alive_transposes(self) -> list:
        return [n for n in self.graph.nodes if n.op_type == "Transpose" and n.id not in self.removed]

    # -- rewrites -------------------------------------------------------------------------------
    def redirect(self, old, new) -> None:
        for consumer in list(self.consumers.get(old.id, [])):
            self.set_inputs(consumer, [new if x is old else x for x in consumer.inputs])

    def merge_duplicates(self) -> bool:
        """Transposes of one tensor with one perm (two convs reading the same input) become one."""
        seen: dict[tuple, Node] = {}
        merged = False
        for node in self.alive_transposes():
            if node.outputs[0].id in self.output_ids or node.id in self.removed:
                continue
            kept = seen.setdefault((node.inputs[0].id, _perm(node)), node)
            if kept is not node:
                self.redirect(node.outputs[0], kept.outputs[0])
                merged = True
        return merged

    def fold(self, node: Node) -> bool:
        """Transpose(Transpose(a, p), q) -> Transpose(a, p∘q), or `a` itself when that is the identity."""
        first = self.producer.get(node.inputs[0].id)
        if first is None or first.op_type != "Transpose":
            return False
        p, q = _perm(first), _perm(node)
        combined = tuple(p[i] for i in q)
        source, out = first.inputs[0], node.outputs[0]
        if not _is_identity(combined):
            node.attrs = {"perm": list(combined)}
        elif out.id in self.output_ids:
            node.op_type, node.attrs = "Identity", {}
        else:
            self.redirect(out, source)
            return True
        self.set_inputs(node, [source])
        return True

    def sink(self, node: Node) -> list | None:
        """Move Transpose `node` below all its consumers when that adds no Transposes; returns the new ones."""
        out = node.outputs[0]
        if out.id in self.output_ids:
            return None
        perm = _perm(node)
        consumers = list({c.id: c for c in self.consumers.get(out.id, [])}.values())  # unique, in order
        plans = {}
        for consumer in consumers:
            if consumer.op_type == "Transpose":
                continue
            plan = self.plan(consumer, perm)
            if plan is None:
                return None
            plans[consumer.id] = plan
        if not plans:
            return None
        created = sum(1 for p in plans.values() if p.out_perm is not None)
        if created > 1 + self._other_freed(node, consumers, set(plans), perm):
            return None
        new = []
        for consumer in consumers:
            if consumer.id in plans:
                new += self.apply(consumer, plans[consumer.id])
        return new

    def _other_freed(self, node, consumers, pushed, perm) -> int:
        freed = set()
        for consumer in consumers:
            if consumer.id not in pushed:
                continue
            for x in consumer.inputs:
                other = self.producer.get(x.id) if x is not None else None
                if (other is None or other is node or other.op_type != "Transpose" or _perm(other) != perm
                        or x.id in self.output_ids):
                    continue
                if all(c.id in pushed for c in self.consumers.get(x.id, [])):
                    freed.add(other.id)
        return len(freed)

    def apply(self, consumer: Node, plan: _Plan) -> list:
        consumer.attrs = plan.attrs
        if plan.out_perm is None:
            self.set_inputs(consumer, plan.inputs)
            return []
        old_outputs = consumer.outputs
        # A new list: the clone shares its outputs list with the original (shared) node.
        consumer.outputs = [SymbolicTensor(shape, o.dtype, producer=consumer, index=i)
                            for i, (o, shape) in enumerate(zip(old_outputs, plan.shapes))]
        created = []
        for new, old in zip(consumer.outputs, old_outputs):
            self.producer[new.id] = consumer
            transpose = Node("Transpose", [new], {"perm": list(plan.out_perm)}, "", consumer.scope)
            transpose.outputs = [old]
            self.insert_after(created[-1] if created else consumer, transpose)
            created.append(transpose)
        self.set_inputs(consumer, plan.inputs)
        return created

    # -- per-op plans -----------------------------------------------------------------------------
    def plan(self, node: Node, perm) -> _Plan | None:
        if any(o.ndim != len(perm) for o in node.outputs) and node.op_type not in REDUCE:
            return None
        if node.op_type in ELEMENTWISE:
            return self._elementwise(node, perm)
        if node.op_type in AXIS_OPS:
            return self._axis_op(node, perm)
        if node.op_type == "Pad":
            return self._pad(node, perm)
        if node.op_type == "Slice":
            return self._slice(node, perm)
        if node.op_type in REDUCE:
            return self._reduce(node, perm)
        return None

    def _operand(self, x, perm, rank):
        """x seen through Transpose(perm)^-1: a Transpose's source, or a constant transposed now."""
        source = self.transposed_source(x, perm)
        if source is not None:
            return source, True
        if x.kind in ("constant", "variable") and x.ndim <= rank:
            return _inverse_constant(x, perm, rank), False
        return None, False

    def _elementwise(self, node, perm):
        rank = len(perm)
        inputs, any_moved = [], False
        for x in node.inputs:
            if x is None:
                inputs.append(None)
                continue
            operand, moved = self._operand(x, perm, rank)
            if operand is None:
                return None
            inputs.append(operand)
            any_moved |= moved
        if not any_moved:
            return None
        return _Plan(inputs, dict(node.attrs), perm, _unpermuted_shapes(node, perm))

    def _axis_op(self, node, perm):
        rank = len(perm)
        inputs = []
        for x in node.inputs:
            source = self.transposed_source(x, perm)
            if source is None and node.op_type == "Concat" and x.kind in ("constant", "variable") and x.ndim == rank:
                source = _inverse_constant(x, perm, rank)
            if source is None:
                return None
            inputs.append(source)
        default = -1 if node.op_type != "Concat" else None
        axis = node.attrs.get("axis", default)
        attrs = {**node.attrs, "axis": perm[axis % rank]}
        return _Plan(inputs, attrs, perm, _unpermuted_shapes(node, perm))

    def _pad(self, node, perm):
        rank = len(perm)
        source = self.transposed_source(node.inputs[0], perm)
        pads = node.inputs[1] if len(node.inputs) > 1 else None
        if source is None or pads is None or pads.kind != "constant":
            return None
        axes = node.inputs[3] if len(node.inputs) > 3 else None
        inputs = [source, *node.inputs[1:]]
        if axes is not None:
            if axes.kind != "constant":
                return None
            inputs[3] = _int64_const([perm[int(a) % rank] for a in axes.const])
        else:
            values = np.asarray(pads.const).reshape(2, rank)
            inverse = np.argsort(perm)
            inputs[1] = _int64_const(values[:, inverse].reshape(-1))
        return _Plan(inputs, dict(node.attrs), perm, _unpermuted_shapes(node, perm))

    def _slice(self, node, perm):
        rank = len(perm)
        source = self.transposed_source(node.inputs[0], perm)
        if source is None:
            return None
        axes = node.inputs[3] if len(node.inputs) > 3 else None
        if axes is None:
            starts = node.inputs[1]
            if starts.shape[0] is None:
                return None
            axes_values = list(range(starts.shape[0]))
        elif axes.kind == "constant":
            axes_values = [int(a) for a in axes.const]
        else:
            return None
        inputs = list(node.inputs) + [None] * (4 - len(node.inputs))
        inputs[0] = source
        inputs[3] = _int64_const([perm[a % rank] for a in axes_values])
        return _Plan(inputs, dict(node.attrs), perm, _unpermuted_shapes(node, perm))

    def _reduce(self, node, perm):
        rank = len(perm)
        source = self.transposed_source(node.inputs[0], perm)
        axes = node.inputs[1] if len(node.inputs) > 1 else None
        if source is None or axes is None or axes.kind != "constant":
            return None
        reduced = sorted({int(a) % rank for a in axes.const})
        inputs = [source, _int64_const(sorted(perm[a] for a in reduced)), *node.inputs[2:]]
        if node.attrs.get("keepdims", 1):
            return _Plan(inputs, dict(node.attrs), perm, _unpermuted_shapes(node, perm))
        kept = [perm[i] for i in range(rank) if i not in reduced]
        remaining = sorted(kept)
        out_perm = tuple(remaining.index(a) for a in kept)
        if _is_identity(out_perm):
            return _Plan(inputs, dict(node.attrs), None, None)
        inverse = np.argsort(out_perm)
        return _Plan(inputs, dict(node.attrs), out_perm,
                     [tuple(node.outputs[0].shape[i] for i in inverse)])


def _unpermuted_shapes(node, perm):
    inverse = tuple(int(i) for i in np.argsort(perm))
    return [tuple(o.shape[i] for i in inverse) for o in node.outputs]


def _int64_const(values) -> SymbolicTensor:
    array = np.asarray(values, dtype=np.int64)
    return SymbolicTensor(array.shape, "int64", kind="constant", const=array)


def _inverse_constant(x: SymbolicTensor, perm, rank: int) -> SymbolicTensor:
    """c' with Transpose(c', perm) == c broadcast to `rank` (size-1 values broadcast either way)."""
    if int(np.prod(x.shape)) == 1:
        return x
    full = (1,) * (rank - x.ndim) + tuple(x.shape)
    inverse = tuple(int(i) for i in np.argsort(perm))
    if x.kind == "constant":
        array = np.ascontiguousarray(np.transpose(np.asarray(x.const).reshape(full), inverse))
        return SymbolicTensor(array.shape, x.dtype, kind="constant", const=array)
    steps = tuple(x.transform)
    if full != tuple(x.shape):
        steps += (("reshape", full),)
    return x.variable.graph_value(steps + (("transpose", inverse),))


def optimize_layout(graph: Graph) -> None:
    """Merge, fold and sink Transposes until none moves (see the module docstring)."""
    if not any(node.op_type == "Transpose" for node in graph.nodes):
        return
    optimizer = _Optimizer(graph)
    while True:
        changed = optimizer.merge_duplicates()
        work = collections.deque(optimizer.alive_transposes())
        while work:
            node = work.popleft()
            if node.id in optimizer.removed or node.op_type != "Transpose":
                continue
            if optimizer.fold(node):
                changed = True
                work.append(node)
                continue
            created = optimizer.sink(node)
            if created is not None:
                changed = True
                work.extend(created)
        optimizer.materialize()
        if not changed:
            return
        optimizer.index()
