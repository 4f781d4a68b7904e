"""The dynamic batcher on real onnxruntime sessions: stacking, limits, isolation of failures, draining."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _serving_models import GATHER_TABLE, make_gather_proto, rows

from onnxgraph.serving import Metrics, ServedModel, resolve_models
from onnxgraph.serving._batcher import DynamicBatcher, InferenceError, RejectedInput


class Recording(ServedModel):
    """A served model that records the rows of every onnxruntime run."""

    def __init__(self, spec):
        super().__init__(spec, providers="cpu")
        self.runs = []

    def run(self, feeds):
        self.runs.append(next(iter(feeds.values())).shape[0])
        return super().run(feeds)


def _recording(model):
    return Recording(resolve_models(model)[0])


async def _with_batcher(served, body, **options):
    with ThreadPoolExecutor(2) as executor:
        batcher = DynamicBatcher(served, executor, Metrics(), **options)
        await batcher.start()
        try:
            return await body(batcher)
        finally:
            await batcher.stop()


def test_concurrent_requests_share_one_run_and_get_their_own_rows(encoder):
    served = _recording(encoder)
    inputs = [rows(k + 1, 8, seed=k) for k in range(4)]  # 1 + 2 + 3 + 4 = 10 rows

    async def body(batcher):
        return await asyncio.gather(*(batcher.submit(served.feeds(x)) for x in inputs))

    results = asyncio.run(_with_batcher(served, body, max_batch_size=10, max_latency_ms=1000))
    assert served.runs == [10]  # full at 10 rows: ran without waiting out the latency
    for x, (out,) in zip(inputs, results):
        np.testing.assert_allclose(out, encoder.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_max_batch_size_splits_and_never_cuts_a_request(encoder):
    served = _recording(encoder)
    inputs = [rows(3, 8, seed=k) for k in range(5)] + [rows(9, 8, seed=9)]

    async def body(batcher):
        return await asyncio.gather(*(batcher.submit(served.feeds(x)) for x in inputs))

    results = asyncio.run(_with_batcher(served, body, max_batch_size=7, max_latency_ms=0))
    assert served.runs == [6, 6, 3, 9]  # 3+3 fit under 7; the 9-row request runs alone, whole
    for x, (out,) in zip(inputs, results):
        np.testing.assert_allclose(out, encoder.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_batching_off_runs_each_request_alone(encoder):
    served = _recording(encoder)

    async def body(batcher):
        return await asyncio.gather(*(batcher.submit(served.feeds(rows(2, 8, seed=k))) for k in range(3)))

    asyncio.run(_with_batcher(served, body, max_batch_size=1))
    assert served.runs == [2, 2, 2]


def test_a_failing_request_fails_alone():
    served = _recording(make_gather_proto().SerializeToString())
    # Index 99 is out of range: served.feeds refuses it (a 400), so it is fed unchecked here, as a
    # run-time failure no check foresaw would be.
    requests = [served.feeds(np.array([1, 2])), {"idx": np.array([99])}, served.feeds(np.array([0]))]

    async def body(batcher):
        return await asyncio.gather(*(batcher.submit(x) for x in requests), return_exceptions=True)

    good, bad, other = asyncio.run(_with_batcher(served, body, max_batch_size=8, max_latency_ms=50))
    assert served.runs[0] == 4  # tried together first, then one by one
    # onnxruntime's INVALID_ARGUMENT: the client's fault (HTTP 400), not the server's.
    assert isinstance(bad, RejectedInput) and "Model 'lookup' cannot run on this input" in str(bad)
    np.testing.assert_array_equal(good[0], GATHER_TABLE[[1, 2]])
    np.testing.assert_array_equal(other[0], GATHER_TABLE[[0]])


def test_different_trailing_shapes_run_in_separate_batches():
    import onnxgraph as og

    inputs = og.Input(shape=(None, 2), name="seq")
    model = og.Model(inputs, og.layers.Dense(3, name="proj")(inputs), name="seq")
    served = _recording(model)
    shapes = [(1, 4, 2), (1, 4, 2), (1, 6, 2)]

    async def body(batcher):
        xs = [np.ones(s, np.float32) for s in shapes]
        return await asyncio.gather(*(batcher.submit(served.feeds(x)) for x in xs))

    results = asyncio.run(_with_batcher(served, body, max_batch_size=8, max_latency_ms=0))
    assert sorted(served.runs) == [1, 2]
    assert [r[0].shape for r in results] == [(1, 4, 3), (1, 4, 3), (1, 6, 3)]


def test_stop_answers_everything_already_queued(encoder):
    served = _recording(encoder)

    async def body(batcher):
        tasks = [asyncio.create_task(batcher.submit(served.feeds(rows(1, 8, seed=k)))) for k in range(5)]
        await asyncio.sleep(0)  # queued, batch still waiting out its latency
        await batcher.stop()
        with pytest.raises(InferenceError, match="shutting down"):
            await batcher.submit(served.feeds(rows(1, 8)))
        return await asyncio.gather(*tasks)

    results = asyncio.run(_with_batcher(served, body, max_batch_size=64, max_latency_ms=10_000))
    assert len(results) == 5 and sum(served.runs) == 5


def test_outputs_without_a_batch_dimension_stop_stacking(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0)], "sum",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
                              [helper.make_tensor_value_info("total", TensorProto.FLOAT, [])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    served = _recording(proto.SerializeToString())

    async def body(batcher):
        xs = [np.full((1, 2), k, np.float32) for k in (1, 2)]
        out = await asyncio.gather(*(batcher.submit(served.feeds(x)) for x in xs))
        return out, batcher.batching

    results, still_batching = asyncio.run(_with_batcher(served, body, max_batch_size=8, max_latency_ms=0))
    assert [float(r[0]) for r in results] == [2.0, 4.0] and not still_batching
