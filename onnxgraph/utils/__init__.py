"""Utilities: seeding, names, labels and sequences, progress bars, plots (graphviz) and Netron views."""

from onnxgraph.utils._naming import clear_session
from onnxgraph.utils._numerical import normalize, to_categorical
from onnxgraph.utils._netron import NetronView, view
from onnxgraph.utils._plot import model_to_dot, plot_model
from onnxgraph.utils._progbar import Progbar
from onnxgraph.utils._rng import set_random_seed
from onnxgraph.utils._sequence import pad_sequences

__all__ = ["set_random_seed", "clear_session", "Progbar", "plot_model", "model_to_dot", "view", "NetronView",
           "to_categorical", "normalize", "pad_sequences"]
