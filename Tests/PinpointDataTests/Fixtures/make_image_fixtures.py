"""Image decoding and resizing references from Pillow.

    python3 -m venv VENV && VENV/bin/pip install Pillow numpy
    VENV/bin/python Tests/PinpointDataTests/Fixtures/make_image_fixtures.py

Writes into images/ beside this script:
- photo-WxH.jpg: photo-like JPEGs (smooth shading, textured regions, hard edges, sensor noise)
  at sizes like the Oxford-IIIT Pet images, one smaller than 224 so resizing also enlarges;
  photo-WxH.expected.png: Pillow's Image.open(f).convert("RGB").resize((224, 224)), lossless.
- draft/*.jpg: JPEGs two to eight times 224 on a side (4:2:0, 4:4:4, progressive, grayscale);
  draft/*.expected.png: Pillow's Image.open(f), draft("RGB", (224, 224)), convert("RGB"),
  resize((224, 224)), with the size the draft decoded to and a SHA-256 of its pixels.
- mode-*.{png,jpg}: small images in every mode the dataset has or a user may bring (RGB PNG named
  .jpg, palette with and without transparency, L, LA, RGBA, 1-bit, 16-bit gray, grayscale,
  CMYK and progressive JPEGs), and images.json with, for each, Pillow's format,
  mode, size and convert("RGB") pixels.
"""
import hashlib
import json
import os

import numpy as np
import PIL
from PIL import Image

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
os.makedirs(HERE, exist_ok=True)
rng = np.random.default_rng(224)


def photo(width, height, noise=6):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.zeros((height, width, 3))
    for c in range(3):  # smooth shading
        img[..., c] = 90 + 60 * np.sin(x / (37 + 11 * c) + c) * np.cos(y / (53 - 7 * c))
    for _ in range(12):  # textured blobs with hard edges
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(15, 90)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r ** 2
        color = rng.uniform(0, 255, 3)
        texture = 25 * np.sin(x * rng.uniform(0.2, 0.9)) * np.sin(y * rng.uniform(0.2, 0.9))
        img[mask] = color + texture[mask][:, None]
    img += rng.normal(0, noise, img.shape)  # sensor noise
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


resize_cases = []
for (w, h) in [(500, 375), (334, 500), (160, 120)]:
    name = f"photo-{w}x{h}.jpg"
    photo(w, h).save(os.path.join(HERE, name), quality=90)
    expected = Image.open(os.path.join(HERE, name)).convert("RGB").resize((224, 224))
    expected.save(os.path.join(HERE, name.replace(".jpg", ".expected.png")))
    resize_cases.append({"source": name, "expected": name.replace(".jpg", ".expected.png")})

small = np.asarray(photo(10, 7))
gray = small.mean(axis=2).astype(np.uint8)
alpha = (np.arange(70).reshape(7, 10) * 3).astype(np.uint8)
files = {}


def save(name, image, **kwargs):
    image.save(os.path.join(HERE, name), **kwargs)
    files[name] = None


save("mode-rgb-png-named.jpg", Image.fromarray(small, "RGB"), format="PNG")
save("mode-rgb.png", Image.fromarray(small, "RGB"))
palette = Image.fromarray(small, "RGB").quantize(colors=16)
save("mode-p.png", palette)
save("mode-p-transparent.png", palette, transparency=3)
save("mode-l.png", Image.fromarray(gray, "L"))
save("mode-la.png", Image.fromarray(np.dstack([gray, alpha]), "LA"))
save("mode-rgba.png", Image.fromarray(np.dstack([small, alpha]), "RGBA"))
save("mode-1.png", Image.fromarray(gray > 100))
save("mode-i16.png", Image.fromarray(gray.astype(np.uint16) * 257))
save("mode-l.jpg", Image.fromarray(gray, "L"), quality=95)
save("mode-cmyk.jpg", Image.fromarray(small, "RGB").convert("CMYK"), quality=95)
save("mode-rgb-progressive.jpg", Image.fromarray(small, "RGB"), quality=95, progressive=True)

entries = []
for name in sorted(files):
    im = Image.open(os.path.join(HERE, name))
    rgb = im.convert("RGB")
    entries.append({"file": name, "format": im.format, "mode": im.mode, "width": im.width, "height": im.height,
                    "rgb": rgb.tobytes().hex()})

# After the cases above, so that adding these left the earlier files' random draws unchanged.
DRAFT = os.path.join(HERE, "draft")
os.makedirs(DRAFT, exist_ok=True)
draft_cases = []
for name, (w, h), convert, options in [
    ("rgb-900x700.jpg", (900, 700), "RGB", {"quality": 85}),
    ("rgb444-960x900.jpg", (960, 900), "RGB", {"quality": 75, "subsampling": 0}),
    ("progressive-700x500.jpg", (700, 500), "RGB", {"quality": 85, "progressive": True}),
    ("gray-1800x1792.jpg", (1800, 1792), "L", {"quality": 60}),
]:
    photo(w, h, noise=2).convert(convert).save(os.path.join(DRAFT, name), **options)
    im = Image.open(os.path.join(DRAFT, name))
    im.draft("RGB", (224, 224))
    decoded = im.convert("RGB")
    expected = name.replace(".jpg", ".expected.png")
    decoded.resize((224, 224)).save(os.path.join(DRAFT, expected))
    draft_cases.append({"source": "draft/" + name, "expected": "draft/" + expected, "decoded_width": decoded.width,
                        "decoded_height": decoded.height, "decoded_sha256": hashlib.sha256(decoded.tobytes()).hexdigest()})

with open(os.path.join(HERE, "images.json"), "w") as f:
    json.dump({"generator": f"make_image_fixtures.py, Pillow {PIL.__version__}, numpy {np.__version__}",
               "resize": resize_cases, "modes": entries, "draft": draft_cases}, f, indent=1)
print(f"wrote {len(resize_cases)} resize cases, {len(entries)} mode cases and {len(draft_cases)} draft cases")
for c in draft_cases:
    print(c["source"], c["decoded_width"], c["decoded_height"])
for e in entries:
    print(e["file"], e["format"], e["mode"])
