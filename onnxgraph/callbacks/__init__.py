"""Callbacks for fit()/evaluate() with Keras 3's names, arguments and hooks."""

from onnxgraph.callbacks._callback import Callback, CallbackList
from onnxgraph.callbacks._history import History, ProgbarLogger
from onnxgraph.callbacks._lr import LearningRateScheduler, ReduceLROnPlateau
from onnxgraph.callbacks._misc import CSVLogger, LambdaCallback, TerminateOnNaN
from onnxgraph.callbacks._monitor import EarlyStopping, ModelCheckpoint

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback"]
