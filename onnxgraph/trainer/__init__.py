"""The training engine behind Model.compile/fit/evaluate (private; see models/_training_api.py).

- `_graph.py`: the training forward graph (the model replayed with training=True, losses,
  state updates) and the evaluation graph (inference graph + losses, weights as inputs).
- `_rules*.py` + `_rewrite.py`: rewrites that give onnxruntime-training 1.19.2 ops it can
  differentiate correctly (see shared notes/onnxruntime-training.md); training graphs only.
- `_ort.py`: artifact generation and the Module, without importing torch.
- `_engine.py`: the "ort-training" engine: Module gradients + numpy optimizer on ORT's buffers.
- `_step_graph.py` + `_onnx_engine.py`: the "onnx" engine: one train-step graph (autodiff
  gradients, optimizer nodes) on an InferenceSession, state in double-buffered OrtValues.
- `_engines.py`: compile(engine=...) selection; `_export.py`: model.export_training.
- `_data.py`, `_compile.py`, `_loop.py`: data adapters, losses/metrics bookkeeping, the loops.
"""

__all__: list[str] = []
