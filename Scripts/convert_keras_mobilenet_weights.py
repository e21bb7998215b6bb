"""Convert Keras's MobileNetV2 ImageNet weight files (.h5, legacy layout) to Pinpoint safetensors.

Keras's applications module downloads files such as
    mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5
(alpha 1.0, 0.75, 0.5 or 0.35; input 96, 128, 160, 192 or 224) into ~/.keras/models/. Their layout
is Keras 2's save_weights: a "layer_names" attribute, and per layer a group whose "weight_names"
are like "block_1_depthwise/depthwise_kernel:0". Pinpoint names tensors LAYER.WEIGHT with Keras 3's
weight names (Conv1.kernel, bn_Conv1.moving_mean, block_1_depthwise.kernel).

    pip install h5py numpy safetensors
    python3 Scripts/convert_keras_mobilenet_weights.py IN.h5 OUT.safetensors --alpha 1.0 --image-size 224
    python3 Scripts/convert_keras_mobilenet_weights.py --self-test   # needs tf-keras too (see below)

--self-test builds tf_keras.applications.MobileNetV2(weights=None, alpha=0.35, 96x96), saves its
random weights with save_weights (the same legacy layout), converts the file, checks every tensor
against the model's, and writes the converted names and shapes to
Tests/PinpointModelsTests/Fixtures/converted_mobilenetv2_0.35.json, which Pinpoint's tests compare
with its own MobileNetV2's weights.
"""
import argparse
import json
import os
import sys
import tempfile

import h5py
import numpy as np


def convert(h5_path, alpha, image_size):
    tensors = {}
    with h5py.File(h5_path, "r") as f:
        for layer in (n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]):
            group = f[layer]
            for weight in (n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]):
                short = weight.split("/")[-1].split(":")[0]
                short = "kernel" if short == "depthwise_kernel" else short
                tensors[f"{layer}.{short}"] = np.ascontiguousarray(group[weight][()], dtype=np.float32)
    metadata = {"architecture": "mobilenetv2-backbone", "alpha": str(alpha), "image_size": str(image_size),
                "source": os.path.basename(h5_path), "format": "pinpoint-checkpoint-1"}
    return tensors, metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", nargs="?")
    parser.add_argument("output", nargs="?")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    from safetensors.numpy import load_file, save_file

    if not args.self_test:
        if not args.input or not args.output:
            parser.error("give IN.h5 and OUT.safetensors, or --self-test")
        tensors, metadata = convert(args.input, args.alpha, args.image_size)
        save_file(tensors, args.output, metadata=metadata)
        print(f"wrote {len(tensors)} tensors to {args.output}")
        return

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tf_keras
    model = tf_keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(96, 96, 3), include_top=False)
    with tempfile.TemporaryDirectory() as d:
        h5, out = os.path.join(d, "legacy.h5"), os.path.join(d, "converted.safetensors")
        model.save_weights(h5)
        tensors, metadata = convert(h5, 0.35, 96)
        save_file(tensors, out, metadata=metadata)
        back = load_file(out)
    expected = {}
    for layer in model.layers:
        for w in layer.weights:
            short = w.name.split("/")[-1].split(":")[0]
            expected[f"{layer.name}.{'kernel' if short == 'depthwise_kernel' else short}"] = w.numpy()
    assert set(back) == set(expected), set(back) ^ set(expected)
    for name, value in expected.items():
        assert np.array_equal(back[name], value), name
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "PinpointModelsTests", "Fixtures")
    with open(os.path.join(here, "converted_mobilenetv2_0.35.json"), "w") as f:
        json.dump({"generator": f"convert_keras_mobilenet_weights.py --self-test, tf-keras {tf_keras.__version__}",
                   "verdict": f"PASS: {len(back)} tensors converted from a save_weights .h5 and equal to the model's",
                   "tensors": {n: list(v.shape) for n, v in sorted(back.items())}}, f, indent=0)
    print(f"self-test passed: {len(back)} tensors")


if __name__ == "__main__":
    sys.exit(main())
