"""Side-by-side benchmarks: onnxgraph vs Keras 3 (torch backend) vs PyTorch, as ratios.

Run: python -m benchmarks [--sections build,inference,training,memory] [--repeats 3]
"""
