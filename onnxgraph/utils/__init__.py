"""Utilities: seeding, names, progress bars (plots and Netron views join here)."""

from onnxgraph.utils._naming import clear_session
from onnxgraph.utils._progbar import Progbar
from onnxgraph.utils._rng import set_random_seed

__all__ = ["set_random_seed", "clear_session", "Progbar"]
