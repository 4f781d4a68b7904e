"""The benchmarked architectures, written three times: onnxgraph, Keras 3 and PyTorch.

Each builder returns a model with the same layers, parameter counts and input shapes as
the guide's examples, so build, inference and training numbers compare like with like.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CASES", "sample_inputs", "keras_like", "torch_model"]

CASES = ["mlp", "toy_resnet", "autoencoder", "ticket_router", "dense_stack_1000"]


def sample_inputs(case: str, batch: int, seed: int = 0):
    """Inputs as a list of numpy arrays in the models' input order (NHWC for images)."""
    rng = np.random.default_rng(seed)
    if case == "mlp":
        return [rng.random((batch, 784), dtype=np.float32)]
    if case == "toy_resnet":
        return [rng.random((batch, 32, 32, 3), dtype=np.float32)]
    if case == "autoencoder":
        return [rng.random((batch, 28, 28, 1), dtype=np.float32)]
    if case == "ticket_router":
        return [rng.integers(0, 10000, (batch, 10)).astype(np.int64),
                rng.integers(0, 10000, (batch, 100)).astype(np.int64),
                rng.integers(0, 2, (batch, 12)).astype(np.float32)]
    if case == "dense_stack_1000":
        return [rng.random((batch, 32), dtype=np.float32)]
    raise ValueError(case)


def keras_like(lib, case: str):
    """Build `case` with a Keras-API library: onnxgraph or keras."""
    layers = lib.layers
    if case == "mlp":
        inputs = lib.Input(shape=(784,))
        x = layers.Dense(64, activation="relu")(inputs)
        x = layers.Dense(64, activation="relu")(x)
        return lib.Model(inputs, layers.Dense(10)(x), name="mnist_model")
    if case == "toy_resnet":
        inputs = lib.Input(shape=(32, 32, 3), name="img")
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
        x = layers.Dropout(0.5)(x)
        return lib.Model(inputs, layers.Dense(10)(x), name="toy_resnet")
    if case == "autoencoder":
        inputs = lib.Input(shape=(28, 28, 1), name="img")
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
        return lib.Model(inputs, layers.Conv2DTranspose(1, 3, activation="relu")(x), name="autoencoder")
    if case == "ticket_router":
        title = lib.Input(shape=(None,), name="title", dtype="int64")
        body = lib.Input(shape=(None,), name="body", dtype="int64")
        tags = lib.Input(shape=(12,), name="tags")
        t = layers.LSTM(128)(layers.Embedding(10000, 64)(title))
        b = layers.LSTM(32)(layers.Embedding(10000, 64)(body))
        x = layers.concatenate([t, b, tags])
        return lib.Model([title, body, tags], [layers.Dense(1, name="priority")(x),
                                               layers.Dense(4, name="department")(x)], name="ticket_router")
    if case == "dense_stack_1000":
        inputs = lib.Input(shape=(32,))
        x = inputs
        for _ in range(1000):
            x = layers.Dense(32, activation="relu")(x)
        return lib.Model(inputs, x, name="dense_stack")
    raise ValueError(case)


def torch_model(case: str):
    """The same architecture as a torch.nn.Module taking NHWC images like the Keras models."""
    import torch
    from torch import nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

        def forward(self, x):
            return self.net(x)

    class ToyResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(3, 32, 3), nn.Conv2d(32, 64, 3)
            self.pool = nn.MaxPool2d(3)
            self.b = nn.ModuleList([nn.Conv2d(64, 64, 3, padding=1) for _ in range(4)])
            self.c3 = nn.Conv2d(64, 64, 3)
            self.fc1, self.drop, self.fc2 = nn.Linear(64, 256), nn.Dropout(0.5), nn.Linear(256, 10)

        def forward(self, x):
            x = x.permute(0, 3, 1, 2)
            x = self.pool(torch.relu(self.c2(torch.relu(self.c1(x)))))
            x = x + torch.relu(self.b[1](torch.relu(self.b[0](x))))
            x = x + torch.relu(self.b[3](torch.relu(self.b[2](x))))
            x = torch.relu(self.c3(x)).mean(dim=(2, 3))
            return self.fc2(self.drop(torch.relu(self.fc1(x))))

    class AutoEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.ModuleList([nn.Conv2d(1, 16, 3), nn.Conv2d(16, 32, 3), nn.Conv2d(32, 32, 3), nn.Conv2d(32, 16, 3)])
            self.dec = nn.ModuleList([nn.ConvTranspose2d(1, 16, 3), nn.ConvTranspose2d(16, 32, 3),
                                      nn.ConvTranspose2d(32, 16, 3), nn.ConvTranspose2d(16, 1, 3)])

        def forward(self, x):
            x = x.permute(0, 3, 1, 2)
            x = torch.relu(self.enc[1](torch.relu(self.enc[0](x))))
            x = nn.functional.max_pool2d(x, 3)
            x = torch.relu(self.enc[3](torch.relu(self.enc[2](x))))
            x = x.amax(dim=(2, 3)).reshape(-1, 4, 4, 1).permute(0, 3, 1, 2)
            x = torch.relu(self.dec[1](torch.relu(self.dec[0](x))))
            x = nn.functional.interpolate(x, scale_factor=3, mode="nearest")
            x = torch.relu(self.dec[3](torch.relu(self.dec[2](x))))
            return x.permute(0, 2, 3, 1)

    class TicketRouter(nn.Module):
        def __init__(self):
            super().__init__()
            self.e1, self.e2 = nn.Embedding(10000, 64), nn.Embedding(10000, 64)
            self.l1, self.l2 = nn.LSTM(64, 128, batch_first=True), nn.LSTM(64, 32, batch_first=True)
            self.priority, self.department = nn.Linear(128 + 32 + 12, 1), nn.Linear(128 + 32 + 12, 4)

        def forward(self, title, body, tags):
            t = self.l1(self.e1(title))[1][0][-1]
            b = self.l2(self.e2(body))[1][0][-1]
            x = torch.cat([t, b, tags], dim=-1)
            return self.priority(x), self.department(x)

    class DenseStack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(32, 32) for _ in range(1000)])

        def forward(self, x):
            for layer in self.layers:
                x = torch.relu(layer(x))
            return x

    return {"mlp": MLP, "toy_resnet": ToyResNet, "autoencoder": AutoEncoder,
            "ticket_router": TicketRouter, "dense_stack_1000": DenseStack}[case]()
