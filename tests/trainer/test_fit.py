"""compile/fit/evaluate semantics against numpy references of Keras's formulas."""

import numpy as np
import onnx
import pytest

import onnxgraph as og
from onnxgraph import callbacks, layers, losses, optimizers


def _linear(units=2, features=3):
    inputs = og.Input(shape=(features,))
    return og.Model(inputs, layers.Dense(units, name="dense")(inputs))


def _data(n=40, features=3, units=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    y = (x @ rng.standard_normal((features, units)) + 0.1).astype(np.float32)
    return x, y


def test_sgd_step_matches_the_numpy_gradient_of_the_weighted_mse():
    model = _linear()
    x, y = _data(8)
    sw = np.linspace(0.5, 2.0, 8).astype(np.float32)
    kernel, bias = model.get_weights()
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse")
    loss = model.train_on_batch(x, y, sample_weight=sw)
    pred = x @ kernel + bias
    per_sample = ((pred - y) ** 2).mean(axis=1)
    # Keras: sum(loss * sample_weight) / batch size.
    np.testing.assert_allclose(loss, (per_sample * sw).sum() / 8, rtol=1e-5)
    d_pred = 2 * (pred - y) / 2 * sw[:, None] / 8
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(new_kernel, kernel - 0.1 * x.T @ d_pred, atol=1e-6)
    np.testing.assert_allclose(new_bias, bias - 0.1 * d_pred.sum(axis=0), atol=1e-6)


def test_train_and_test_on_batch_report_their_own_batch_like_keras():
    # Keras 3 resets the metrics at every train_on_batch / test_on_batch call: no running means.
    import keras

    x, y = _data(16)
    results = []
    for module in (og, keras):
        inputs = module.Input(shape=(3,))
        model = module.Model(inputs, module.layers.Dense(2)(inputs))
        if module is keras:
            model.set_weights(weights)
        weights = model.get_weights()
        model.compile(optimizer=module.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
        logs = [model.train_on_batch(x[:8], y[:8], return_dict=True), model.train_on_batch(x[8:], y[8:], return_dict=True),
                model.test_on_batch(x[:8], y[:8], return_dict=True), model.test_on_batch(x[8:], y[8:], return_dict=True)]
        results.append([[log["loss"], log["mae"]] for log in logs])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


def test_class_weight_scales_each_sample_by_its_class():
    inputs = og.Input(shape=(3,))
    model = og.Model(inputs, layers.Dense(3)(inputs))
    x = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 2, 1, 0])
    logits = model.predict(x, verbose=0)
    model.compile(optimizer=optimizers.SGD(0.0), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    loss = model.train_on_batch(x, y, class_weight={0: 1.0, 1: 2.0, 2: 0.5})
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    per_sample = -log_p[np.arange(6), y]
    np.testing.assert_allclose(loss, (per_sample * np.array([1, 2, 0.5, 0.5, 2, 1])).mean(), rtol=1e-5)


def test_fit_history_keys_validation_and_evaluate_forms():
    model = _linear()
    x, y = _data(50)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.2, verbose=0)
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert len(history.history["loss"]) == 3 and history.epoch == [0, 1, 2]
    assert history is model.history
    pred = model.predict(x[40:], verbose=0)
    # evaluate() sees the trained weights, in inference mode, and reports Keras's order.
    loss, mae = model.evaluate(x[40:], y[40:], verbose=0)
    np.testing.assert_allclose(loss, ((pred - y[40:]) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(mae, np.abs(pred - y[40:]).mean(), rtol=1e-5)
    assert np.isclose(history.history["val_loss"][-1], loss, rtol=1e-5)
    assert model.evaluate(x[40:], y[40:], verbose=0, return_dict=True).keys() == {"loss", "mae"}
    history = model.fit(x, y, epochs=2, validation_data=(x[:10], y[:10]), verbose=0, initial_epoch=0)
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x[:10], y[:10], verbose=0)[0], rel=1e-5)


