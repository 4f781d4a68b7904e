"""Serving models and extracted features over HTTP, with dynamic batching.

    import onnxgraph as og

    server = og.serving.serve("encoder.onnx", layers=["dense_1"])   # background thread
    # POST {server.url}/v1/models/encoder:predict  {"inputs": [[...], ...]}
    server.stop()

From the shell: `onnxgraph serve encoder.onnx --port 8000`. The same app runs as a Ray Serve
deployment (`ray_deployment`). uvicorn/Starlette (`serve` extra) and Ray (`ray` extra) are
imported only when used.
"""

from onnxgraph.serving._embedded import ServerHandle, Timeouts, serve
from onnxgraph.serving._metrics import Metrics
from onnxgraph.serving._servable import ModelSpec, ServedModel, TensorInfo, feature_model, resolve_models

__all__ = ["serve", "ServerHandle", "Timeouts", "build_app", "feature_model", "resolve_models", "ModelSpec",
           "ServedModel", "TensorInfo", "Metrics", "ray_deployment"]


def build_app(models, **options):
    """The Starlette app over `ServedModel`s (see `onnxgraph.serving._app.build_app` for options)."""
    from onnxgraph.serving._embedded import require_server_packages

    require_server_packages()
    from onnxgraph.serving._app import build_app as build

    return build(models, **options)


def ray_deployment(models, **options):
    """The same app as a Ray Serve application (see `onnxgraph.serving._ray.ray_deployment`)."""
    from onnxgraph.serving._ray import ray_deployment as build

    return build(models, **options)
