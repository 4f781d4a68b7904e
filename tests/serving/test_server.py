"""The real server on loopback: valid and invalid requests, answers checked against predict."""

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import onnx
import pytest
from _serving_models import GATHER_TABLE, make_encoder, make_gather_proto, make_pair, rows

import onnxgraph as og

NPY = "application/x-npy"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    encoder, pair = make_encoder(), make_pair()
    lookup = tmp_path_factory.mktemp("models") / "lookup.onnx"
    onnx.save(make_gather_proto(), lookup)
    models = {"encoder": encoder, "pair": pair, "lookup": lookup,
              "features": og.serving.feature_model(encoder, ["hidden"])}
    server = og.serving.serve(models, max_latency_ms=2, max_body_bytes=64 * 1024, providers="cpu")
    client = httpx.Client(base_url=server.url, timeout=30)
    yield server, client, {"encoder": encoder, "pair": pair, "features": models["features"]}
    client.close()
    server.stop()


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _error(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]["message"]


def test_json_predict_matches_predict(served):
    _, client, models = served
    x = rows(5, 8)
    body = client.post("/v1/models/encoder:predict", json={"inputs": x.tolist()}).json()
    assert body["model"] == "encoder" and list(body["outputs"]) == ["embedding"]
    np.testing.assert_allclose(body["outputs"]["embedding"], models["encoder"].predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    by_name = client.post("/v1/models/encoder:predict", json={"inputs": {"x": x.tolist()}}).json()
    assert by_name["outputs"] == body["outputs"]


def test_npy_body_and_npy_answer(served):
    _, client, models = served
    x = rows(3, 8, seed=2)
    response = client.post("/v1/models/features:predict", content=_npy(x),
                           headers={"content-type": NPY, "accept": NPY})
    assert response.status_code == 200 and response.headers["content-type"] == NPY
    expected = models["features"].predict(x, verbose=0)
    np.testing.assert_array_equal(np.load(io.BytesIO(response.content)), expected)  # exact: binary both ways


def test_multi_input_multi_output(served):
    _, client, models = served
    a, b = rows(2, 3, seed=3), rows(2, 2, seed=4)
    joined, score = models["pair"].predict([a, b], verbose=0)
    body = client.post("/v1/models/pair:predict", json={"inputs": {"a": a.tolist(), "b": b.tolist()}}).json()
    np.testing.assert_allclose(body["outputs"]["joined"], joined, rtol=1e-6)
    np.testing.assert_allclose(body["outputs"]["score"], score, rtol=1e-5, atol=1e-6)
    buffer = io.BytesIO()
    np.savez(buffer, a=a, b=b)
    response = client.post("/v1/models/pair:predict", content=buffer.getvalue(),
                           headers={"content-type": "application/x-npz", "accept": "application/x-npz"})
    with np.load(io.BytesIO(response.content)) as npz:
        np.testing.assert_array_equal(npz["score"], score)
    assert "has 2 outputs" in _error(client.post("/v1/models/pair:predict", content=buffer.getvalue(),
                                                 headers={"content-type": "application/x-npz", "accept": NPY}), 406)


def test_plain_onnx_model_and_int_inputs(served):
    _, client, _ = served
    body = client.post("/v1/models/lookup:predict", json={"inputs": [4, 0]}).json()
    np.testing.assert_array_equal(body["outputs"]["rows"], GATHER_TABLE[[4, 0]])
    message = _error(client.post("/v1/models/lookup:predict", json={"inputs": [1.5]}), 400)
    assert "Input 'idx' expects dtype int64, received dtype float64" in message


def test_model_listing_and_description(served):
    server, client, _ = served
    names = [m["name"] for m in client.get("/v1/models").json()["models"]]
    assert names == ["encoder", "pair", "lookup", "features"] == server.models
    info = client.get("/v1/models/features").json()
    assert info["inputs"] == [{"name": "x", "shape": [None, 8], "dtype": "float32"}]
    assert info["outputs"] == [{"name": "hidden", "shape": [None, 16], "dtype": "float32"}]
    assert info["source"] == "onnxgraph" and info["max_batch_size"] == 64
    assert client.get("/v1/models/lookup").json()["source"] == "onnx"
    assert client.get("/healthz").json() == {"status": "ok", "models": sorted(names)}


@pytest.mark.parametrize("body, needle", [
    ({"inputs": [[1.0, 2.0]]}, "Input 'x' expects shape (None, 8), received an array of shape (1, 2)"),
    ({"inputs": {"y": [[0.0] * 8]}}, "Missing input 'x'"),
    ({"inputs": [[0.0] * 8, [1.0]]}, "Input 'x' expects an array"),
    ({"rows": [[0.0] * 8]}, "the key 'inputs' is missing"),
    ({"inputs": [["a"] * 8]}, "Input 'x' expects dtype float32"),
])
def test_bad_inputs_answer_400_with_the_reason(served, body, needle):
    _, client, _ = served
    assert needle in _error(client.post("/v1/models/encoder:predict", json=body), 400)


def test_bad_bodies_unknown_models_and_limits(served):
    _, client, _ = served
    assert "not valid JSON" in _error(client.post("/v1/models/encoder:predict", content=b"{nope",
                                                  headers={"content-type": "application/json"}), 400)
    deep = b'{"inputs": ' + b"[" * 50_000
    assert "not valid JSON" in _error(client.post("/v1/models/encoder:predict", content=deep,
                                                  headers={"content-type": "application/json"}), 400)
    assert "not a valid .npy" in _error(client.post("/v1/models/encoder:predict", content=b"garbage",
                                                    headers={"content-type": NPY}), 400)
    assert "has inputs ['a', 'b']" in _error(client.post("/v1/models/pair:predict", content=_npy(rows(1, 3)),
                                                         headers={"content-type": NPY}), 400)
    assert "Unsupported Content-Type 'text/csv'" in _error(
        client.post("/v1/models/encoder:predict", content=b"1,2", headers={"content-type": "text/csv"}), 415)
    assert "No model named 'nope'" in _error(client.post("/v1/models/nope:predict", json={"inputs": []}), 404)
    assert _error(client.get("/v1/models/nope"), 404)
    big = {"inputs": rows(2000, 8).tolist()}
    assert "over the server's limit of 65536 bytes" in _error(client.post("/v1/models/encoder:predict", json=big), 413)
    chunked = client.post("/v1/models/encoder:predict", content=iter([b" " * 40_000, b" " * 40_000]))
    assert _error(chunked, 413)  # no Content-Length: counted while reading
    assert client.get("/v1/models/encoder:predict").status_code == 405


def test_index_out_of_the_table_is_a_400_and_the_server_keeps_going(served):
    _, client, _ = served
    failed = client.post("/v1/models/lookup:predict", json={"inputs": [42]})  # index out of the table
    assert "ids must be in [-10, 10), received 42" in _error(failed, 400)
    assert client.post("/v1/models/lookup:predict", json={"inputs": [9]}).json()["outputs"]["rows"] == [[27, 28, 29]]
    assert client.get("/healthz").status_code == 200


def test_concurrent_clients_each_get_their_own_rows(served):
    server, _, models = served

    def one(seed):
        x = rows(1 + seed % 3, 8, seed=seed)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            out = client.post("/v1/models/encoder:predict", json={"inputs": x.tolist()}).json()
        return x, np.asarray(out["outputs"]["embedding"], np.float32)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    xs = np.concatenate([x for x, _ in results])
    np.testing.assert_allclose(np.concatenate([y for _, y in results]), models["encoder"].predict(xs, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_metrics_count_requests_errors_and_batches(served):
    _, client, _ = served
    client.post("/v1/models/encoder:predict", json={"inputs": rows(2, 8).tolist()})
    client.post("/v1/models/encoder:predict", json={"inputs": [[1.0]]})
    text = client.get("/metrics").text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert int(lines['onnxgraph_requests_total{model="encoder",code="200"}']) >= 1
    assert int(lines['onnxgraph_request_errors_total{model="encoder",reason="bad_input"}']) >= 1
    count = int(lines['onnxgraph_request_latency_seconds_count{model="encoder"}'])
    assert int(lines['onnxgraph_request_latency_seconds_bucket{model="encoder",le="+Inf"}']) == count
    assert float(lines['onnxgraph_batch_size_sum{model="encoder"}']) >= 2
    assert "# TYPE onnxgraph_batch_size histogram" in text and "onnxgraph_inflight_requests 0" in text


def test_stop_finishes_accepted_requests():
    model = make_encoder()
    server = og.serving.serve(model, max_latency_ms=60_000, max_batch_size=64, providers="cpu")
    x = rows(4, 8, seed=7)
    answers = {}

    def call(k):
        with httpx.Client(timeout=60) as client:
            answers[k] = client.post(f"{server.url}/v1/models/encoder:predict", json={"inputs": x[k:k + 1].tolist()})

    threads = [threading.Thread(target=call, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    metrics, waited = server.app.state.metrics, 0
    while metrics.inflight < 4:  # all four accepted and waiting for company in the batcher
        assert waited < 3000, "requests never reached the server"
        threading.Event().wait(0.01)
        waited += 1
    server.stop()
    for t in threads:
        t.join(30)
    assert not server.running
    got = np.concatenate([np.asarray(answers[k].json()["outputs"]["embedding"]) for k in range(4)])
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/healthz", timeout=2)