def test_predict_and_saved_file_use_trained_weights(tmp_path):
    model = _linear()
    x, y = _data(32)
    before = model.predict(x, verbose=0)
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, batch_size=8, epochs=5, verbose=0)
    after = model.predict(x, verbose=0)
    assert np.abs(after - y).mean() < np.abs(before - y).mean() / 2
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(after, x @ kernel + bias, atol=1e-5)
    model.save(tmp_path / "trained.onnx")
    np.testing.assert_allclose(og.load_model(tmp_path / "trained.onnx").predict(x, verbose=0), after, atol=1e-6)


def test_multi_output_losses_weights_and_names():
    title = og.Input(shape=(4,), name="title")
    tags = og.Input(shape=(3,), name="tags")
    features = layers.concatenate([title, tags])
    priority = layers.Dense(1, name="priority")(features)
    department = layers.Dense(3, name="department")(features)
    model = og.Model([title, tags], {"priority": priority, "department": department})
    rng = np.random.default_rng(2)
    x = {"title": rng.standard_normal((16, 4)).astype(np.float32), "tags": rng.integers(0, 2, (16, 3)).astype("f4")}
    y = {"priority": rng.random((16, 1)).astype(np.float32),
         "department": np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]}
    model.compile(optimizer=optimizers.RMSprop(1e-3),
                  loss={"priority": losses.BinaryCrossentropy(from_logits=True),
                        "department": losses.CategoricalCrossentropy(from_logits=True)},
                  loss_weights={"priority": 1.0, "department": 0.2}, metrics={"department": ["accuracy"]})
    out = model.predict(x, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "department_accuracy", "priority_loss", "department_loss"]
    z, t = out["priority"], y["priority"]
    bce = (np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))).mean()
    logits = out["department"]
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    cce = -(y["department"] * log_p).sum(axis=1).mean()
    np.testing.assert_allclose(logs["priority_loss"], bce, rtol=1e-5)
    np.testing.assert_allclose(logs["department_loss"], cce, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], bce + 0.2 * cce, rtol=1e-5)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert set(history.history) == {"loss", "department_accuracy", "priority_loss", "department_loss"}
    # A list of losses in output order works the same.
    model.compile(optimizer="rmsprop", loss=["binary_crossentropy", "categorical_crossentropy"])
    assert model.fit(x, [y["priority"], y["department"]], epochs=1, verbose=0).history["loss"]


def test_iterables_generators_and_steps_per_epoch():
    model = _linear()
    x, y = _data(32)
    model.compile(optimizer=optimizers.SGD(0.05), loss="mse")
    batches = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 32, 8)]
    history = model.fit(batches, epochs=2, verbose=0)  # a list is re-iterated every epoch
    assert len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 8

    def forever():
        while True:
            for batch in batches:
                yield batch

    model.fit(forever(), steps_per_epoch=3, epochs=2, verbose=0)
    assert model.optimizer.iterations == 14
    # Arrays with steps_per_epoch: each epoch continues where the previous one stopped, like Keras.
    seen = []
    model.fit(x, y, batch_size=8, steps_per_epoch=3, epochs=2, shuffle=False, verbose=0,
              callbacks=[callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs["loss"]))])
    assert model.optimizer.iterations == 20 and len(seen) == 6
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(iter(batches), epochs=3, verbose=0)  # a one-shot generator lasts one epoch
    assert len(history.history["loss"]) == 1
    assert model.optimizer.iterations == 24


