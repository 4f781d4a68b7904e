"""Issue 11's "Done when": the guide's models train exactly as Keras 3 trains them.

For the MNIST MLP, the toy ResNet, the autoencoder, the ticket router (the guide's four
functional models, at small input sizes) and a Bidirectional-LSTM classifier, an onnxgraph
model and its Keras 3 twin (torch backend) start from the same weights (onnxgraph's, copied
with set_weights), compile the same loss and optimizer and take 4 `train_on_batch` steps on
the same batches (no shuffling; the toy ResNet's Dropout has rate 0 so no mask is drawn).
The 4 losses and the final weights must equal Keras's to 1e-4 relative, on every training
engine available here ("onnx" always; "ort-training" where onnxruntime-training is
installed). Every optimizer (and a schedule and each clipping mode) runs on the MLP and the
toy ResNet; the other models run a few.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import onnxgraph as og
from tests.trainer.gradcheck import engine_kinds

STEPS = 4
RTOL = 1e-4


def keras():
    import keras as k

    return k


# -- the models, written once for both libraries (`K` is onnxgraph or keras) ---------------------------------
def mlp(K):
    inputs = K.Input(shape=(784,))
    x = K.layers.Dense(64, activation="relu")(inputs)
    x = K.layers.Dense(64, activation="relu")(x)
    return K.Model(inputs, K.layers.Dense(10)(x), name="mnist_model")


def toy_resnet(K, size=16):
    layers = K.layers
    inputs = K.Input(shape=(size, size, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1 = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2 = layers.add([x, block_1])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3 = layers.add([x, block_2])
    x = layers.Conv2D(64, 3, activation="relu")(block_3)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.0)(x)  # the guide's 0.5 would draw different masks in the two libraries
    return K.Model(inputs, layers.Dense(10)(x), name="toy_resnet")


def autoencoder(K):
    layers = K.layers
    inputs = K.Input(shape=(28, 28, 1), name="img")
    x = layers.Conv2D(16, 3, activation="relu")(inputs)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Reshape((4, 4, 1))(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    return K.Model(inputs, layers.Conv2DTranspose(1, 3, activation="relu")(x), name="autoencoder")


WORDS = 500


def ticket_router(K):
    layers = K.layers
    title = K.Input(shape=(None,), name="title", dtype="int64")
    body = K.Input(shape=(None,), name="body", dtype="int64")
    tags = K.Input(shape=(12,), name="tags")
    t = layers.LSTM(128)(layers.Embedding(WORDS, 64)(title))
    b = layers.LSTM(32)(layers.Embedding(WORDS, 64)(body))
    x = layers.concatenate([t, b, tags])
    return K.Model([title, body, tags], {"priority": layers.Dense(1, name="priority")(x),
                                         "department": layers.Dense(4, name="department")(x)})


def bilstm(K):
    inputs = K.Input(shape=(None,), dtype="int64")
    x = K.layers.Embedding(WORDS, 16)(inputs)
    x = K.layers.Bidirectional(K.layers.LSTM(16))(x)
    return K.Model(inputs, K.layers.Dense(3)(x), name="bilstm")


# The toy ResNet's MaxPooling2D(3) routes each window's gradient to its largest input. With data seed 0
# one window holds two values 5e-8 apart (0.24215296 vs 0.24215300): float32 rounding in Keras's
# conv (torch, channels-last) and in onnxruntime's picks a different one, and the first conv's
# gradient differs by 1e-2 (onnxgraph agrees with a float64 torch reference to 5e-7). Seed 1 has
# no such near-tie in the 4 steps.
DATA_SEED = {"toy_resnet": 1}


def _batches(name):
    """STEPS batches of (x, y) for model `name`, fixed by the seed."""
    rng = np.random.default_rng(DATA_SEED.get(name, 0))
    out = []
    for _ in range(STEPS):
        if name == "mlp":
            out.append((rng.random((16, 784), dtype=np.float32), rng.integers(0, 10, 16)))
        elif name == "toy_resnet":
            out.append((rng.random((4, 16, 16, 3), dtype=np.float32), np.eye(10, dtype=np.float32)[rng.integers(0, 10, 4)]))
        elif name == "autoencoder":
            images = rng.random((2, 28, 28, 1), dtype=np.float32)
            out.append((images, images))
        elif name == "ticket_router":
            x = {"title": rng.integers(0, WORDS, (4, 6)), "body": rng.integers(0, WORDS, (4, 9)),
                 "tags": rng.integers(0, 2, (4, 12)).astype(np.float32)}
            y = {"priority": rng.random((4, 1), dtype=np.float32),
                 "department": rng.integers(0, 2, (4, 4)).astype(np.float32)}
            out.append((x, y))
        else:
            out.append((rng.integers(0, WORDS, (8, 7)), rng.integers(0, 3, 8)))
    return out


def _loss(name, K):
    """(loss, loss_weights) as the guide compiles each model."""
    if name in ("mlp", "bilstm"):
        return K.losses.SparseCategoricalCrossentropy(from_logits=True), None
    if name == "toy_resnet":
        return K.losses.CategoricalCrossentropy(from_logits=True), None
    if name == "autoencoder":
        return K.losses.MeanSquaredError(), None
    return ({"priority": K.losses.BinaryCrossentropy(from_logits=True),
             "department": K.losses.CategoricalCrossentropy(from_logits=True)},
            {"priority": 1.0, "department": 0.2})


MODELS = {"mlp": mlp, "toy_resnet": toy_resnet, "autoencoder": autoencoder, "ticket_router": ticket_router,
          "bilstm": bilstm}

# -- the optimizer grid: Keras 3's constructor arguments, the same for both libraries ------------------------
OPTIMIZERS = {
    "sgd": lambda o: o.SGD(0.1),
    "sgd-momentum": lambda o: o.SGD(0.05, momentum=0.9),
    "sgd-nesterov": lambda o: o.SGD(0.05, momentum=0.9, nesterov=True),
    # Adam's and RMSprop's steps are about lr for every weight whatever its gradient's size (step 1
    # of Adam is lr * g / (|g| + 3e-6)), so float32 noise in a tiny gradient (|g| ~ 1e-6 against a
    # max of 1) moves that weight by a fraction of lr. On the toy ResNet's conv kernels Adam(0.01)
    # ends 2e-4 (relative) from Keras after 1 step and 2e-3 after 4 (biases 2e-7; our two engines
    # agree to 1e-4); Adam(0.002) 3e-5 after 4; centered RMSprop(0.005) 9e-5, (0.002) 3e-6. Against
    # Keras in float64 (dtype policy "float64") after 4 Adam(0.01) steps: Keras float32 is 1.7e-3
    # away, onnxgraph 1.4e-3; the gradients themselves are as close to float64 as Keras's (1e-8).
    "adam": lambda o: o.Adam(0.002),
    "amsgrad": lambda o: o.Adam(0.002, amsgrad=True),
    "adamw": lambda o: o.AdamW(0.002, weight_decay=0.1),
    "rmsprop": lambda o: o.RMSprop(0.002),
    "rmsprop-centered": lambda o: o.RMSprop(0.002, momentum=0.5, centered=True),
    "adagrad": lambda o: o.Adagrad(0.1),
    "schedule": lambda o: o.SGD(o.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5), momentum=0.5),
    "clipnorm": lambda o: o.SGD(0.1, clipnorm=0.05),
    "clipvalue": lambda o: o.RMSprop(0.002, clipvalue=1e-3),
    "global_clipnorm": lambda o: o.Adam(0.002, global_clipnorm=0.05),
}
GRID = {"mlp": list(OPTIMIZERS), "toy_resnet": list(OPTIMIZERS),
        "autoencoder": ["sgd-momentum", "adam", "rmsprop"],
        "ticket_router": ["rmsprop", "adamw", "global_clipnorm"],
        "bilstm": ["adam", "sgd-nesterov", "adagrad"]}
SLOW = {"toy_resnet", "autoencoder", "ticket_router"}  # conv/LSTM models: every case above a second
FAST_RESNET = {"sgd-nesterov", "adam", "rmsprop-centered"}  # a few stay in the quick run


def _cases():
    cases = []
    for name, opts in GRID.items():
        for opt in opts:
            slow = name in SLOW and not (name == "toy_resnet" and opt in FAST_RESNET)
            for engine in engine_kinds():
                marks = [pytest.mark.slow] if slow else []
                cases.append(pytest.param(name, opt, engine, marks=marks, id=f"{name}-{opt}-{engine}"))
    return cases


def _train(model, module, name, opt, **compile_kw):
    """(losses of the STEPS train_on_batch calls, final weights) for a built model."""
    loss, loss_weights = _loss(name, module)
    model.compile(optimizer=OPTIMIZERS[opt](module.optimizers), loss=loss, loss_weights=loss_weights, **compile_kw)
    losses = [float(model.train_on_batch(x, y, return_dict=True)["loss"]) for x, y in _batches(name)]
    return np.array(losses), [np.asarray(w) for w in model.get_weights()]


def _initial_weights(name):
    og.utils.clear_session()
    og.utils.set_random_seed(7)
    return MODELS[name](og).get_weights()


@functools.lru_cache(maxsize=None)
def _keras_run(name, opt):
    """Keras's run, computed once per (model, optimizer) and shared by the engines."""
    k = keras()
    k.utils.set_random_seed(0)
    model = MODELS[name](k)
    weights = _initial_weights(name)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in weights], "weight order differs"
    model.set_weights(weights)
    return _train(model, k, name, opt)


def _relative(got, want):
    """max |got - want| / max |want|: the difference relative to the tensor's scale."""
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-12))


@pytest.mark.parametrize("name,opt,engine", _cases())
def test_training_steps_equal_keras(name, opt, engine):
    want_losses, want_weights = _keras_run(name, opt)
    og.utils.clear_session()
    og.utils.set_random_seed(7)
    model = MODELS[name](og)
    initial = model.get_weights()
    got_losses, got_weights = _train(model, og, name, opt, engine=engine)
    assert model._engine.kind == engine
    np.testing.assert_allclose(got_losses, want_losses, rtol=RTOL, err_msg=f"{name}/{opt}/{engine}: losses")
    assert len(got_weights) == len(want_weights)
    moved = 0.0
    for i, (got, want, start) in enumerate(zip(got_weights, want_weights, initial)):
        assert _relative(got, want) <= RTOL, (
            f"{name}/{opt}/{engine}: weight {i} {model.weights[i].path} differs from Keras by "
            f"{_relative(got, want):.3g} of its scale")
        moved = max(moved, _relative(want, start))
    assert moved > 10 * RTOL, "the optimizer barely moved the weights: the comparison would prove nothing"
