"""Utilities: seeding, names, progress bars, plots (graphviz) and Netron views."""

from onnxgraph.utils._naming import clear_session
from onnxgraph.utils._netron import NetronView, view
from onnxgraph.utils._plot import model_to_dot, plot_model
from onnxgraph.utils._progbar import Progbar
from onnxgraph.utils._rng import set_random_seed

__all__ = ["set_random_seed", "clear_session", "Progbar", "plot_model", "model_to_dot", "view", "NetronView"]
