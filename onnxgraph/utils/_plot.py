"""plot_model / model_to_dot: the graph of layers drawn by graphviz, in Keras's style.

The DOT text is written here (no pydot); the `dot` program from graphviz renders it.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess

__all__ = ["plot_model", "model_to_dot", "GraphvizMissingError"]


class GraphvizMissingError(ImportError):
    pass


def _is_model(layer) -> bool:
    return getattr(layer, "_functional", False)


def _model_nodes(model) -> list:
    """The layer calls (LayerNodes) that belong to `model`'s graph."""
    return [n for nodes in model._nodes_by_depth.values() for n in nodes]


def _layers(model) -> list:
    layers = list(model.layers)
    if type(model).__name__ == "Sequential":
        layers = [layer for layer in layers if type(layer).__name__ != "InputLayer"]
    return layers


def _shape_text(tensors) -> str:
    shapes = [t.shape for t in tensors]
    if not shapes:
        return "?"
    return str(shapes[0]) if len(shapes) == 1 else ", ".join(str(s) for s in shapes)


def _activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "name", None) or getattr(activation, "__name__", None) or str(activation)
    return None if name == "linear" else name


def _label(layer, node, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable) -> str:
    cls = "Functional" if _is_model(layer) and type(layer).__name__ == "Model" else type(layer).__name__
    title = f"<b>{html.escape(layer.name)}</b> ({cls})" if show_layer_names else f"<b>{cls}</b>"
    cells = []
    if show_shapes:
        if cls != "InputLayer":
            cells.append(f"Input shape: <b>{html.escape(_shape_text(node.input_tensors))}</b>")
        cells.append(f"Output shape: <b>{html.escape(_shape_text(node.output_tensors))}</b>")
    if show_dtype:
        dtypes_ = ", ".join(sorted({t.dtype for t in node.output_tensors})) or "?"
        cells.append(f"Output dtype: <b>{dtypes_}</b>")
    row = "".join(f'<td bgcolor="white"><font point-size="14">{c}</font></td>' for c in cells)
    if show_trainable and layer.weights:
        color, text = ("forestgreen", "Trainable") if layer.trainable else ("firebrick", "Non-trainable")
        row += f'<td bgcolor="{color}"><font point-size="14" color="white"><b>{text}</b></font></td>'
    span = max(1, len(cells) + (1 if show_trainable and layer.weights else 0))
    table = ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
             f'<tr><td colspan="{span}" bgcolor="black"><font point-size="16" color="white">{title}</font></td></tr>')
    activation = _activation_name(layer) if show_layer_activations else None
    if activation:
        table += (f'<tr><td bgcolor="white" colspan="{span}"><font point-size="14">Activation: '
                  f"<b>{html.escape(activation)}</b></font></td></tr>")
    if row:
        table += f"<tr>{row}</tr>"
    return table + "</table>>"


def _node_id(layer) -> str:
    return f"n{id(layer)}"


def _source(layer, tensor_index, expand_nested):
    """The box an edge starts from: inside nested models when they are expanded."""
    while expand_nested and _is_model(layer):
        history = layer.outputs[tensor_index]._keras_history
        layer, tensor_index = history.layer, history.tensor_index
    return layer


def _destination(layer, input_index, expand_nested):
    while expand_nested and _is_model(layer):
        if type(layer).__name__ == "Sequential":
            layer = _layers(layer)[0]
        else:
            layer = layer.inputs[min(input_index, len(layer.inputs) - 1)]._keras_history.layer
    return layer


def _body(model, options, expand_nested, lines, edges, indent="  "):
    own_nodes = {id(n) for n in _model_nodes(model)}
    for layer in _layers(model):
        nodes = [n for n in layer._inbound_nodes if id(n) in own_nodes]
        if expand_nested and _is_model(layer):
            lines.append(f'{indent}subgraph "cluster_{id(layer)}" {{')
            lines.append(f'{indent}  label="{html.escape(layer.name)}"; labeljust="l"; style="dashed";')
            _body(layer, options, expand_nested, lines, edges, indent + "  ")
            lines.append(f"{indent}}}")
        else:
            node = nodes[0] if nodes else layer._inbound_nodes[0]
            lines.append(f'{indent}{_node_id(layer)} [label={_label(layer, node, **options)}];')
        for node in nodes:
            for input_index, tensor in enumerate(node.input_tensors):
                history = tensor._keras_history
                if history is None or (type(model).__name__ == "Sequential"
                                       and type(history.layer).__name__ == "InputLayer"):
                    continue
                source = _source(history.layer, history.tensor_index, expand_nested)
                destination = _destination(layer, input_index, expand_nested)
                edge = (_node_id(source), _node_id(destination))
                if edge not in edges:
                    edges.append(edge)


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
                 splines="ortho") -> str:
    """The model's graph of layers as DOT source text (Keras's layout and labels).

    Example:
        >>> print(model_to_dot(model, show_shapes=True)[:7])
        digraph
    """
    if not getattr(model, "built", False) or not _is_model(model):
        raise ValueError(
            f"Model '{getattr(model, 'name', model)}' has no graph of layers yet: build it with "
            "Model(inputs, outputs) (or call it on data) before plotting."
        )
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}.")
    options = dict(show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                   show_layer_activations=show_layer_activations, show_trainable=show_trainable)
    lines = ["digraph G {",
             f'  graph [rankdir="{rankdir}", concentrate=true, dpi={int(dpi)}, splines="{splines}"];',
             '  node [shape="record", fontname="Helvetica", margin="0"];',
             '  edge [penwidth="2"];']
    edges: list = []
    _body(model, options, expand_nested, lines, edges)
    lines += [f"  {a} -> {b};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_program() -> str:
    path = shutil.which("dot")
    if path is None:
        raise GraphvizMissingError(
            "plot_model needs the graphviz `dot` program, which is not on PATH. Install graphviz "
            "(Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew install graphviz`; conda: "
            "`conda install graphviz`), then call plot_model again."
        )
    return path


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False,
               show_trainable=False, splines="ortho"):
    """Draw the model's graph of layers into `to_file` (PNG, SVG, PDF... by extension), like Keras.

    Args:
        model: a functional or Sequential model.
        to_file: output path; the extension picks graphviz's format (default png).
        show_shapes / show_dtype: add input/output shapes / output dtypes to each box.
        show_layer_names: put layer names in the boxes (class names always shown).
        rankdir: "TB" (top to bottom) or "LR" (left to right), as graphviz's rankdir.
        expand_nested: draw nested models as dashed clusters of their layers.
        dpi: resolution of raster formats.
        show_layer_activations: add the activation of layers that have one.
        show_trainable: mark layers with weights as trainable or not.

    Returns:
        An IPython Image for PNG files when IPython is installed (inline in notebooks), else None.

    Example:
        >>> plot_model(model, "my_first_model_with_shape_info.png", show_shapes=True)
    """
    dot = _dot_program()
    source = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                          show_layer_names=show_layer_names, rankdir=rankdir, expand_nested=expand_nested,
                          dpi=dpi, show_layer_activations=show_layer_activations,
                          show_trainable=show_trainable, splines=splines)
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    folder = os.path.dirname(os.path.abspath(to_file))
    os.makedirs(folder, exist_ok=True)
    result = subprocess.run([dot, f"-T{extension}", "-o", to_file], input=source.encode("utf-8"),
                            capture_output=True, timeout=120)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ValueError(f"graphviz could not render {to_file!r} as '{extension}': "
                         f"{message[-1] if message else 'unknown error'}")
    if extension != "png":
        return None
    try:
        from IPython import display
    except ImportError:
        return None
    return display.Image(filename=to_file)
