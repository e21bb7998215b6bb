"""MobileNetV2 two-head parity fixtures from Keras 3.

    python3 -m venv VENV && VENV/bin/pip install tensorflow-cpu numpy
    VENV/bin/python Tests/PinpointModelsTests/Fixtures/make_mobilenet_fixtures.py

keras.applications.MobileNetV2(weights=None, alpha=0.35, input 96x96, include_top=False), global
average pooling and the tutorial's two heads (Dense 256 - BN - ReLU - Dense 64 - BN - ReLU, then
Dense 2 softmax and Dense 4 sigmoid, concatenated). Weights and the input batch come from the
formula Pinpoint's tests compute too (see make_keras_fixtures.py), so none are stored:
    value[i] = float32(offset + scale * (((i * 2654435761 + k * 40503) mod 2^32) / 2^32 - 0.5)),
the input batch of 8 with k = 1000 and scale 2 (values in [-1, 1), as preprocess_input gives),
then image i multiplied by 0.3 + 0.1 i and shifted by 0.1 i - 0.35. Recorded, from Keras in
float64: layer and weight names, the backbone and model outputs in inference and training mode,
the loss (sparse cross-entropy on the class + 5 x MSE on the box) and its gradients in training
mode; and, for each, how far Keras's own float32 run is from that float64 reference.
Tensors over 512 values are stored as 512 evenly spaced entries (gradients: 128) plus their sum and absolute sum.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "PinpointLayersTests", "Fixtures"))
SAMPLES = 512


def formula(count, k, scale, offset):
    i = np.arange(count, dtype=np.uint64)
    h = ((i * np.uint64(2654435761) + np.uint64(k * 40503)) % np.uint64(2 ** 32)).astype(np.float64) / 2 ** 32 - 0.5
    return (offset + scale * h).astype(np.float32)


def summary(x, samples=SAMPLES):
    flat = np.asarray(x, dtype=np.float32).reshape(-1)
    if flat.size <= samples:
        return {"shape": list(np.shape(x)), "data": [float(v) for v in flat]}
    idx = np.linspace(0, flat.size - 1, samples).astype(np.int64)
    return {"shape": list(np.shape(x)), "indices": [int(i) for i in idx], "values": [float(flat[i]) for i in idx],
            "sum": float(flat.astype(np.float64).sum()), "abs_sum": float(np.abs(flat.astype(np.float64)).sum())}


def build(dtype):
    """The model in `dtype`, with the formula's weights; returns (model, backbone, weight specs)."""
    keras.backend.clear_session()
    keras.config.set_floatx(dtype)
    base = keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(96, 96, 3), include_top=False)
    features = L.GlobalAveragePooling2D()(base.output)

    def head(units, activation):
        h = features
        for u in (256, 64):
            h = L.ReLU()(L.BatchNormalization()(L.Dense(u)(h)))
        return L.Dense(units, activation=activation)(h)

    model = keras.Model(base.input, L.Concatenate()([head(2, "softmax"), head(4, "sigmoid")]))
    specs = []
    for k, w in enumerate(model.weights):
        name, shape = w.path.split("/")[-1], tuple(w.shape)
        if name == "kernel":
            scale, offset = 2 * (3.0 / int(np.prod(shape[:-1]))) ** 0.5, 0.0
        elif name in ("bias", "beta", "moving_mean"):
            scale, offset = 0.2, 0.0
        else:  # gamma, moving_variance
            scale, offset = 0.4, 1.0
        w.assign(formula(int(np.prod(shape)), k, scale, offset).reshape(shape).astype(dtype))
        specs.append({"name": "/".join(w.path.split("/")[-2:]).replace("/", "."), "shape": list(shape), "scale": scale, "offset": offset})
    return model, keras.Model(base.input, base.output), [l.name for l in base.layers[1:]], specs


