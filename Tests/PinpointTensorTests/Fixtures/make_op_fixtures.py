"""Reference values for Pinpoint's Tensor ops, from NumPy and TensorFlow.

Writes ops.json beside this script. Run from a venv outside the repository:
    python3 -m venv VENV && VENV/bin/pip install tensorflow-cpu numpy
    VENV/bin/python Tests/PinpointTensorTests/Fixtures/make_op_fixtures.py
Each case: op name, parameters, inputs (shape + row-major data), expected output, and for the
convolution and pooling cases TensorFlow's gradients for a given upstream gradient.
"""
import json
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

rng = np.random.default_rng(20261128)
cases = []


def arr(x):
    x = np.asarray(x, dtype=np.float32)
    return {"shape": list(x.shape), "data": [float(str(v)) for v in x.reshape(-1)]}  # shortest float32 repr


def add(op, inputs, output, params=None, gradients=None, upstream=None, name=None):
    case = {"name": name or op, "op": op, "params": params or {}, "inputs": [arr(i) for i in inputs], "output": arr(output)}
    if gradients is not None:
        case["upstream"] = arr(upstream)
        case["gradients"] = [arr(g) for g in gradients]
    cases.append(case)


def uniform(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape).astype(np.float32)


# Elementwise binary ops with NumPy broadcasting.
for a_shape, b_shape in [((2, 3, 4), (3, 1)), ((4,), (2, 1, 4)), ((2, 1), (1, 3)), ((3, 4), ()), ((2, 3), (2, 3))]:
    a, b = uniform(*a_shape), uniform(*b_shape)
    bp = np.abs(b) + 0.5  # keep divisors away from zero
    tag = f"{a_shape}x{b_shape}"
    add("add", [a, b], a + b, name=f"add {tag}")
    add("subtract", [a, b], a - b, name=f"subtract {tag}")
    add("multiply", [a, b], a * b, name=f"multiply {tag}")
    add("divide", [a, bp], a / bp, name=f"divide {tag}")
    add("maximum", [a, b], np.maximum(a, b), name=f"maximum {tag}")
    add("minimum", [a, b], np.minimum(a, b), name=f"minimum {tag}")
    add("pow", [np.abs(a) + 0.1, b], np.power(np.abs(a) + 0.1, b), name=f"pow {tag}")

# Unary math and activations (TensorFlow's own kernels where Keras would use them).
x = uniform(3, 5, low=-8, high=8)
xp = np.abs(x) + 0.1
add("exp", [x], np.exp(x))
add("log", [xp], np.log(xp))
add("sqrt", [xp], np.sqrt(xp))
add("square", [x], np.square(x))
add("abs", [x], np.abs(x))
add("tanh", [x], np.tanh(x))
add("relu", [x], tf.nn.relu(x).numpy())
add("relu6", [x], tf.nn.relu6(x).numpy())
add("sigmoid", [x], tf.math.sigmoid(x).numpy())
add("clip", [x], tf.clip_by_value(x, -0.5, 2.0).numpy(), {"min": -0.5, "max": 2.0})
add("softmax", [x], tf.nn.softmax(x, axis=-1).numpy(), {"axis": -1})
add("softmax", [x], tf.nn.softmax(x, axis=0).numpy(), {"axis": 0}, name="softmax axis 0")
add("logSoftmax", [x], tf.nn.log_softmax(x, axis=-1).numpy(), {"axis": -1})

# Comparisons and where, on integers so that equality happens.
a = rng.integers(-2, 3, (3, 4)).astype(np.float32)
b = rng.integers(-2, 3, (4,)).astype(np.float32)
add("greater", [a, b], (a > b).astype(np.float32))
add("greaterEqual", [a, b], (a >= b).astype(np.float32))
add("less", [a, b], (a < b).astype(np.float32))
add("lessEqual", [a, b], (a <= b).astype(np.float32))
add("equal", [a, b], (a == b).astype(np.float32))
add("notEqual", [a, b], (a != b).astype(np.float32))
c = uniform(3, 4)
add("where", [a > 0, c, b], np.where(a > 0, c, b))