def test_trainable_false_freezes_a_feature_extractor():
    inputs = og.Input(shape=(4,))
    base = layers.Dense(5, activation="relu", name="base")
    head = layers.Dense(2, name="head")
    model = og.Model(inputs, head(base(inputs)))
    base.trainable = False
    x, y = _data(24, 4, 2)
    frozen, head_before = base.get_weights(), head.get_weights()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for before, after in zip(frozen, base.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(head_before[0], head.get_weights()[0])
    assert sorted(model._engine.frozen) == ["base/bias", "base/kernel"]


def test_batch_normalization_updates_moving_statistics_with_keras_momentum():
    inputs = og.Input(shape=(3,))
    bn = layers.BatchNormalization(momentum=0.9)
    model = og.Model(inputs, bn(inputs))
    x = np.random.default_rng(3).standard_normal((16, 3)).astype(np.float32) * 2 + 1
    model.compile(optimizer=optimizers.SGD(0.0), loss="mse")
    model.train_on_batch(x, np.zeros_like(x))
    gamma, beta, mean, var = bn.get_weights()
    np.testing.assert_allclose(mean, 0.1 * x.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.var(axis=0), atol=1e-5)
    # Inference uses the moving statistics.
    np.testing.assert_allclose(model.predict(x, verbose=0), (x - mean) / np.sqrt(var + 1e-3), atol=1e-5)


def test_a_model_without_trainable_weights_evaluates_and_updates_moving_statistics():
    inputs = og.Input(shape=(2,))
    bn = layers.BatchNormalization(center=False, scale=False, momentum=0.5)
    model = og.Model(inputs, bn(inputs))
    model.compile(loss="mse")
    x = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)
    assert model.evaluate(x, np.zeros_like(x), verbose=0) == pytest.approx(float(np.mean(x ** 2 / 1.001)), rel=1e-4)
    with pytest.warns(UserWarning, match="no trainable weights"):
        model.fit(x, np.zeros_like(x), epochs=1, verbose=0)
    np.testing.assert_allclose(bn.get_weights()[0], 0.5 * x.mean(axis=0), atol=1e-6)


def test_frozen_batch_normalization_keeps_its_statistics():
    inputs = og.Input(shape=(3,))
    bn = layers.BatchNormalization()
    model = og.Model(inputs, layers.Dense(2)(bn(inputs)))
    bn.trainable = False
    x, y = _data(16, 3, 2)
    before = bn.get_weights()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x * 3 + 2, y, epochs=2, verbose=0)
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_dropout_is_active_in_fit_only_and_reproducible_with_a_seed():
    def run():
        og.utils.clear_session()
        og.utils.set_random_seed(7)
        inputs = og.Input(shape=(6,))
        model = og.Model(inputs, layers.Dense(2)(layers.Dropout(0.5)(layers.Dense(8)(inputs))))
        model.compile(optimizer="adam", loss="mse")
        x, y = _data(32, 6, 2)
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        return model, x

    model, x = run()
    weights = model.get_weights()
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    _, preds = model._engine.train_step([x, np.zeros((32, 2), np.float32), np.ones(32, np.float32)])
    assert not np.allclose(preds[0], model.predict(x, verbose=0))
    again, _ = run()
    for a, b in zip(weights, again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_inference_file_has_no_training_ops_after_fit():
    inputs = og.Input(shape=(6, 6, 1))
    x = layers.Conv2D(2, 3, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Dropout(0.3)(layers.GlobalMaxPooling2D()(x))
    model = og.Model(inputs, layers.Dense(2)(x))
    model.compile(optimizer="adam", loss="mse")
    data = np.random.default_rng(4).standard_normal((8, 6, 6, 1)).astype(np.float32)
    model.fit(data, np.zeros((8, 2), np.float32), epochs=1, verbose=0)
    proto = model.to_onnx()
    onnx.checker.check_model(proto, full_check=True)
    ops = {(n.domain, n.op_type) for n in proto.graph.node}
    assert all(domain in ("", "ai.onnx") for domain, _ in ops)
    assert not {op for _, op in ops} & {"Dropout", "InPlaceAccumulatorV2", "Gradient"}
    assert proto.ir_version <= 10 and [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [21]


def test_compile_errors_teach():
    model = _linear()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(*_data(8), verbose=0)
    model.compile(loss="mse", loss_weights={"a": 1.0, "b": 2.0})
    with pytest.raises(ValueError, match="`loss_weights` must match the number of losses"):  # at fit, as Keras
        model.fit(*_data(8), verbose=0)
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(*_data(8), sample_weight=np.ones(3), verbose=0)


@pytest.mark.slow
def test_fit_on_digits_reaches_95_percent():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.25, random_state=0)
    inputs = og.Input(shape=(64,))
    h = layers.Dense(64, activation="relu")(inputs)
    h = layers.Dense(64, activation="relu")(h)
    model = og.Model(inputs, layers.Dense(10)(h), name="mnist_model")
    model.compile(loss=losses.SparseCategoricalCrossentropy(from_logits=True), optimizer=optimizers.RMSprop(),
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=25, validation_split=0.1, verbose=0)
    assert history.history["val_accuracy"][-1] > 0.9
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"digits test accuracy after 25 epochs: {accuracy:.4f}")
    assert accuracy >= 0.95
    assert (model.predict(x_test, verbose=0).argmax(axis=1) == y_test).mean() == pytest.approx(accuracy)


def test_callbacks_receive_the_fit_parameters():
    seen = {}
    model = _linear()
    model.compile(loss="mse")
    model.fit(*_data(20), batch_size=5, epochs=2, verbose=0,
              callbacks=[callbacks.LambdaCallback(on_train_begin=lambda logs: seen.update(model=True))])
    assert seen == {"model": True}


def test_sequential_and_subclassed_models_train_like_functional_ones():
    x, y = _data(32, 4, 2)

    class MLP(og.Model):
        def __init__(self):
            super().__init__()
            self.d1, self.d2 = layers.Dense(8, activation="relu"), layers.Dense(2)

        def call(self, inputs, training=None):
            return self.d2(self.d1(inputs))

    subclassed = MLP()
    lazy = og.Sequential([layers.Dense(8, activation="relu"), layers.Dense(2)])
    inputs = og.Input(shape=(4,))
    functional = og.Model(inputs, layers.Dense(2)(layers.Dense(8, activation="relu")(inputs)))
    for model in (subclassed, lazy):  # not built yet: fit builds them from the first batch, like Keras
        model.compile(optimizer=optimizers.SGD(0.05), loss="mse")
        model.fit(x[:2], y[:2], epochs=1, verbose=0)
        model.set_weights(functional.get_weights())
    functional.compile(optimizer=optimizers.SGD(0.05), loss="mse")
    results = [m.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0).history["loss"]
               for m in (functional, subclassed, lazy)]
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5)
    np.testing.assert_allclose(results[2], results[0], rtol=1e-5)


