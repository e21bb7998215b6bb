"""TFRecord interop fixtures, both directions, with TensorFlow itself.

    python3 -m venv VENV && VENV/bin/pip install tensorflow-cpu numpy
    VENV/bin/python Tests/PinpointDataTests/Fixtures/make_tfrecord_fixtures.py

1. Writes tfrecord_cases.json: the records both sides write (the tutorial's schema, then edge
   cases: empty bytes and empty lists, multi-value lists, extreme int64s, NaN/inf/-0.0 floats,
   a feature with no kind set).
2. Writes tf_written-0.tfrecord and tf_written-1.tfrecord with tf.io.TFRecordWriter (two shards,
   so readers are tested on several files as one stream). Pinpoint's tests read them.
3. If pinpoint_written.tfrecord exists (written by Pinpoint's test with
   PINPOINT_WRITE_FIXTURES=1), reads it with tf.data.TFRecordDataset and parses every record two
   ways (tf.io.parse_single_example and tf.train.Example.FromString), compares every value with
   the cases, and writes the verdict to pinpoint_written.verdict.txt.
"""
import json
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def image(seed, size=4):
    return bytes((seed * 31 + i * 7) % 256 for i in range(size * size * 3))


def f32(x):
    return float(np.float32(x))


# Each case: feature name -> (kind, values). Kinds: bytes, float, int64, None (no kind set).
CASES = [
    {"image": ("bytes", [image(1)]), "cls_num": ("int64", [1]),
     "x": ("float", [0.5]), "y": ("float", [0.25]), "w": ("float", [f32(0.3)]), "h": ("float", [0.125])},
    {"image": ("bytes", [image(2)]), "cls_num": ("int64", [0]),
     "x": ("float", [f32(0.123456789)]), "y": ("float", [f32(2 / 3)]), "w": ("float", [1.0]), "h": ("float", [0.0])},
    {"empty_bytes": ("bytes", [b""]), "no_bytes": ("bytes", []), "no_floats": ("float", []), "no_ints": ("int64", [])},
    {"names": ("bytes", [b"a", b"bc", b"\x00\xff"]), "floats": ("float", [1.5, -2.25, f32(3e-38), f32(1e38)]),
     "ints": ("int64", [1, 2, 3, -4])},
    {"ints": ("int64", [-(2 ** 63), 2 ** 63 - 1, -1, 0, 2 ** 53 + 1])},
    {"floats": ("float", [math.nan, math.inf, -math.inf, -0.0])},
    {"unset": (None, []), "cls_num": ("int64", [7])},
]


def to_json_value(kind, v):
    if kind == "bytes":
        return v.hex()
    if kind == "int64":
        return str(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0 and math.copysign(1, v) < 0:
        return "-0"
    return v


def feature(kind, values):
    if kind == "bytes":
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    if kind == "float":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    if kind == "int64":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Feature()


def example(case):
    return tf.train.Example(features=tf.train.Features(feature={k: feature(*v) for k, v in case.items()}))


with open(os.path.join(HERE, "tfrecord_cases.json"), "w") as f:
    json.dump({"generator": f"make_tfrecord_fixtures.py, tensorflow {tf.__version__}",
               "shards": [[0, 1, 2, 3], [4, 5, 6]],
               "cases": [{k: {"kind": kind, "values": [to_json_value(kind, v) for v in vals]}
                          for k, (kind, vals) in case.items()} for case in CASES]}, f, indent=1)

for shard, indices in enumerate([[0, 1, 2, 3], [4, 5, 6]]):
    with tf.io.TFRecordWriter(os.path.join(HERE, f"tf_written-{shard}.tfrecord")) as w:
        for i in indices:
            w.write(example(CASES[i]).SerializeToString())


def same(kind, got, want):
    if kind == "float":
        return len(got) == len(want) and all(
            (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
            for a, b in zip(got, want))
    return list(got) == list(want)


pinpoint_file = os.path.join(HERE, "pinpoint_written.tfrecord")
if os.path.exists(pinpoint_file):
    problems, checked = [], 0
    records = list(tf.data.TFRecordDataset(pinpoint_file))  # checks both CRCs of every record
    if len(records) != len(CASES):
        problems.append(f"{len(records)} records, expected {len(CASES)}")
    for index, (raw, case) in enumerate(zip(records, CASES)):
        spec = {k: tf.io.VarLenFeature({"bytes": tf.string, "float": tf.float32, "int64": tf.int64, None: tf.int64}[kind])
                for k, (kind, _) in case.items()}
        parsed = tf.io.parse_single_example(raw, spec)
        proto = tf.train.Example.FromString(raw.numpy())
        if set(proto.features.feature.keys()) != set(case.keys()):
            problems.append(f"record {index}: features {sorted(proto.features.feature.keys())}")
        for name, (kind, want) in case.items():
            got = parsed[name].values.numpy().tolist()
            if not same(kind, got, want if kind is not None else []):
                problems.append(f"record {index} {name}: parse_single_example gave {got}, expected {want}")
            f = proto.features.feature[name]
            which = f.WhichOneof("kind")
            expected_kind = {"bytes": "bytes_list", "float": "float_list", "int64": "int64_list", None: None}[kind]
            if which != expected_kind:
                problems.append(f"record {index} {name}: kind {which}, expected {expected_kind}")
            elif which is not None and not same(kind, list(getattr(f, which).value), want):
                problems.append(f"record {index} {name}: proto values {list(getattr(f, which).value)}")
            checked += 1
    verdict = ("PASS" if not problems else "FAIL") + \
        f": TensorFlow {tf.__version__} read {len(records)} records written by Pinpoint " \
        f"(tf.data.TFRecordDataset checked every CRC), parsed {checked} features with " \
        f"tf.io.parse_single_example and tf.train.Example, and compared every value\n" + \
        "".join(f"  {p}\n" for p in problems)
    with open(os.path.join(HERE, "pinpoint_written.verdict.txt"), "w") as f:
        f.write(verdict)
    print(verdict)
else:
    print("pinpoint_written.tfrecord not found: run Pinpoint's TFRecordInteropTests with PINPOINT_WRITE_FIXTURES=1, then this again")
