"""Exports two models with `pinpoint export`, checks them with onnx.checker and runs them in
onnxruntime, and writes onnx_outputs.json, the reference for ONNXExportTests.

The models are the tutorial's CNN and the two-head MobileNetV2 (alpha 0.35), at 32x32 and at
sizes that make odd feature maps on the way down (the CNN at 36: 18, 9, 5, 3; MobileNetV2 at 40:
20, 10, 5, 3, 2), so that SAME pooling and Keras's asymmetric strided padding are exercised, with
every tensor set by a formula the Swift test repeats (so no checkpoint is committed): tensor k of
the names in sorted order, element i, is offset + scale * (((i * 2654435761 + k * 40503) mod 2^32)
/ 2^32 - 0.5), with the scale and offset chosen by the tensor's kind. The images are uint8,
pixel i of image n = (i * 7919 + n * 104729) mod 256. The fixture also records the SHA-256 of
each exported file, so a change to the exporter shows up as a stale fixture.

    /work/venv/bin/pip install onnx onnxruntime numpy
    swift build -c release --product pinpoint
    /work/venv/bin/python Tests/PinpointModelsTests/Fixtures/onnx/make_onnx_fixtures.py .build/release/pinpoint
"""
import hashlib
import json
import pathlib
import struct
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime

HERE = pathlib.Path(__file__).parent
COUNT = 3
MODELS = [("seed-cnn", 32), ("mobilenetv2", 32), ("seed-cnn", 36), ("mobilenetv2", 40)]


def formula(count, k, scale, offset):
    i = np.arange(count, dtype=np.uint64)
    hashed = (i * np.uint64(2654435761) + np.uint64(k * 40503)) % np.uint64(1 << 32)
    return (offset + scale * (hashed.astype(np.float64) / 4294967296.0 - 0.5)).astype(np.float32)


def spread(name, shape):
    """(scale, offset) for a tensor: BatchNormalization statistics near their usual values,
    kernels with He-like spread."""
    if name.endswith("moving_variance"):
        return 0.5, 1.0
    if name.endswith("gamma"):
        return 0.4, 1.0
    if name.endswith("moving_mean") or name.endswith("beta") or name.endswith("bias"):
        return 0.2, 0.0
    fan_in = int(np.prod(shape[:-1])) if len(shape) == 4 and shape[-1] != 1 else int(np.prod(shape[:2])) if len(shape) == 4 else shape[0]
    return float(np.sqrt(24.0 / fan_in)), 0.0


def read_safetensors(path):
    data = pathlib.Path(path).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length])


def write_safetensors(path, header, tensors):
    offset, blobs, out = 0, [], {}
    for name in header:
        if name == "__metadata__":
            continue
        blob = tensors[name].astype("<f4").tobytes()
        out[name] = {"dtype": "F32", "shape": header[name]["shape"], "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    out["__metadata__"] = header["__metadata__"]
    text = json.dumps(out, sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    pathlib.Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    pinpoint = sys.argv[1] if len(sys.argv) > 1 else ".build/release/pinpoint"
    fixture = {"source": f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}; {pathlib.Path(__file__).name}",
               "images": COUNT, "models": []}
    with tempfile.TemporaryDirectory() as d:
        run = lambda *a: subprocess.run([pinpoint, *a], check=True, capture_output=True, text=True)
        run("synth", "--out", f"{d}/pets", "--count", "12")
        for architecture, size in MODELS:
            extra = ["--alpha", "0.35"] if architecture == "mobilenetv2" else []
            prep = f"{d}/prep{size}"
            if not pathlib.Path(prep).exists():
                run("prepare", "--data", f"{d}/pets", "--out", prep, "--size", str(size), "--val-count", "2")
            images = np.stack([((np.arange(size * size * 3, dtype=np.int64) * 7919 + n * 104729) % 256).astype(np.uint8).reshape(size, size, 3)
                               for n in range(COUNT)])
            checkpoint, exported = f"{d}/{architecture}-{size}.safetensors", f"{d}/{architecture}-{size}.onnx"
            # A checkpoint for its names, shapes and metadata; the values are then the formula's.
            run("train", "--model", architecture, *extra, "--train", f"{prep}/loc_train.tfr", "--val", f"{prep}/loc_val.tfr",
                "--epochs", "1", "--batch", "4", "--out", checkpoint, "--quiet")
            header = read_safetensors(checkpoint)
            names = sorted(n for n in header if n != "__metadata__" and not n.startswith("optimizer."))
            header = {n: header[n] for n in names} | {"__metadata__": header["__metadata__"]}
            tensors = {}
            for k, name in enumerate(names):
                shape = header[name]["shape"]
                scale, offset = spread(name, shape)
                tensors[name] = formula(int(np.prod(shape)), k, scale, offset)
            write_safetensors(checkpoint, header, tensors)
            run("export", "--model", checkpoint, "--out", exported)
            model = onnx.load(exported)
            onnx.checker.check_model(model, full_check=True)
            session = onnxruntime.InferenceSession(exported, providers=["CPUExecutionProvider"])
            outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"image": images})))
            fixture["models"].append({
                "architecture": architecture, "image_size": size, "alpha": 0.35 if architecture == "mobilenetv2" else None,
                "tensors": [{"name": n, "scale": spread(n, header[n]["shape"])[0], "offset": spread(n, header[n]["shape"])[1]} for n in names],
                "onnx_sha256": hashlib.sha256(pathlib.Path(exported).read_bytes()).hexdigest(),
                "opset": model.opset_import[0].version,
                "inputs": [(i.name, [dim.dim_param or dim.dim_value for dim in i.type.tensor_type.shape.dim]) for i in model.graph.input],
                "outputs": {name: value.reshape(-1).tolist() for name, value in outputs.items()},
            })
            print(architecture, size, {n: v.shape for n, v in outputs.items()})
    (HERE / "onnx_outputs.json").write_text(json.dumps(fixture, indent=0) + "\n")


if __name__ == "__main__":
    main()
