"""Writes the fuzz targets' seed corpora into Fuzz/Seeds/<target>/ from the test fixtures and a
few hand-made files (plain Python, no packages): real annotations, records, checkpoints, images.
"""
import json, os, shutil, struct

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "..", "Tests")
SEEDS = os.path.join(HERE, "Seeds")


def put(target, name, data):
    os.makedirs(os.path.join(SEEDS, target), exist_ok=True)
    with open(os.path.join(SEEDS, target, name), "wb") as f:
        f.write(data)


# Pascal VOC annotations as Oxford-IIIT Pet writes them, and variants the parser must accept.
voc = """<annotation><folder>OXIIIT</folder><filename>Abyssinian_1.jpg</filename>
<source><database>OXFORD-IIIT Pet Dataset</database></source>
<size><width>600</width><height>400</height><depth>3</depth></size><segmented>0</segmented>
<object><name>cat</name><pose>Frontal</pose><truncated>0</truncated><occluded>0</occluded>
<bndbox><xmin>333</xmin><ymin>72</ymin><xmax>425</xmax><ymax>158</ymax></bndbox><difficult>0</difficult></object>
</annotation>
"""
put("FuzzAnnotation", "oxford.xml", voc.encode())
put("FuzzAnnotation", "declaration-comment-cdata.xml",
    ('<?xml version="1.0" encoding="utf-8"?>\n<!-- a comment -->\n' + voc.replace("<folder>OXIIIT</folder>", "<folder><![CDATA[O&X]]></folder>")
     .replace("Abyssinian_1.jpg", "Aby&amp;ssinian&#49;.jpg")).encode())
put("FuzzAnnotation", "two-objects.xml", voc.replace("</annotation>", voc[voc.index("<object>"):voc.index("</object>") + 9] + "</annotation>").encode())

# TFRecord files written by TensorFlow and by Pinpoint, and the examples inside them.
for name in ["tf_written-0.tfrecord", "tf_written-1.tfrecord", "pinpoint_written.tfrecord"]:
    data = open(os.path.join(TESTS, "PinpointDataTests", "Fixtures", name), "rb").read()
    put("FuzzTFRecord", name, data)
    offset, index = 0, 0
    while offset + 12 <= len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        put("FuzzExample", f"{name}.{index}.pb", data[offset + 12: offset + 12 + length])
        offset += 12 + length + 4
        index += 1

# safetensors checkpoints: parameters, an empty tensor, metadata, optimizer state.
def safetensors(tensors, metadata):
    header, blob = {}, b""
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(payload)]}
        blob += payload
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


put("FuzzCheckpoint", "model.safetensors", safetensors(
    {"dense.kernel": ("F32", [2, 3], struct.pack("<6f", *range(6))), "dense.bias": ("F32", [3], struct.pack("<3f", 0, 1, 2)),
     "optimizer.iterations": ("F32", [], struct.pack("<f", 4))},
    {"architecture": "seed-cnn", "epochs_completed": "1"}))
put("FuzzCheckpoint", "empty-tensor.safetensors", safetensors({"x": ("F32", [0, 4], b"")}, {}))

# Images: every mode Pillow opens, and JPEGs that make libjpeg warn.
images = os.path.join(TESTS, "PinpointDataTests", "Fixtures", "images")
for name in sorted(os.listdir(images)):
    if name.startswith("mode-"):
        put("FuzzImage", name, open(os.path.join(images, name), "rb").read())
for name in sorted(os.listdir(os.path.join(images, "warnings"))):
    if name.endswith(".jpg"):
        put("FuzzImage", "warning-" + name, open(os.path.join(images, "warnings", name), "rb").read())
print({target: len(os.listdir(os.path.join(SEEDS, target))) for target in sorted(os.listdir(SEEDS))})
