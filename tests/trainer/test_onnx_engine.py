"""The "onnx" engine: state kept in OrtValues, sync with the layers, export, engine selection, and
agreement with the onnxruntime-training engine (where that runtime is installed)."""

import json

import numpy as np
import onnx
import pytest

import onnxgraph as og
from onnxgraph import layers, optimizers
from onnxgraph.runtime import make_session
from onnxgraph.trainer._engines import training_runtime_available

needs_ort_training = pytest.mark.skipif(
    not training_runtime_available(),
    reason="compares with the ort-training engine, which needs onnxruntime-training (the `train` extra)")


def _data(n=64, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    return x, ((x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)) % classes


def _mlp(seed=3, dropout=False, batch_norm=False):
    og.utils.clear_session()
    og.utils.set_random_seed(seed)
    inputs = og.Input(shape=(6,))
    x = layers.Dense(16, activation="relu")(inputs)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    if dropout:
        x = layers.Dropout(0.3, seed=5)(x)
    return og.Model(inputs, layers.Dense(3)(x))


def _conv(seed=3):
    og.utils.clear_session()
    og.utils.set_random_seed(seed)
    inputs = og.Input(shape=(8, 8, 2))
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(4, 3, strides=2, padding="valid")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return og.Model(inputs, layers.Dense(3)(x))


def _compile(model, engine, optimizer=None):
    model.compile(optimizer=optimizer or optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], engine=engine)
    return model


@needs_ort_training
@pytest.mark.parametrize("build,shape", [(_mlp, (6,)), (_conv, (8, 8, 2)),
                                         (lambda: _mlp(batch_norm=True, dropout=True), (6,))],
                         ids=["mlp", "conv", "batchnorm-dropout"])
def test_both_engines_give_the_same_losses_and_weights(build, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((48, *shape)).astype(np.float32)
    y = rng.integers(0, 3, 48)
    results = {}
    for engine in ("onnx", "ort-training"):
        model = _compile(build(), engine)
        history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        assert model._engine.kind == engine
        results[engine] = (history.history["loss"], model.get_weights())
    (loss_a, weights_a), (loss_b, weights_b) = results["onnx"], results["ort-training"]
    np.testing.assert_allclose(loss_a, loss_b, rtol=1e-4)
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_weights_and_slots_stay_in_two_ortvalue_buffers_between_steps():
    x, y = _data()
    model = _compile(_mlp(), "onnx")
    model.train_on_batch(x[:16], y[:16])
    engine = model._engine
    pointers = {name: [b.data_ptr() for b in buffers] for name, buffers in engine._buffers.items()}
    kernel = engine.trainable[0]
    assert len(engine._buffers[kernel]) == 2
    start = engine._current
    before = engine._buffers[kernel][start].numpy()
    variable = engine.params[kernel][0]
    held = variable.value.copy()  # the engine never writes into the Variable's own array
    opt_held = {k: v.copy() for k, v in model.optimizer.get_state().items()}
    for k in range(5):
        losses, _ = engine.train_step([x[16:32], y[16:32], np.ones(16, np.float32)])
        assert engine._current == (start + k + 1) % 2  # each step writes the other buffer
    assert {name: [b.data_ptr() for b in buffers] for name, buffers in engine._buffers.items()} == pointers
    assert not np.array_equal(engine._value(kernel).numpy(), before)
    np.testing.assert_array_equal(variable.value, held)
    losses, preds = engine.train_step([x[16:32], y[16:32], np.ones(16, np.float32)])
    kept = (losses[0].copy(), preds[0].copy())
    engine.train_step([x[32:48], y[32:48], np.ones(16, np.float32)])  # reuses the output buffers
    np.testing.assert_array_equal(losses[0], kept[0])
    np.testing.assert_array_equal(preds[0], kept[1])
    for key, value in model.optimizer._slots.items():  # the numpy slots are untouched until a sync
        for i, array in enumerate(value):
            np.testing.assert_array_equal(array, opt_held[f"{key}/{i}"])
    assert model.optimizer.iterations == 8


def test_layers_see_trained_weights_and_assigned_weights_win():
    x, y = _data()
    model = _compile(_mlp(), "onnx")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    dense = model.layers[1]
    trained = dense.get_weights()[0]
    np.testing.assert_array_equal(trained, model._engine._value(model._engine.trainable[0]).numpy())
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])
    before = model.optimizer.iterations
    model.train_on_batch(x[:16], y[:16])  # the step starts from the zeros
    kernel = model._engine.trainable[0]
    np.testing.assert_allclose(dense.get_weights()[0], model._engine._value(kernel).numpy())
    assert np.abs(dense.get_weights()[0]).max() < 0.05  # one Adam step (lr 0.01) away from zero
    assert model.optimizer.iterations == before + 1
    # Optimizer slots come back to the optimizer when read (checkpoints, get_state).
    state = model.optimizer.get_state()
    assert state["iterations"] == model.optimizer.iterations == 5  # 4 fit steps + 1
    assert any(np.abs(v).max() > 0 for k, v in state.items() if k.startswith("momentum/"))


