"""plot_model / model_to_dot: Keras-style graphviz drawings of the graph of layers."""

import re

import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.utils import _plot, model_to_dot, plot_model

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ticket_like():
    title = og.Input(shape=(12,), name="title")
    tags = og.Input(shape=(4,), name="tags")
    x = layers.concatenate([layers.Dense(8, activation="relu")(title), tags])
    priority = layers.Dense(1, name="priority")(x)
    department = layers.Dense(3, activation="softmax", name="department")(x)
    return og.Model([title, tags], {"priority": priority, "department": department}, name="tickets")


def edges(dot: str) -> list:
    return re.findall(r"(n\d+) -> (n\d+);", dot)


def node_ids(dot: str) -> dict:
    """layer name -> DOT node id, read back from the labels."""
    return {name: node for node, name in re.findall(r"(n\d+) \[label=<<table.*?<b>([^<]+)</b>", dot)}


def test_dot_has_one_box_per_layer_and_keras_edges():
    model = ticket_like()
    dot = model_to_dot(model, show_shapes=True, show_dtype=True, show_layer_activations=True)
    ids = node_ids(dot)
    assert set(ids) == {"title", "tags", "dense", "concatenate", "priority", "department"}
    expected = {("title", "dense"), ("dense", "concatenate"), ("tags", "concatenate"),
                ("concatenate", "priority"), ("concatenate", "department")}
    by_id = {v: k for k, v in ids.items()}
    assert {(by_id[a], by_id[b]) for a, b in edges(dot)} == expected
    assert "Input shape: <b>(None, 8), (None, 4)</b>" in dot  # concatenate's two inputs
    assert "Output shape: <b>(None, 12)</b>" in dot
    assert "Output dtype: <b>float32</b>" in dot
    assert "Activation: <b>softmax</b>" in dot and "Activation: <b>linear</b>" not in dot
    assert 'rankdir="TB"' in dot and "dpi=200" in dot


def test_options_change_the_drawing():
    model = ticket_like()
    plain = model_to_dot(model, show_layer_names=False)
    assert "Output shape" not in plain and "<b>Dense</b>" in plain and "priority" not in plain
    assert 'rankdir="LR"' in model_to_dot(model, rankdir="LR")
    with pytest.raises(ValueError, match="rankdir"):
        model_to_dot(model, rankdir="XY")


def test_expand_nested_draws_clusters_and_crosses_model_edges():
    encoder_input = og.Input(shape=(6,), name="img")
    encoder = og.Model(encoder_input, layers.Dense(3, name="code")(encoder_input), name="encoder")
    decoder_input = og.Input(shape=(3,), name="encoded")
    decoder = og.Model(decoder_input, layers.Dense(6, name="recon")(decoder_input), name="decoder")
    inputs = og.Input(shape=(6,), name="x")
    auto = og.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    collapsed = model_to_dot(auto)
    assert "cluster" not in collapsed and set(node_ids(collapsed)) == {"x", "encoder", "decoder"}
    expanded = model_to_dot(auto, expand_nested=True)
    assert expanded.count("subgraph") == 2 and 'label="encoder"' in expanded
    ids = node_ids(expanded)
    by_id = {v: k for k, v in ids.items()}
    pairs = {(by_id[a], by_id[b]) for a, b in edges(expanded)}
    # Edges enter a nested model at its InputLayer and leave from the layer making its output.
    assert ("x", "img") in pairs and ("code", "encoded") in pairs and ("img", "code") in pairs


def test_png_and_svg_files(tmp_path):
    model = ticket_like()
    png = tmp_path / "sub" / "model.png"
    plot_model(model, png, show_shapes=True)
    with open(png, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    svg = tmp_path / "model.svg"
    assert plot_model(model, str(svg), show_layer_names=True) is None
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for name in ("title", "concatenate", "department"):
        assert f">{name}<" in text


def test_missing_dot_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(_plot.shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match="graphviz `dot`.*apt-get install graphviz"):
        plot_model(ticket_like(), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_unbuilt_model_and_bad_format(tmp_path):
    with pytest.raises(ValueError, match="no graph of layers"):
        plot_model(og.Sequential([layers.Dense(2)]), tmp_path / "x.png")
    with pytest.raises(ValueError, match="graphviz could not render"):
        plot_model(ticket_like(), tmp_path / "x.notaformat")