# Reductions over chosen axes, with and without kept dimensions.
x = uniform(2, 3, 4)
for axes in [None, [0], [1], [2], [-1], [0, 2], [1, 2], [0, 1, 2]]:
    for keep in [False, True]:
        ax = None if axes is None else tuple(axes)
        params = {"axes": axes, "keepdims": keep}
        suffix = f" axes={axes} keepdims={keep}"
        add("sum", [x], np.sum(x, axis=ax, keepdims=keep), params, name="sum" + suffix)
        add("mean", [x], np.mean(x, axis=ax, keepdims=keep), params, name="mean" + suffix)
        add("max", [x], np.max(x, axis=ax, keepdims=keep), params, name="max" + suffix)
        add("min", [x], np.min(x, axis=ax, keepdims=keep), params, name="min" + suffix)
        add("variance", [x], np.var(x, axis=ax, keepdims=keep), params, name="variance" + suffix)
ties = rng.integers(0, 3, (3, 4)).astype(np.float32)
for axis in [0, 1, -1]:
    add("argmax", [ties], np.argmax(ties, axis=axis), {"axis": axis}, name=f"argmax axis={axis}")

# Matrix products: plain, transposed views, batched with broadcasting.
for a_shape, b_shape, ta, tb in [((3, 4), (4, 5), False, False), ((4, 3), (4, 5), True, False),
                                 ((3, 4), (5, 4), False, True), ((4, 3), (5, 4), True, True),
                                 ((2, 3, 4), (4, 5), False, False), ((2, 1, 3, 4), (3, 4, 2), False, False),
                                 ((1, 4), (4, 1), False, False)]:
    a, b = uniform(*a_shape), uniform(*b_shape)
    aa = np.swapaxes(a, -1, -2) if ta else a
    bb = np.swapaxes(b, -1, -2) if tb else b
    add("matmul", [a, b], np.matmul(aa, bb), {"transposeA": ta, "transposeB": tb},
        name=f"matmul {a_shape}{'T' if ta else ''} x {b_shape}{'T' if tb else ''}")

# Shaping: concatenation, stacking, splitting, padding, strided slices, permutation.
a, b = uniform(2, 3, 4), uniform(2, 1, 4)
add("concatenate", [a, b], np.concatenate([a, b], axis=1), {"axis": 1})
c = uniform(2, 3, 2)
add("concatenate", [a, c], np.concatenate([a, c], axis=-1), {"axis": -1}, name="concatenate axis -1")
add("stack", [a, a * 2], np.stack([a, a * 2], axis=1), {"axis": 1})
add("split", [a], np.split(a, [1, 3], axis=2)[1], {"sizes": [1, 2, 1], "axis": 2, "piece": 1})
add("pad", [a], np.pad(a, [(0, 1), (2, 0), (1, 1)], constant_values=-1.5),
    {"paddings": [[0, 1], [2, 0], [1, 1]], "value": -1.5})
x = uniform(5, 7, 3)
add("slice", [x], x[1:5:2, ::3, 1:], {"slices": [[1, 5, 2], [0, 7, 3], [1, 3, 1]]})
add("permute", [x], np.transpose(x, (2, 0, 1)), {"order": [2, 0, 1]})
add("reshapeOfPermute", [x], np.transpose(x, (1, 0, 2)).reshape(7, 15), {"order": [1, 0, 2], "shape": [7, 15]})


# Convolution (NHWC, HWIO) with TensorFlow's gradients for a random upstream gradient.
def conv_case(n, h, w, cin, cout, k, stride, padding, dilation):
    x = uniform(n, h, w, cin, low=-1, high=1)
    kern = uniform(k[0], k[1], cin, cout, low=-1, high=1)
    xt, kt = tf.constant(x), tf.constant(kern)
    with tf.GradientTape() as tape:
        tape.watch([xt, kt])
        y = tf.nn.conv2d(xt, kt, strides=[1, stride[0], stride[1], 1], padding=padding.upper(),
                         dilations=[1, dilation[0], dilation[1], 1])
        up = uniform(*y.shape, low=-1, high=1)
        loss = tf.reduce_sum(y * up)
    gx, gk = tape.gradient(loss, [xt, kt])
    add("conv2d", [x, kern], y.numpy(),
        {"strides": list(stride), "padding": padding, "dilation": list(dilation)},
        gradients=[gx.numpy(), gk.numpy()], upstream=up,
        name=f"conv2d {h}x{w} k{k} s{stride} d{dilation} {padding}")


for padding in ["same", "valid"]:
    for (h, w) in [(7, 7), (8, 6)]:
        for stride in [(1, 1), (2, 2), (2, 1)]:
            conv_case(2, h, w, 3, 4, (3, 3), stride, padding, (1, 1))
        conv_case(2, h, w, 3, 4, (3, 3), (1, 1), padding, (2, 2))
        conv_case(1, h, w, 2, 3, (2, 3), (1, 1), padding, (1, 2))
        conv_case(2, h, w, 5, 4, (1, 1), (1, 1), padding, (1, 1))
        conv_case(1, h, w, 2, 3, (1, 1), (2, 2), padding, (1, 1))
        conv_case(1, h, w, 2, 2, (4, 4), (3, 3), padding, (1, 1))


