"""The serving app as a Ray Serve deployment on a local Ray (2 CPUs): same endpoints, same answers."""

import io
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from _serving_models import GATHER_TABLE, make_encoder, make_gather_proto, rows

import onnxgraph as og

pytestmark = pytest.mark.slow


def test_deployment_options_reach_ray():
    pytest.importorskip("ray.serve")
    app = og.serving.ray_deployment(make_encoder(), name="features", autoscaling_config={"max_replicas": 3},
                                    ray_actor_options={"num_cpus": 0.5}, max_batch_size=32)
    deployment = app._bound_deployment
    config = deployment._deployment_config
    assert deployment.name == "features" and deployment.ray_actor_options == {"num_cpus": 0.5}
    assert config.autoscaling_config.max_replicas == 3
    assert config.autoscaling_config.target_ongoing_requests == 32  # a replica is busy when its batch fills
    assert config.max_ongoing_requests == 64  # room for a full batch to form
    fixed = og.serving.ray_deployment(make_encoder(), num_replicas=2)._bound_deployment
    assert fixed.num_replicas == 2


def test_ray_serve_answers_like_predict(ray_local):
    from ray import serve

    model = make_encoder()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        app = og.serving.ray_deployment(
            {"encoder": model, "lookup": make_gather_proto().SerializeToString()}, layers=None,
            autoscaling_config={"min_replicas": 1, "max_replicas": 2}, ray_actor_options={"num_cpus": 0.5},
            max_latency_ms=2)
        serve.run(app, name="onnxgraph", route_prefix="/")
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=60) as client:
            assert [m["name"] for m in client.get("/v1/models").json()["models"]] == ["encoder", "lookup"]
            x = rows(4, 8)
            body = client.post("/v1/models/encoder:predict", json={"inputs": x.tolist()}).json()
            np.testing.assert_allclose(body["outputs"]["embedding"], model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
            buffer = io.BytesIO()
            np.save(buffer, np.array([2, 7]))
            answer = client.post("/v1/models/lookup:predict", content=buffer.getvalue(),
                                 headers={"content-type": "application/x-npy", "accept": "application/x-npy"})
            np.testing.assert_array_equal(np.load(io.BytesIO(answer.content)), GATHER_TABLE[[2, 7]])
            bad = client.post("/v1/models/encoder:predict", json={"inputs": [[1.0, 2.0]]})
            assert bad.status_code == 400 and "expects shape (None, 8)" in bad.json()["error"]["message"]
            assert client.post("/v1/models/nope:predict", json={"inputs": []}).status_code == 404
            assert client.post("/v1/models/lookup:predict", json={"inputs": [50]}).status_code == 400

        def one(seed):
            xi = rows(1, 8, seed=seed)
            out = httpx.post(f"{url}/v1/models/encoder:predict", json={"inputs": xi.tolist()}, timeout=60).json()
            return xi, np.asarray(out["outputs"]["embedding"], np.float32)

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(one, range(16)))
        xs = np.concatenate([xi for xi, _ in results])
        np.testing.assert_allclose(np.concatenate([y for _, y in results]), model.predict(xs, verbose=0),
                                   rtol=1e-5, atol=1e-6)
        assert httpx.get(f"{url}/healthz", timeout=60).json()["status"] == "ok"
    finally:
        serve.shutdown()
