"""Writes Keras HDF5 files of a MobileNetV2 backbone (alpha 0.35, 96x96, random weights) in the
three layouts Pinpoint reads, and the backbone's output on a fixed input, for KerasWeightsTests.

- mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5: tf_keras `save_weights`,
  the layout of the files Keras's applications module downloads;
- classifier_tf_keras.h5 and classifier_keras3.h5: `model.save` of a classifier whose backbone is
  a nested functional model (`mobilenetv2_0.35_96`), by tf_keras (Keras 2) and by Keras 3;
- classifier.weights.h5: Keras 3's `save_weights` of that classifier;
- dense_only.h5: tf_keras `save_weights` of a model without a MobileNetV2 in it.

All four hold the same backbone weights (random, with random BatchNormalization statistics so
that inference-mode normalization matters). backbone_output.json holds Keras 3's backbone output,
in inference mode, for the input x[i] = ((i * 7919) % 2000) / 1000 - 1 over the [1, 96, 96, 3]
tensor in row-major order.

    python -m venv /work/venv && /work/venv/bin/pip install tensorflow-cpu tf-keras h5py numpy
    /work/venv/bin/python Tests/PinpointModelsTests/Fixtures/keras_h5/make_keras_h5_fixtures.py
"""
import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import numpy as np
import tf_keras

HERE = pathlib.Path(__file__).parent
ALPHA, SIZE = 0.35, 96


def randomized(model, rng):
    """Random weights, BatchNormalization statistics included (variances positive)."""
    weights = []
    for w in model.weights:
        name = w.name if "/" not in w.name else w.name.split("/")[-1]
        shape = tuple(w.shape)
        if "moving_variance" in name:
            weights.append(rng.uniform(0.5, 1.5, shape))
        elif "moving_mean" in name or "beta" in name:
            weights.append(rng.normal(0, 0.1, shape))
        elif "gamma" in name:
            weights.append(rng.uniform(0.8, 1.2, shape))
        else:
            fan_in = np.prod(shape[:-1]) if len(shape) > 1 else 1
            if "depthwise" in w.path if hasattr(w, "path") else "depthwise" in w.name:
                fan_in = shape[0] * shape[1]
            weights.append(rng.normal(0, 1 / np.sqrt(fan_in), shape))
    return [x.astype(np.float32) for x in weights]


def main():
    rng = np.random.default_rng(35)
    backbone2 = tf_keras.applications.MobileNetV2(weights=None, alpha=ALPHA, input_shape=(SIZE, SIZE, 3), include_top=False)
    backbone2.set_weights(randomized(backbone2, rng))
    backbone2.save_weights(HERE / f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{ALPHA}_{SIZE}_no_top.h5")

    inputs = tf_keras.Input((SIZE, SIZE, 3))
    pooled = tf_keras.layers.GlobalAveragePooling2D()(backbone2(inputs))
    tf_keras.Model(inputs, tf_keras.layers.Dense(2, activation="softmax")(pooled)).save(HERE / "classifier_tf_keras.h5")

    backbone3 = keras.applications.MobileNetV2(weights=None, alpha=ALPHA, input_shape=(SIZE, SIZE, 3), include_top=False)
    backbone3.set_weights(backbone2.get_weights())
    inputs = keras.Input((SIZE, SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(backbone3(inputs))
    classifier = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(pooled))
    classifier.save(HERE / "classifier_keras3.h5")
    classifier.save_weights(HERE / "classifier.weights.h5")

    dense = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(2)])
    dense.save_weights(HERE / "dense_only.h5")

    x = (((np.arange(SIZE * SIZE * 3, dtype=np.int64) * 7919) % 2000) / 1000 - 1).astype(np.float32).reshape(1, SIZE, SIZE, 3)
    out = np.asarray(backbone3(x, training=False))
    assert np.allclose(out, backbone2(x, training=False).numpy(), atol=1e-5), "tf_keras and Keras 3 agree"
    (HERE / "backbone_output.json").write_text(json.dumps({
        "source": f"keras {keras.__version__}, tf_keras {tf_keras.__version__}; {pathlib.Path(__file__).name}",
        "alpha": ALPHA, "image_size": SIZE, "shape": list(out.shape),
        "output": [float(f"{v:.7g}") for v in out.reshape(-1)],
    }) + "\n")
    print("wrote", sorted(p.name for p in HERE.iterdir() if p.suffix in (".h5", ".json")))


if __name__ == "__main__":
    main()