# Pooling, with gradients; integer inputs make ties, whose routing must match TensorFlow's.
def pool_case(kind, x, pool, stride, padding, tag=""):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        fn = tf.nn.max_pool2d if kind == "maxPool" else tf.nn.avg_pool2d
        y = fn(xt, ksize=list(pool), strides=list(stride), padding=padding.upper())
        up = uniform(*y.shape, low=-1, high=1)
        loss = tf.reduce_sum(y * up)
    g = tape.gradient(loss, xt)
    add(kind, [x], y.numpy(), {"poolSize": list(pool), "strides": list(stride), "padding": padding},
        gradients=[g.numpy()], upstream=up, name=f"{kind} {x.shape} p{pool} s{stride} {padding}{tag}")


for kind in ["maxPool", "avgPool"]:
    for padding in ["same", "valid"]:
        for (h, w) in [(6, 6), (7, 5)]:
            for pool, stride in [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 2), (1, 2))]:
                pool_case(kind, uniform(2, h, w, 3), pool, stride, padding)
for padding in ["same", "valid"]:
    pool_case("maxPool", rng.integers(0, 3, (1, 5, 5, 2)).astype(np.float32), (2, 2), (2, 2), padding, " ties")
    pool_case("maxPool", rng.integers(0, 2, (1, 6, 6, 2)).astype(np.float32), (3, 3), (1, 1), padding, " ties overlapping")
x = uniform(2, 5, 3, 4)
add("globalAvgPool", [x], tf.keras.layers.GlobalAveragePooling2D()(x).numpy())


# Depthwise convolution (kernel [KH, KW, C, multiplier]) with TensorFlow's gradients.
def depthwise_case(n, h, w, c, m, k, stride, padding, dilation):
    x = uniform(n, h, w, c, low=-1, high=1)
    kern = uniform(k[0], k[1], c, m, low=-1, high=1)
    xt, kt = tf.constant(x), tf.constant(kern)
    with tf.GradientTape() as tape:
        tape.watch([xt, kt])
        y = tf.nn.depthwise_conv2d(xt, kt, strides=[1, stride[0], stride[1], 1], padding=padding.upper(),
                                   dilations=list(dilation))
        up = uniform(*y.shape, low=-1, high=1)
        loss = tf.reduce_sum(y * up)
    gx, gk = tape.gradient(loss, [xt, kt])
    add("depthwiseConv2d", [x, kern], y.numpy(), {"strides": list(stride), "padding": padding, "dilation": list(dilation)},
        gradients=[gx.numpy(), gk.numpy()], upstream=up,
        name=f"depthwise {h}x{w} c{c} m{m} k{k} s{stride} d{dilation} {padding}")


for padding in ["same", "valid"]:
    for (h, w) in [(7, 7), (8, 6)]:
        depthwise_case(2, h, w, 5, 1, (3, 3), (1, 1), padding, (1, 1))
        depthwise_case(2, h, w, 5, 1, (3, 3), (2, 2), padding, (1, 1))
        depthwise_case(1, h, w, 3, 2, (3, 2), (2, 1), padding, (1, 1))
        depthwise_case(1, h, w, 4, 1, (3, 3), (1, 1), padding, (2, 2))


# The random generator, from an independent implementation of SplitMix64 + xoshiro256**.
MASK = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def xoshiro(seed, count):
    s = seed
    state = []
    for _ in range(4):
        s = (s + 0x9E3779B97F4A7C15) & MASK
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        state.append(z ^ (z >> 31))
    out = []
    for _ in range(count):
        result = (rotl((state[1] * 5) & MASK, 7) * 9) & MASK
        t = (state[1] << 17) & MASK
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        out.append(result)
    return out


random_reference = {
    "seed": 42,
    "uint64": [str(v) for v in xoshiro(42, 8)],
    "unitFloat": [float(np.float32((v >> 40) * (1.0 / 16777216.0))) for v in xoshiro(42, 8)],
}

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "ops.json"), "w") as f:
    json.dump({"generator": f"make_op_fixtures.py, numpy {np.__version__}, tensorflow {tf.__version__}",
               "cases": cases, "random": random_reference}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to ops.json")
