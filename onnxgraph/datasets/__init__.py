"""Keras's datasets, read from Keras's own cache files (`~/.keras/datasets`, or `$KERAS_HOME`).

    (x_train, y_train), (x_test, y_test) = onnxgraph.datasets.mnist.load_data()

Same loaders, arguments and return values as `keras.datasets`. Nothing is downloaded: a
missing file raises an error naming the file, the folder to put it in and the URL Keras
fetches it from. Pickled files (CIFAR batches, imdb/reuters ragged arrays) are read with an
unpickler that admits numpy arrays only.
"""

from onnxgraph.datasets import (boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist,  # noqa: F401
                                reuters)

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing"]
