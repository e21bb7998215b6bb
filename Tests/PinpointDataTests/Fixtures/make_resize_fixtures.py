"""Writes the lossless resize fixtures beside this script (run with Pillow 13 and numpy):

  resize/lineart-WxH.png: line art and text (sharp edges, where the order of Pillow's two passes
      shows most), RGB PNG, at aspect ratios from 1:20 to 20:1 and sizes up to 2000 px, both
      shrinking and enlarging to 224x224;
  resize/lineart-WxH.expected.png: Pillow's Image.open(f).convert("RGB").resize((224, 224));
  resize/resize.json: the cases, with the Pillow version.

PNG in and out, so the resize alone is compared: Pinpoint must match bit for bit.
"""
import json, os
import numpy as np
import PIL
from PIL import Image, ImageDraw

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images", "resize")
os.makedirs(HERE, exist_ok=True)


def line_art(width, height, seed):
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        points = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(2)]
        draw.line(points, fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=int(rng.integers(1, 4)))
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        draw.rectangle([x0, y0, x0 + int(rng.integers(2, 40)), y0 + int(rng.integers(2, 40))],
                       outline=tuple(int(v) for v in rng.integers(0, 256, 3)))
    for i in range(max(2, width * height // 20000)):
        draw.text((int(rng.integers(0, max(1, width - 24))), int(rng.integers(0, max(1, height - 12)))), f"Ag{i}", fill="black")
    return image


sizes = [(100, 300), (300, 100), (200, 400), (400, 200), (283, 542), (377, 300), (376, 300), (300, 377),
         (60, 50), (50, 60), (150, 2000), (2000, 150), (1000, 2000), (2000, 1000), (100, 225), (30, 600)]
cases = []
for width, height in sizes:
    name = f"lineart-{width}x{height}.png"
    line_art(width, height, width * 10007 + height).save(os.path.join(HERE, name), optimize=True)
    expected = Image.open(os.path.join(HERE, name)).convert("RGB").resize((224, 224))
    expected.save(os.path.join(HERE, name.replace(".png", ".expected.png")), optimize=True)
    cases.append({"source": name, "expected": name.replace(".png", ".expected.png")})
with open(os.path.join(HERE, "resize.json"), "w") as f:
    json.dump({"generator": f"make_resize_fixtures.py, Pillow {PIL.__version__}, numpy {np.__version__}", "cases": cases}, f, indent=1)
print(f"wrote {len(cases)} cases")