def test_dropout_masks_follow_the_training_seed():
    x, y = _data()
    runs = []
    for _ in range(2):
        model = _compile(_mlp(dropout=True), "onnx")
        history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
        runs.append((history.history["loss"], model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    # Dropout really is active in training: predict differs from the training-mode forward pass.
    engine = model._engine
    _, train_preds = engine.train_step([x[:16], y[:16], np.zeros(16, np.float32)])
    assert not np.allclose(train_preds[0], model.predict(x[:16], verbose=0))


def test_export_training_writes_a_step_graph_a_plain_session_runs(tmp_path):
    x, y = _data()
    model = _compile(_mlp(batch_norm=True), "onnx", optimizers.SGD(0.05, momentum=0.9))
    model.fit(x[:32], y[:32], batch_size=16, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "train_step.onnx"
    model.export_training(path)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["onnxgraph.training"])
    assert "learning_rate" in proto.doc_string and "new/" in proto.doc_string
    session = make_session(path.read_bytes(), "cpu")
    names = [o.name for o in session.get_outputs()]
    feeds = {}
    file_losses = []
    for step in range(2):
        batch = slice(32 + 16 * step, 48 + 16 * step)
        feeds.update({"input_layer": x[batch], meta["feeds"][1]: y[batch], meta["feeds"][2]: np.ones(16, np.float32),
                      "iteration": np.asarray(2 + step, np.int64)})
        out = dict(zip(names, session.run(None, feeds)))
        file_losses.append(float(out["loss"]))
        feeds.update({inp: out[output] for inp, output in meta["state"]})
    model.fit(x[32:], y[32:], batch_size=16, epochs=1, shuffle=False, verbose=0)
    ours = model._engine
    for inp, _ in meta["state"]:
        np.testing.assert_allclose(feeds[inp], ours._value(inp).numpy(), rtol=1e-5, atol=1e-6, err_msg=inp)
    assert file_losses[0] != file_losses[1]


def test_engine_and_provider_arguments_are_checked():
    model = _mlp()
    with pytest.raises(ValueError, match="engine must be one of"):
        model.compile(optimizer="adam", loss="mse", engine="tensorflow")
    with pytest.raises(ValueError, match="providers must be"):
        model.compile(optimizer="adam", loss="mse", providers="tpu")
    x, y = _data()
    _compile(model, "onnx").compile(optimizer="adam", loss="sparse_categorical_crossentropy", providers="cpu")
    model.fit(x, y, epochs=1, verbose=0)
    assert model._engine.kind == "onnx" and model._engine.session.get_providers() == ["CPUExecutionProvider"]


class _NumpyOnlySGD(optimizers.Optimizer):
    """An optimizer with a numpy update only (no `_emit_update`)."""

    def __init__(self):
        super().__init__(learning_rate=0.1)

    def _update(self, i, param, grad, lr, tmp, tmp2):
        param -= lr * grad


def test_auto_uses_ort_training_for_what_only_it_supports():
    x, y = _data()
    model = _mlp()
    model.compile(optimizer=_NumpyOnlySGD(), loss="sparse_categorical_crossentropy")
    if training_runtime_available():
        model.fit(x, y, epochs=1, verbose=0)
        assert model._engine.kind == "ort-training"
        assert "_NumpyOnlySGD has no in-graph update" in model._engine.auto_reason
    else:
        with pytest.raises(NotImplementedError, match="_NumpyOnlySGD has no in-graph update"):
            model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(NotImplementedError, match="no in-graph update"):
        model.compile(optimizer=_NumpyOnlySGD(), loss="sparse_categorical_crossentropy", engine="onnx")
        model.fit(x, y, epochs=1, verbose=0)


@pytest.mark.skipif(training_runtime_available(), reason="checks the error shown where onnxruntime-training is absent")
def test_ort_training_engine_without_the_runtime_says_what_to_do():
    model = _compile(_mlp(), "ort-training")
    x, y = _data()
    with pytest.raises(ImportError, match="engine='onnx'"):
        model.fit(x, y, epochs=1, verbose=0)


def test_decayed_slots_are_flushed_every_flush_every_steps_and_weights_unchanged():
    from onnxgraph.optimizers._base import FLUSH_EVERY

    tiny = np.finfo(np.float32).tiny
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    dead = x.copy()
    dead[:, 0] = 0  # after the first step, the kernel row of input 0 gets no gradient: its momentum decays
    y = np.zeros((8, 3), np.float32)
    runs = {}
    for flush in (True, False):
        og.utils.clear_session()
        og.utils.set_random_seed(2)
        inputs = og.Input(shape=(6,))
        model = og.Model(inputs, layers.Dense(3)(inputs))
        model.compile(optimizer=optimizers.Adam(1e-3), loss="mse", engine="onnx")
        model.train_on_batch(x, y)
        if not flush:
            model._engine._flush = None
        for _ in range(63 * FLUSH_EVERY - 1):
            model._engine.train_step([dead, y, np.ones(8, np.float32)])
        model._engine.sync_to_model()
        momentum = model.optimizer.get_state()["momentum/0"]
        runs[flush] = (model.get_weights(), momentum)
    (flushed_w, flushed_m), (plain_w, plain_m) = runs[True], runs[False]
    assert ((plain_m != 0) & (np.abs(plain_m) < tiny)).sum() > 0  # the scenario is real
    assert ((flushed_m != 0) & (np.abs(flushed_m) < tiny)).sum() == 0
    assert np.all(flushed_m[0] == 0) and np.all(np.abs(flushed_m[1:]) > tiny)
    for a, b in zip(flushed_w, plain_w):
        np.testing.assert_array_equal(a, b)


def test_cpu_flush_zeroes_the_adam_momentum_band_in_place_and_training_goes_on():
    from onnxgraph.optimizers._base import FLUSH_EVERY

    og.utils.set_random_seed(3)
    inputs = og.Input(shape=(6,))
    model = og.Model(inputs, layers.Dense(3)(inputs))
    model.compile(optimizer=optimizers.Adam(1e-3), loss="mse", engine="onnx", providers="cpu")
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    y = np.zeros((8, 3), np.float32)
    model.train_on_batch(x, y)
    engine = model._engine
    assert engine._flush.session is None  # on the CPU: numpy on the buffers, no flush graph
    dead = x.copy()
    dead[:, 0] = 0
    momentum = engine.graphs.slot_inputs[("momentum", engine.trainable[0])]
    engine._value(momentum).numpy()[0] = 1e-33  # normal, but 1e-33 * alpha is subnormal
    while engine.optimizer.iterations % FLUSH_EVERY:
        engine.train_step([dead, y, np.ones(8, np.float32)])
    assert np.all(engine._value(momentum).numpy()[0] == 0)
    assert np.all(np.abs(engine._value(momentum).numpy()[1:]) > 1e-6)
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)  # the flushed buffer is the one the next step reads
    after = model.get_weights()
    assert not np.array_equal(before[0][1:], after[0][1:])
    assert model.optimizer.get_state()["momentum/0"][0, 0] != 0  # live again: input 0 is back


def test_flush_graph_for_other_devices_zeroes_what_the_numpy_flush_zeroes():
    # The graph path (used off the CPU) run here on the CPU: same thresholds, buffers swapped, bindings re-pointed.
    inputs = og.Input(shape=(4,))
    model = og.Model(inputs, layers.Dense(2)(inputs))
    model.compile(optimizer=optimizers.Adam(1e-3), loss="mse", engine="onnx", providers="cpu")
    x, y = np.ones((4, 4), np.float32), np.zeros((4, 2), np.float32)
    model.train_on_batch(x, y)
    engine, flush = model._engine, model._engine._flush
    values = np.float32([[1e-33, 4e-45], [1e-3, -5e-32], [0.5, 1e-39], [-1e-30, 2.0]])  # limit ~8.3e-32
    m_name = engine.graphs.slot_inputs[("momentum", engine.trainable[0])]
    v_name = engine.graphs.slot_inputs[("velocity", engine.trainable[0])]
    results = {}
    for path in ("numpy", "graph"):
        for name in (m_name, v_name):
            engine._value(name).update_inplace(values.copy())
        flush.session = None if path == "numpy" else flush._graph_session("cpu", None)
        flush.run()
        results[path] = [engine._value(name).numpy().copy() for name in (m_name, v_name)]
    for got, want in zip(results["graph"], results["numpy"]):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(results["numpy"][0], np.float32([[0, 0], [1e-3, 0], [0.5, 0], [-1e-30, 2.0]]))
    np.testing.assert_array_equal(results["numpy"][1], np.float32([[1e-33, 0], [1e-3, -5e-32], [0.5, 0], [-1e-30, 2]]))
    before = model.get_weights()[0]
    model.train_on_batch(x, y)  # the step reads the flushed buffer the graph wrote
    assert not np.array_equal(model.get_weights()[0], before)
    assert np.isfinite(model.optimizer.get_state()["momentum/0"]).all()


def test_each_step_reads_its_own_learning_rate_and_iteration():
    # The two scalars are written in place into arrays the bound OrtValues wrap: a stale value shows here.
    inputs = og.Input(shape=(1,))
    model = og.Model(inputs, layers.Dense(1, use_bias=False, kernel_initializer="ones")(inputs))
    model.compile(optimizer=optimizers.SGD(learning_rate=lambda step: 0.01 * (step + 1)), loss="mse",
                  engine="onnx", providers="cpu")
    x, y = np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32)
    want = 1.0
    for step in range(5):
        model.train_on_batch(x, y)
        want *= 1 - 2 * 0.01 * (step + 1)  # d(w^2)/dw = 2w
        np.testing.assert_allclose(model.get_weights()[0], [[want]], rtol=1e-6)
    assert model.optimizer.iterations == 5


def test_providers_cuda_trains_on_cuda_or_says_why_not():
    x, y = _data()
    model = _mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", providers="cuda")
    try:
        model.fit(x, y, epochs=1, verbose=0)
    except (RuntimeError, ValueError) as error:  # no usable CUDA here: never a silent CPU fallback
        assert "CUDA" in str(error) and "providers" in str(error)
    else:
        assert model._engine.device == "cuda"
        assert all(b[0].device_name().lower() == "cuda" for b in model._engine._buffers.values())
