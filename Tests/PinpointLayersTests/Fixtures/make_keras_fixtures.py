"""Keras parity fixtures for Pinpoint's layers, losses and RMSprop.

    python3 -m venv VENV && VENV/bin/pip install tensorflow-cpu numpy
    VENV/bin/python Tests/PinpointLayersTests/Fixtures/make_keras_fixtures.py

Two models, each built after keras.backend.clear_session() so layer names restart:
- cnn: the tutorial's CNN (Conv 32/64/128/256 3x3 SAME + ReLU + MaxPool SAME, Flatten, Dense 1024
  ReLU, Dropout 0.4, Dense 4 sigmoid) at 8x8x3, MSE loss;
- small: Conv2D, BatchNormalization, ReLU(6), DepthwiseConv2D (stride 2), BatchNormalization,
  ReLU, GlobalAveragePooling2D, Dropout, Dense 3 softmax, sparse categorical cross-entropy.
Initial weights come from a formula both sides compute exactly (so they need not be stored):
    value[i] = float32(offset + scale * (((i * 2654435761 + k * 40503) mod 2^32) / 2^32 - 0.5))
for the k-th weight tensor of the model. For each model the fixture holds: layer names, weight
names and shapes, the input and target, the inference output and loss, the gradients in
inference mode, the training-mode output, loss and gradients (Dropout rates set to 0 so its mask
is not in play; BatchNormalization uses batch statistics and updates its moving statistics), and
the weights after 3 RMSprop(momentum 0.9) steps under ExponentialDecay(1e-3, decay_steps 2, 0.5,
staircase), in training mode. Large tensors are stored as 512 evenly spaced entries plus the sum
and absolute sum of all entries.
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = 512


def formula(count, k, scale, offset):
    i = np.arange(count, dtype=np.uint64)
    h = ((i * np.uint64(2654435761) + np.uint64(k * 40503)) % np.uint64(2 ** 32)).astype(np.float64) / 2 ** 32 - 0.5
    return (offset + scale * h).astype(np.float32)


def summary(x):
    x = np.asarray(x, dtype=np.float32)
    flat = x.reshape(-1)
    if flat.size <= SAMPLES:
        return {"shape": list(x.shape), "data": [float(v) for v in flat]}
    idx = np.linspace(0, flat.size - 1, SAMPLES).astype(np.int64)
    return {"shape": list(x.shape), "indices": [int(i) for i in idx], "values": [float(flat[i]) for i in idx],
            "sum": float(flat.astype(np.float64).sum()), "abs_sum": float(np.abs(flat.astype(np.float64)).sum())}


def init_weights(model):
    specs = []
    for k, w in enumerate(model.weights):
        name = w.path.split("/")[-1]
        shape = tuple(w.shape)
        if name in ("kernel",):
            fan_in = int(np.prod(shape[:-1]))
            scale, offset = 2 * (3.0 / fan_in) ** 0.5, 0.0
        elif name == "bias":
            scale, offset = 0.2, 0.0
        elif name == "gamma":
            scale, offset = 0.4, 1.0
        elif name in ("beta", "moving_mean"):
            scale, offset = 0.2, 0.0
        elif name == "moving_variance":
            scale, offset = 0.4, 1.0
        else:
            raise ValueError(name)
        w.assign(formula(int(np.prod(shape)), k, scale, offset).reshape(shape))
        specs.append({"name": "/".join(w.path.split("/")[-2:]).replace("/", "."), "shape": list(shape), "scale": scale, "offset": offset})
    return specs


def set_dropout(model, rate):
    for layer in model.layers:
        if isinstance(layer, L.Dropout):
            layer.rate = rate


def case(name, build, loss_fn, x, y):
    keras.backend.clear_session()
    model = build()
    specs = init_weights(model)
    out = {"model": name, "layers": [l.name for l in model.layers], "weights": specs,
           "input": summary(x), "target": summary(y)}
    xt, yt = tf.constant(x), tf.constant(y)
    trainable = model.trainable_weights

    def grads(training):
        with tf.GradientTape() as tape:
            pred = model(xt, training=training)
            loss = loss_fn(yt, pred)
        return pred, loss, tape.gradient(loss, trainable)

    pred, loss, g = grads(False)
    out["inference"] = {"output": summary(pred), "loss": float(loss),
                        "gradients": [summary(v) for v in g]}
    set_dropout(model, 0.0)
    before = [w.numpy().copy() for w in model.weights]
    pred, loss, g = grads(True)
    out["training"] = {"output": summary(pred), "loss": float(loss), "gradients": [summary(v) for v in g],
                       "weights_after_call": [summary(w) for w in model.weights]}
    for w, b in zip(model.weights, before):
        w.assign(b)
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=2, decay_rate=0.5, staircase=True)
    opt = keras.optimizers.RMSprop(learning_rate=schedule, momentum=0.9)
    losses = []
    for _ in range(3):
        with tf.GradientTape() as tape:
            l = loss_fn(yt, model(xt, training=True))
        opt.apply_gradients(zip(tape.gradient(l, trainable), trainable))
        losses.append(float(l))
    out["rmsprop"] = {"losses": losses, "weights": [summary(w) for w in model.weights]}
    return out


def cnn():
    m = keras.Sequential([keras.Input((8, 8, 3))])
    for c in (32, 64, 128, 256):
        m.add(L.Conv2D(c, 3, activation="relu", padding="same"))
        m.add(L.MaxPool2D(padding="same"))
    for layer in (L.Flatten(), L.Dense(1024, activation="relu"), L.Dropout(0.4), L.Dense(4, activation="sigmoid")):
        m.add(layer)
    return m


def small():
    return keras.Sequential([keras.Input((6, 6, 3)), L.Conv2D(4, 3, padding="same"), L.BatchNormalization(), L.ReLU(6.0),
                             L.DepthwiseConv2D(3, strides=2, padding="same"), L.BatchNormalization(), L.ReLU(),
                             L.GlobalAveragePooling2D(), L.Dropout(0.3), L.Dense(3, activation="softmax")])


rng = np.random.default_rng(4)
mse = keras.losses.MeanSquaredError()
sce = keras.losses.SparseCategoricalCrossentropy()
fixtures = {
    "generator": f"make_keras_fixtures.py, keras {keras.__version__}, tensorflow {tf.__version__}",
    "cases": [
        case("cnn", cnn, mse, rng.random((2, 8, 8, 3), dtype=np.float32), rng.random((2, 4), dtype=np.float32)),
        case("small", small, sce, rng.standard_normal((3, 6, 6, 3)).astype(np.float32), np.array([0, 2, 1], dtype=np.float32)),
    ],
}


def optimizer_case(name, make, clip=None):
    """Three steps on one variable with fixed gradients; the variable after each step."""
    var = keras.Variable(np.array([0.5, -1.0, 2.0], dtype=np.float32))
    opt = make()
    if clip is not None:
        opt.global_clipnorm = clip
    grads = [np.array(g, dtype=np.float32) for g in ([0.1, -0.2, 0.3], [1.5, 0.5, -0.25], [-0.05, 0.4, 2.0])]
    after = []
    for g in grads:
        opt.apply_gradients([(tf.constant(g), var)])
        after.append([float(v) for v in var.numpy()])
    return {"name": name, "initial": [0.5, -1.0, 2.0], "gradients": [[float(v) for v in g] for g in grads], "after": after}


fixtures["optimizers"] = [
    optimizer_case("sgd", lambda: keras.optimizers.SGD(0.1)),
    optimizer_case("sgd momentum", lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
    optimizer_case("sgd nesterov", lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True)),
    optimizer_case("adam", lambda: keras.optimizers.Adam(0.01)),
    optimizer_case("rmsprop centered", lambda: keras.optimizers.RMSprop(0.01, centered=True)),
    optimizer_case("rmsprop clipped", lambda: keras.optimizers.RMSprop(0.01, momentum=0.9), clip=0.5),
]
logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3]], dtype=np.float32)
labels = np.array([2, 0], dtype=np.float32)
probabilities = np.array([[0.7, 0.2, 0.1], [1e-9, 0.5, 0.5]], dtype=np.float32)
fixtures["losses"] = {
    "logits": logits.tolist(), "labels": labels.tolist(), "probabilities": probabilities.tolist(),
    "sce_from_logits": float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)),
    "sce_probabilities": float(keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)),
}

with open(os.path.join(HERE, "keras.json"), "w") as f:
    json.dump(fixtures, f, separators=(",", ":"))
print("wrote keras.json:", os.path.getsize(os.path.join(HERE, "keras.json")), "bytes")
for c in fixtures["cases"]:
    print(c["model"], c["layers"])