@pytest.mark.parametrize("loss,targets", [
    (losses.BinaryCrossentropy(from_logits=True), np.array([[0.0], [1.0]], np.float32)),
    (losses.SparseCategoricalCrossentropy(from_logits=True), np.array([1, 0])),
    (losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), np.eye(2, dtype=np.float32)[[1, 0]]),
])
def test_cross_entropy_gradients_stay_finite_at_extreme_logits(loss, targets):
    inputs = og.Input(shape=(1,))
    units = 1 if targets.ndim == 2 and targets.shape[1] == 1 else 2
    dense = layers.Dense(units)
    model = og.Model(inputs, dense(inputs))
    dense.set_weights([np.full((1, units), 1e4, np.float32) * np.array([1, -1][:units], np.float32),
                       np.zeros(units, np.float32)])
    model.compile(optimizer=optimizers.SGD(1e-3), loss=loss)
    x = np.array([[1.0], [-1.0]], np.float32)  # logits of +-1e4, half of them badly wrong
    value = model.train_on_batch(x, targets)
    assert np.isfinite(value) and value > 100
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_each_fit_call_draws_a_new_shuffle():
    model = _linear()
    model.compile(optimizer=optimizers.SGD(0.0), loss="mse")
    x, y = _data(32)
    orders = []
    record = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: orders.append(round(logs["loss"], 5)))
    for _ in range(2):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[record])
    assert orders[:3] != orders[4:7]  # running losses of differently ordered batches
    assert orders[3] == orders[7]  # same data, same epoch mean


def test_seeded_dropout_draws_the_same_masks_in_every_run():
    def run(global_seed):
        og.utils.set_random_seed(global_seed)  # different shuffles/initializers are overridden below
        inputs = og.Input(shape=(6,))
        model = og.Model(inputs, layers.Dense(2, kernel_initializer="ones")(layers.Dropout(0.5, seed=42)(inputs)))
        model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
        x, y = _data(16, 6, 2)
        model.fit(x, y, epochs=2, batch_size=4, verbose=0)
        return model.get_weights()

    for a, b in zip(run(1), run(2)):
        np.testing.assert_array_equal(a, b)


def test_none_for_a_required_input_in_fit_names_the_input():
    x = og.Input(shape=(3,), name="x")
    model = og.Model(x, layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="Input 'x' received None, but it is not optional"):
        model.fit([None], np.ones((4, 1)), epochs=1, verbose=0)
