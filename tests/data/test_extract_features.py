"""og.data.extract_features on a local Ray (2 CPUs): numpy and parquet in, parquet out, checked
against the cut model's predict."""

import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers

pytestmark = pytest.mark.slow


def _model():
    inputs = og.Input(shape=(6,), name="x")
    hidden = layers.Dense(5, activation="relu", name="hidden")(inputs)
    return og.Model(inputs, layers.Dense(2, name="logits")(hidden), name="clf")


def _data(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 6)).astype("float32")


def test_numpy_source_keeps_row_order(ray_local):
    model = _model()
    x = _data(300)
    dataset = og.data.extract_features(x, model, layers=["hidden"], batch_size=64, num_workers=2)
    batch = dataset.take_batch(300, batch_format="numpy")
    assert sorted(batch) == ["hidden"]
    expected = og.serving.feature_model(model, ["hidden"]).predict(x, verbose=0)
    np.testing.assert_allclose(batch["hidden"], expected, rtol=1e-5, atol=1e-6)


def test_parquet_in_parquet_out_with_ids(ray_local, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = _model()
    model.save(tmp_path / "clf.onnx")
    x = _data(200, seed=1)
    ids = np.arange(1000, 1200)
    # A plain parquet file as another tool writes it: a list column of features and an id column.
    table = pa.table({"id": ids, "features": pa.array(list(x), type=pa.list_(pa.float32()))})
    pq.write_table(table.slice(0, 120), tmp_path / "part-0.parquet")
    pq.write_table(table.slice(120), tmp_path / "part-1.parquet")
    source = [str(tmp_path / "part-0.parquet"), str(tmp_path / "part-1.parquet")]
    out = og.data.extract_features(source, tmp_path / "clf.onnx", layers=["hidden", "logits"],
                                   output=tmp_path / "features", input_columns="features", batch_size=50)
    result = og.data.read_features(out)
    assert sorted(result) == ["hidden", "id", "logits"]
    order = np.argsort(result["id"])
    np.testing.assert_array_equal(result["id"][order], ids)
    hidden, logits = og.serving.feature_model(model, ["hidden", "logits"]).predict(x, verbose=0)
    np.testing.assert_allclose(result["hidden"][order], hidden, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["logits"][order], logits, rtol=1e-5, atol=1e-6)


def test_column_problems_are_reported_before_running(ray_local):
    import ray.data

    model = _model()
    dataset = ray.data.from_items([{"a": np.zeros(6, np.float32), "b": 1.0}])
    with pytest.raises(ValueError, match=r"cannot find the column for model input\(s\) \['x'\].*columns \['a', 'b'\]"):
        og.data.extract_features(dataset, model)
    renamed = ray.data.from_items([{"a": np.zeros(6, np.float32), "hidden": 1.0}])
    with pytest.raises(ValueError, match=r"Dataset columns \['hidden'\] have the names of model outputs"):
        og.data.extract_features(renamed, model, layers=["hidden"], input_columns={"x": "a"})
    with pytest.raises(ValueError, match=r"inputs \['a', 'b'\]; pass a dict"):
        og.data.extract_features(_data(4), _two_input_model())


def _two_input_model():
    a, b = og.Input(shape=(2,), name="a"), og.Input(shape=(3,), name="b")
    return og.Model([a, b], layers.Concatenate(name="joined")([a, b]), name="two")