# Each image gets its own contrast and brightness: with statistically identical images the heads'
# BatchNormalization (over the batch) would divide by near-zero variances in training mode.
x32 = formula(8 * 96 * 96 * 3, 1000, 2.0, 0.0).reshape(8, 96, 96, 3)
x32 = (x32 * np.array([0.3 + 0.1 * i for i in range(8)], dtype=np.float32)[:, None, None, None]
       + np.array([0.1 * i - 0.35 for i in range(8)], dtype=np.float32)[:, None, None, None]).astype(np.float32)
y = np.array([[i % 2, 0.3 + 0.05 * i, 0.6 - 0.04 * i, 0.2 + 0.03 * i, 0.5 - 0.02 * i] for i in range(8)], dtype=np.float32)


def run(dtype):
    model, backbone, layers, specs = build(dtype)
    x, yt = x32.astype(dtype), tf.constant(y.astype(dtype))
    sce = keras.losses.SparseCategoricalCrossentropy()
    result = {"layers": layers, "specs": specs, "backbone_inference": backbone(x, training=False).numpy(),
              "output_inference": model(x, training=False).numpy()}
    before = [w.numpy().copy() for w in model.weights]
    with tf.GradientTape() as tape:
        p = model(x, training=True)
        loss = sce(yt[:, 0], p[:, :2]) + 5.0 * tf.reduce_mean(tf.square(yt[:, 1:] - p[:, 2:]))
    result["output_training"] = p.numpy()
    result["loss_training"] = float(loss)
    result["gradients_training"] = [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]
    result["trainable"] = ["/".join(w.path.split("/")[-2:]).replace("/", ".") for w in model.trainable_weights]
    for w, b in zip(model.weights, before):
        w.assign(b)
    result["backbone_training"] = backbone(x, training=True).numpy()
    return result


# The reference is Keras in float64. Keras's own float32 run is compared with it the way Pinpoint's
# tests compare Pinpoint (the same sampled entries, relative to the tensor's largest magnitude or a
# floor), and that error is stored: in training mode, 52 layers of batch statistics amplify float32
# rounding far past 1e-3, so "as close as Keras itself gets" is the bar the tests apply there.
ref, k32 = run("float64"), run("float32")


def keras_error(a32, a64, samples, floor=0.0):
    a32, a64 = np.asarray(a32, np.float64).reshape(-1), np.asarray(a64, np.float64).reshape(-1)
    idx = np.arange(a64.size) if a64.size <= samples else np.linspace(0, a64.size - 1, samples).astype(np.int64)
    return float(np.abs(a32[idx] - a64[idx]).max() / (max(np.abs(a64[idx]).max(), floor) + 1e-7))


gradient_floor = 1e-3 * max(np.abs(g).max() for g in ref["gradients_training"])
out = {"generator": f"make_mobilenet_fixtures.py, keras {keras.__version__}, tensorflow {tf.__version__}",
       "layers": ref["layers"], "weights": ref["specs"], "target": summary(y), "trainable": ref["trainable"],
       "loss_training": ref["loss_training"], "keras_float32_loss": k32["loss_training"],
       "gradients_training": [summary(g, 128) for g in ref["gradients_training"]],
       "keras_float32_gradient_errors": [keras_error(a, b, 128, gradient_floor) for a, b in
                                         zip(k32["gradients_training"], ref["gradients_training"])]}
for key in ("backbone_inference", "output_inference", "output_training", "backbone_training"):
    out[key] = summary(ref[key])
    out["keras_float32_" + key + "_error"] = keras_error(k32[key], ref[key], SAMPLES)
with open(os.path.join(HERE, "mobilenet.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
errors = out["keras_float32_gradient_errors"]
print("wrote mobilenet.json:", os.path.getsize(os.path.join(HERE, "mobilenet.json")), "bytes;",
      f"Keras float32 vs float64: worst gradient error {max(errors):.4f}, {sum(e > 1e-3 for e in errors)} of {len(errors)} over 1e-3;",
      "outputs", {k: round(out["keras_float32_" + k + "_error"], 7) for k in ("backbone_inference", "output_inference", "output_training", "backbone_training")})
