"""The same HTTP app as a Ray Serve deployment: replicas, autoscaling, one batcher per replica."""

from __future__ import annotations

from onnxgraph.serving._embedded import DEFAULT_MAX_BODY_BYTES, require_server_packages
from onnxgraph.serving._servable import ServedModel, resolve_models

__all__ = ["ray_deployment", "ModelReplica"]


def _import_serve():
    try:
        from ray import serve
    except ImportError as exc:
        raise ImportError(f"Ray Serve is not installed ({exc.name} is missing). Install it with "
                          "`pip install \"onnxgraph[ray]\"`.") from None
    return serve


class ModelReplica:
    """One Ray Serve replica: loads the models from ONNX bytes, then serves the Starlette app.

    Ray builds the app after `__init__` through `__serve_build_asgi_app__`, so each replica has
    its own sessions and its own dynamic batcher.
    """

    def __init__(self, specs, providers="cpu", session_threads=None, batching="auto", **app_options):
        self._served = [ServedModel(spec, providers=providers, threads=session_threads, batching=batching)
                        for spec in specs]
        self._app_options = app_options

    def __serve_build_asgi_app__(self):
        from onnxgraph.serving._app import build_app

        return build_app(self._served, **self._app_options)


def ray_deployment(models, *, layers=None, name: str = "onnxgraph", num_replicas: int | str | None = 1,
                   autoscaling_config: dict | None = None, ray_actor_options: dict | None = None,
                   max_ongoing_requests: int | None = None, max_batch_size: int = 64,
                   max_latency_ms: float = 5.0, providers="cpu", max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                   threads: int = 4, session_threads: int | None = None, batching: str = "auto"):
    """Serve models on Ray Serve with the same endpoints as `onnxgraph serve`.

    Args:
        models: as for `og.serving.serve` (og.Model, path, bytes, list or dict); they travel to
            the replicas as ONNX bytes.
        layers: serve these layers' outputs instead (one model).
        name: the deployment name.
        num_replicas: fixed replica count (or "auto"); ignored when `autoscaling_config` is given.
        autoscaling_config: Ray Serve autoscaling, e.g. {"min_replicas": 1, "max_replicas": 4};
            `target_ongoing_requests` defaults to `max_batch_size`.
        ray_actor_options: resources per replica, e.g. {"num_cpus": 1}.
        max_ongoing_requests: requests a replica accepts at once (keep it above max_batch_size
            so batches can fill).
        max_batch_size, max_latency_ms, max_body_bytes, threads, batching: as for `serve`.
        providers, session_threads: onnxruntime providers and intra-op threads in each replica.

    Returns:
        A bound Ray Serve application: `serve.run(app, route_prefix="/")`.

    Example:
        >>> from ray import serve
        >>> serve.run(og.serving.ray_deployment("encoder.onnx", num_replicas=2), route_prefix="/")
    """
    require_server_packages()
    serve = _import_serve()
    specs = resolve_models(models, layers)
    options = {"name": name, "ray_actor_options": ray_actor_options or {"num_cpus": 1}}
    if autoscaling_config is not None:
        # A batching replica is busy when its batch fills, not at Ray's default of 2 requests.
        options["autoscaling_config"] = {"target_ongoing_requests": max_batch_size, **autoscaling_config}
    elif num_replicas is not None:
        options["num_replicas"] = num_replicas
    if max_ongoing_requests is not None:
        options["max_ongoing_requests"] = max_ongoing_requests
    else:  # Ray's default (5) would cap every batch at 5 rows
        options["max_ongoing_requests"] = max(2 * max_batch_size, 16)
    deployment = serve.deployment(serve.ingress()(ModelReplica), **options)
    return deployment.bind(specs, providers=providers, session_threads=session_threads, batching=batching,
                           max_batch_size=max_batch_size, max_latency_ms=max_latency_ms,
                           max_body_bytes=max_body_bytes, threads=threads)
