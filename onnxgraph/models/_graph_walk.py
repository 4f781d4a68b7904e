"""Keras's map_graph: the layer calls between a model's inputs and outputs, by depth."""

from __future__ import annotations

import collections

from onnxgraph.backend.ir import SymbolicTensor

__all__ = ["map_graph", "clone_from_intermediate"]


def _check_tensor(t, what):
    if not isinstance(t, SymbolicTensor):
        raise ValueError(f"Model {what} must be symbolic tensors (from Input() or layer calls), got {t!r}. "
                         f"(All `{what}` values must be KerasTensors.)")
    if t._keras_history is None:
        raise ValueError(
            f"Model {what} tensor {t} was not produced by a layer call. Compute it with a layer "
            "(or an og.ops function on layer outputs) so the model can record it."
        )


def _build_map(inputs, outputs, output_paths=None):
    """Keras's depth-first walk from the outputs, iterative so deep models do not recurse."""
    finished, in_progress = set(), set()
    nodes_in_decreasing_depth, layer_indices = [], {}
    input_ids = {x.id for x in inputs}
    for k, out in enumerate(outputs):
        stack = [(out, False)]
        while stack:
            tensor, done = stack.pop()
            layer, node_index, _ = tensor._keras_history
            node = layer._inbound_nodes[node_index]
            if done:
                finished.add(id(node))
                in_progress.discard(id(node))
                nodes_in_decreasing_depth.append(node)
                continue
            if id(node) in finished:
                continue
            if id(node) in in_progress:
                raise ValueError(f"The graph of layers has a cycle at layer '{layer.name}'.")
            layer_indices.setdefault(layer, len(layer_indices))
            in_progress.add(id(node))
            stack.append((tensor, True))
            if tensor.id in input_ids:
                continue
            if node.is_input:  # an Input() that is not one of the model's inputs
                path = output_paths[k] if output_paths else str(k)
                raise ValueError(f"Output with path `{path}` is not connected to `inputs`: it depends on Input "
                                 f"'{layer.name}', which is not among the model's inputs. Add it to `inputs`, "
                                 "or compute that output from the given inputs.")
            for x in reversed(node.input_tensors):
                if x._keras_history is None:
                    raise ValueError(
                        f"Layer '{layer.name}' was called on a tensor {x} that no layer produced "
                        "and that is not a model input."
                    )
                stack.append((x, False))
    return nodes_in_decreasing_depth, layer_indices


def map_graph(inputs, outputs, output_paths=None):
    """Return (layers in Keras order, nodes by depth {depth: [LayerNode]}).

    `output_paths` (one per output, e.g. "output2" or "0.a") names an output that does not
    depend on `inputs` in the error.
    """
    for t in inputs:
        _check_tensor(t, "inputs")
    for t in outputs:
        _check_tensor(t, "outputs")
    nodes, layer_indices = _build_map(inputs, outputs, output_paths)
    input_ids = {x.id for x in inputs}
    node_depths: dict[int, int] = {}
    layer_depths: dict = {}
    by_id = {id(n): n for n in nodes}
    for node in reversed(nodes):
        depth = node_depths.setdefault(id(node), 0)
        depth = max(depth, layer_depths.get(node.layer, 0))
        layer_depths[node.layer] = depth
        node_depths[id(node)] = depth
        if any(t.id in input_ids for t in node.output_tensors):
            continue
        for parent in node.parent_nodes:
            node_depths[id(parent)] = max(depth + 1, node_depths.get(id(parent), 0))
            by_id.setdefault(id(parent), parent)
    for t in inputs:
        layer = t._keras_history.layer
        if layer not in layer_depths:
            layer_depths[layer] = 0
            layer_indices[layer] = -1
            node = layer._inbound_nodes[t._keras_history.node_index]
            node_depths[id(node)] = 0
            by_id[id(node)] = node
    nodes_by_depth = collections.defaultdict(list)
    for node_id, depth in node_depths.items():
        nodes_by_depth[depth].append(by_id[node_id])
    layers_by_depth = collections.defaultdict(list)
    for layer, depth in layer_depths.items():
        layers_by_depth[depth].append(layer)
    layers = []
    for depth in sorted(layers_by_depth, reverse=True):
        layers.extend(sorted(layers_by_depth[depth], key=lambda layer: layer_indices[layer]))
    names = collections.Counter(layer.name for layer in layers)
    for name, count in names.items():
        if count > 1:
            raise ValueError(
                f"The name '{name}' is used {count} times in the model. All layer names in a model "
                "must be unique; pass distinct `name=` arguments."
            )
    return layers, dict(nodes_by_depth)


def clone_from_intermediate(inputs, outputs):
    """Keras's `clone_graph_nodes`: a model whose inputs include intermediate tensors gets a new Input for
    each (named after the layer that produced it), and the layer calls between them and the outputs are
    replayed on those Inputs (weights shared). Returns (inputs, outputs), unchanged when all are Inputs."""
    from onnxgraph.layers._input_layer import Input
    from onnxgraph.layers._node import recording
    from onnxgraph.utils._tree import flatten, map_structure, pack_like

    flat_in = flatten(inputs)
    for t in flat_in:
        _check_tensor(t, "inputs")
    intermediate = [t for t in flat_in if not t._keras_history.layer._inbound_nodes[t._keras_history.node_index].is_input]
    if not intermediate:
        return inputs, outputs
    flat_out = flatten(outputs)
    for t in flat_out:
        _check_tensor(t, "outputs")
    nodes, _ = _build_map(flat_in, flat_out)
    cut = {t.id for t in intermediate}
    used = {node.layer.name for node in nodes if not any(t.id in cut for t in node.output_tensors)}
    tensor_map, taken = {}, set()
    for t in intermediate:
        base = t._keras_history.layer.name
        name, k = (base if base not in used else f"{base}CLONE"), 0
        while name in taken or name in used:
            k += 1
            name = f"{base}CLONE_{k}"
        taken.add(name)
        tensor_map[t.id] = Input(batch_shape=t.shape, dtype=t.dtype, name=name)
    for t in flat_in:
        tensor_map.setdefault(t.id, t)

    def swap(value):
        return tensor_map.get(value.id, value) if isinstance(value, SymbolicTensor) else value

    with recording(True):
        for node in nodes:  # dependency order: a node comes after the nodes it reads
            if node.is_input or all(t.id in tensor_map for t in node.output_tensors):
                continue
            if not any(isinstance(x, SymbolicTensor) and x.id in tensor_map for x in flatten((node.args, node.kwargs))):
                continue  # outside the cut (e.g. an Input() feeding another branch): refused by map_graph later
            args, kwargs = map_structure(swap, (list(node.args), dict(node.kwargs)))
            result = node.layer(*args, **kwargs)
            for old, new in zip(node.output_tensors, flatten(result)):
                tensor_map[old.id] = new
    return pack_like(inputs, [tensor_map[t.id] for t in flat_in]), pack_like(outputs, [swap(t) for t in flat_out])
