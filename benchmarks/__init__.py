"""Side-by-side benchmarks: onnxgraph vs Keras 3 (torch backend) vs PyTorch, as ratios.

Run: python -m benchmarks [--sections build,inference,training,memory,improvements]
     [--cases mlp,toy_resnet,autoencoder,ticket_router,dense_stack_1000] [--repeats 5] [--threads 1]
Writes BENCHMARKS.md (tables, machine description and load, then benchmarks/notes.md).
"""
