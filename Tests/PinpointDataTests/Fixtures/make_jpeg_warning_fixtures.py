"""Writes JPEGs that make libjpeg warn, beside this script (run with Pillow 13 and numpy):

  warnings/junk-before-dqt.jpg, junk-before-dht.jpg: bytes of junk before a marker ("Corrupt
      JPEG data: N extraneous bytes before marker 0xdb");
  warnings/short-app1.jpg: an APP1 segment whose declared length stops short of its payload (the
      rest reads as junk before the next marker);
  warnings/truncated.jpg: the first two thirds of a JPEG;
  warnings/NAME.expected.png: Pillow's Image.open(f).convert("RGB") where Pillow loads the file;
  warnings/warnings.json: each file with Pillow's verdict (loaded, or its error).
"""
import io, json, os
import numpy as np
import PIL
from PIL import Image

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images", "warnings")
os.makedirs(HERE, exist_ok=True)
rng = np.random.default_rng(3)
buffer = io.BytesIO()
Image.fromarray((rng.random((40, 60, 3)) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
base = buffer.getvalue()


def before(marker, inserted):
    i = base.index(bytes([0xFF, marker]))
    return base[:i] + inserted + base[i:]


files = {
    "junk-before-dqt.jpg": before(0xDB, b"\x00\x11\x22\x33"),
    "junk-before-dht.jpg": before(0xC4, b"\x55\x66"),
    "short-app1.jpg": before(0xDB, b"\xFF\xE1" + (12).to_bytes(2, "big") + b"Exif\x00\x00" + b"\x07" * 30),
    "truncated.jpg": base[: len(base) * 2 // 3],
}
cases = []
for name, data in files.items():
    path = os.path.join(HERE, name)
    open(path, "wb").write(data)
    try:
        image = Image.open(path)
        image.load()
        image.convert("RGB").save(path.replace(".jpg", ".expected.png"))
        cases.append({"file": name, "pillow": "loads", "expected": name.replace(".jpg", ".expected.png")})
    except OSError as error:
        cases.append({"file": name, "pillow": f"refuses: {error}"})
with open(os.path.join(HERE, "warnings.json"), "w") as f:
    json.dump({"generator": f"make_jpeg_warning_fixtures.py, Pillow {PIL.__version__}", "cases": cases}, f, indent=1)
print(cases)
