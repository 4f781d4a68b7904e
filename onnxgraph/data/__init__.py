"""Feature extraction over datasets with Ray Data (the `ray` extra).

    import onnxgraph as og

    og.data.extract_features("rows.parquet", "encoder.onnx", layers=["dense_1"], output="features/")
    features = og.data.read_features("features/")      # {column: numpy array}
"""

from onnxgraph.data._extract import extract_features, read_features

__all__ = ["extract_features", "read_features"]
