"""Input limits read from the graph: Embedding id ranges and spatial minimums, checked against onnxruntime."""

import httpx
import numpy as np
import pytest

import onnxgraph as og
from onnxgraph import layers
from onnxgraph.runtime import make_session
from onnxgraph.serving._limits import read_limits


def _conv_stack(padding, strides, dilation, pool):
    x = og.Input(shape=(None, None, 2), name="image")
    y = layers.Conv2D(3, (5, 3), strides=strides, dilation_rate=dilation, padding=padding)(x)
    y = layers.MaxPooling2D(pool, padding="valid")(y)
    y = layers.Conv2D(2, 3)(y)
    return og.Model(x, layers.GlobalMaxPooling2D()(y), name="stack")


def _runs(session, h, w) -> bool:
    try:
        session.run(None, {"image": np.zeros((1, h, w, 2), np.float32)})
        return True
    except Exception:  # noqa: BLE001 - onnxruntime refuses too small an image
        return False


@pytest.mark.parametrize("padding, strides, dilation, pool", [
    ("valid", 1, 1, 2), ("valid", 2, 1, 3), ("same", 1, 1, 2), ("valid", 1, 2, 2), ("valid", 3, 1, 1)])
def test_spatial_minimums_equal_what_onnxruntime_accepts(padding, strides, dilation, pool):
    proto = _conv_stack(padding, strides, dilation, pool).to_onnx()
    limits = read_limits(proto, keras_ids=True)
    session = make_session(proto.SerializeToString(), "cpu")
    least = limits.minimums["image"]
    for axis in (1, 2):
        size = least[axis]
        other = 64  # large enough on the other axis
        shape = (size, other) if axis == 1 else (other, size)
        smaller = (size - 1, other) if axis == 1 else (other, size - 1)
        assert _runs(session, *shape), (axis, size)
        assert not _runs(session, *smaller), (axis, size)


def test_embedding_ids_are_refused_outside_the_table():
    ids = og.Input(shape=(None,), dtype="int64", name="ids")
    model = og.Model(ids, layers.Embedding(7, 3, name="words")(ids), name="emb")
    limits = read_limits(model.to_onnx(), keras_ids=True)
    assert limits.ranges["ids"] == (0, 7, "words")
    limits.check({"ids": np.array([[0, 6]])})
    for bad in ([[-1]], [[7]], [[2**40]]):
        with pytest.raises(ValueError, match=r"ids for 'words', which has 7 rows: ids must be in \[0, 7\)"):
            limits.check({"ids": np.array(bad)})


def test_float_ids_nan_is_refused():
    ids = og.Input(shape=(3,), name="ids")  # Keras's default float32 input feeding an Embedding
    model = og.Model(ids, layers.Embedding(5, 2)(ids))
    limits = read_limits(model.to_onnx(), keras_ids=True)
    limits.check({"ids": np.array([[0.0, 4.0, 1.0]], np.float32)})
    with pytest.raises(ValueError, match="ids must be in"):
        limits.check({"ids": np.array([[0.0, np.nan, 1.0]], np.float32)})


def test_server_answers_400_for_values_the_graph_cannot_take():
    ids = og.Input(shape=(None,), dtype="int32", name="ids")
    emb = og.Model(ids, layers.Embedding(10, 4, name="vocab")(ids), name="emb")
    conv = _conv_stack("valid", 1, 1, 2)
    # Strided "same" padding on free image axes is computed in the graph (Shape -> Pad): the limit
    # is not read statically, and onnxruntime's INVALID_ARGUMENT is still answered as a 400.
    dynamic = _conv_stack("same", 3, 1, 2)
    with og.serving.serve({"emb": emb, "conv": conv, "dynamic": dynamic}, providers="cpu") as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for bad in ([[-1, 2]], [[10]], [[3, 2**31 - 1]]):
                answer = client.post("/v1/models/emb:predict", json={"inputs": bad})
                assert answer.status_code == 400 and "ids must be in [0, 10)" in answer.text, answer.text
            assert client.post("/v1/models/emb:predict", json={"inputs": [[0, 9]]}).status_code == 200
            tiny = client.post("/v1/models/conv:predict", json={"inputs": np.zeros((1, 3, 40, 2)).tolist()})
            assert tiny.status_code == 400 and "too small along axis 1" in tiny.text
            info = client.get("/v1/models/conv").json()["input_limits"]["min_sizes"]["image"]
            ok = client.post("/v1/models/conv:predict",
                             json={"inputs": np.zeros((1, info["1"], info["2"], 2)).tolist()})
            assert ok.status_code == 200, ok.text
            small = client.post("/v1/models/dynamic:predict", json={"inputs": np.zeros((1, 2, 2, 2)).tolist()})
            assert small.status_code == 400 and "cannot run on this input" in small.text, small.text
            assert client.get("/healthz").status_code == 200
