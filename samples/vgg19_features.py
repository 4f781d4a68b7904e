"""Extract and reuse nodes: every layer's activation of VGG19 as one feature-extraction model.

Weights: random unless you pass a local Keras weights file (e.g. the ImageNet
vgg19_weights_tf_dim_ordering_tf_kernels.h5 from keras.applications); nothing is downloaded.
Writes vgg19_features.onnx (the extractor shares VGG19's weights).

Run:  python samples/vgg19_features.py [--weights path.h5] [--image-size 224] [--no-top]
"""

import argparse

import numpy as np

import onnxgraph as keras


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="local Keras weights file (default: random weights)")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--no-top", action="store_true", help="without the classifier (any image size)")
    args = parser.parse_args(argv)

    include_top = not args.no_top
    size = 224 if include_top else args.image_size
    vgg19 = keras.applications.VGG19(weights=args.weights, include_top=include_top, input_shape=(size, size, 3))

    features_list = [layer.output for layer in vgg19.layers]
    feat_extraction_model = keras.Model(inputs=vgg19.input, outputs=features_list)

    img = np.random.random((1, size, size, 3)).astype("float32")
    extracted_features = feat_extraction_model(img)
    for layer, features in zip(vgg19.layers, extracted_features):
        print(f"{layer.name:>16}: {tuple(features.shape)}")
    # The last feature map is exactly what VGG19 itself computes.
    np.testing.assert_allclose(extracted_features[-1], vgg19.predict(img, verbose=0), rtol=1e-4, atol=1e-5)

    # A small extractor for style transfer: a few intermediate layers, only the weights they need.
    style = keras.Model(vgg19.input, [vgg19.get_layer(n).output for n in ("block1_conv1", "block2_conv1")])
    style.save("vgg19_features.onnx")
    print(f"wrote vgg19_features.onnx ({style.count_params():,} of VGG19's {vgg19.count_params():,} weights)")


if __name__ == "__main__":
    main()
