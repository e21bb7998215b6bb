"""Writes augmentation_cases.json: boxes and pixels after torchvision.transforms.v2, the reference
for BoxAugmentation (Tests/PinpointDataTests/AugmentationTests.swift).

Each box case applies, to a square canvas and its `tv_tensors.BoundingBoxes` (XYXY, pixels, hard
clamping), `horizontal_flip`, `resized_crop` back to the full side and `affine` (scale about the
centre, translation in pixels) in that order, as BoxAugmentation documents, and records the
box and whether `SanitizeBoundingBoxes` (min_size 1) keeps it. Each colour case applies
`adjust_brightness`, `adjust_contrast` and `adjust_saturation` in turn to a small square float image.

    python -m venv /work/venv && /work/venv/bin/pip install torch numpy && /work/venv/bin/pip install --no-deps torchvision
    /work/venv/bin/python Tests/PinpointDataTests/Fixtures/make_augmentation_fixtures.py
"""
import json
import pathlib

import numpy as np
import torch
import torchvision
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

HERE = pathlib.Path(__file__).parent


def box_case(side, box, flip=False, crop=None, scale=1.0, translate=(0.0, 0.0)):
    boxes = tv_tensors.BoundingBoxes(torch.tensor([box], dtype=torch.float64), format="XYXY",
                                     canvas_size=(side, side), clamping_mode="hard")
    if flip:
        boxes = F.horizontal_flip(boxes)
    if crop is not None:
        left, top, width, height = crop
        boxes = F.resized_crop(boxes, top=top, left=left, height=height, width=width, size=[side, side])
    if scale != 1.0 or translate != (0.0, 0.0):
        boxes = F.affine(boxes, angle=0.0, translate=list(translate), scale=scale, shear=[0.0, 0.0])
    boxes = F.clamp_bounding_boxes(boxes, clamping_mode="hard")
    labels = torch.tensor([1])
    kept = v2.SanitizeBoundingBoxes(min_size=1)({"boxes": boxes, "labels": labels})["boxes"]
    return {
        "side": side, "box": box, "flip": flip, "crop": list(crop) if crop is not None else None,
        "scale": scale, "translate": list(translate),
        "expected": [float(v) for v in boxes[0].tolist()], "kept": len(kept) == 1,
    }


def color_case(rng, side, brightness, contrast, saturation):
    image = torch.tensor(rng.integers(0, 256, size=(3, side, side)), dtype=torch.float32) / 255
    out = F.adjust_brightness(image, brightness)
    out = F.adjust_contrast(out, contrast)
    out = F.adjust_saturation(out, saturation)
    hwc = lambda t: [float(v) for v in t.permute(1, 2, 0).reshape(-1).tolist()]
    return {"side": side, "brightness": brightness, "contrast": contrast, "saturation": saturation,
            "pixels": [int(round(v * 255)) for v in hwc(image)], "expected": hwc(out)}


def main():
    rng = np.random.default_rng(17)
    cases = [
        box_case(224, [40.0, 60.0, 120.0, 150.0]),                                    # identity
        box_case(224, [40.0, 60.0, 120.0, 150.0], flip=True),
        box_case(224, [0.0, 0.0, 224.0, 224.0], flip=True),                           # the whole image
        box_case(224, [40.0, 60.0, 120.0, 150.0], crop=(20, 30, 150, 120)),           # clipped at the bottom
        box_case(224, [40.0, 60.0, 120.0, 150.0], crop=(130, 0, 90, 90)),             # outside the crop: dropped
        box_case(224, [40.0, 60.0, 120.0, 150.0], crop=(119, 0, 100, 224)),           # 1 px left: 2.24 px after the resize
        box_case(224, [40.0, 60.0, 40.5, 150.0], flip=True),                          # half a pixel wide: dropped
        box_case(224, [40.0, 60.0, 120.0, 150.0], scale=0.75),
        box_case(224, [10.0, 20.0, 200.0, 210.0], scale=1.25),                        # pushed past every edge
        box_case(224, [40.0, 60.0, 120.0, 150.0], translate=(-50.0, 30.0)),
        box_case(224, [40.0, 60.0, 120.0, 150.0], translate=(-130.0, 0.0)),           # off the left edge: dropped
        box_case(224, [40.0, 60.0, 120.0, 150.0], flip=True, crop=(30, 10, 160, 180), scale=0.8, translate=(12.0, -7.0)),
        box_case(96, [5.0, 70.0, 30.0, 96.0], crop=(0, 40, 60, 56), scale=1.2, translate=(3.0, 4.0)),
    ]
    for _ in range(24):
        side = int(rng.choice([64, 96, 224]))
        x0, x1 = sorted(rng.uniform(0, side, 2)); y0, y1 = sorted(rng.uniform(0, side, 2))
        width, height = int(rng.integers(side // 2, side + 1)), int(rng.integers(side // 2, side + 1))
        crop = (int(rng.integers(0, side - width + 1)), int(rng.integers(0, side - height + 1)), width, height) if rng.random() < 0.7 else None
        cases.append(box_case(side, [float(x0), float(y0), float(x1), float(y1)], flip=bool(rng.random() < 0.5), crop=crop,
                              scale=float(rng.uniform(0.75, 1.25)) if rng.random() < 0.7 else 1.0,
                              translate=(float(rng.uniform(-0.1, 0.1) * side), float(rng.uniform(-0.1, 0.1) * side)) if rng.random() < 0.7 else (0.0, 0.0)))
    colors = [color_case(rng, 5, 1.3, 0.7, 1.4), color_case(rng, 4, 0.6, 1.4, 0.6), color_case(rng, 7, 1.0, 1.0, 0.0),
              color_case(rng, 6, 1.4, 1.4, 1.4), color_case(rng, 3, 1.0, 0.0, 1.0)]
    out = {"source": f"torch {torch.__version__}, torchvision {torchvision.__version__}; {pathlib.Path(__file__).name}",
           "boxes": cases, "colors": colors}
    (HERE / "augmentation_cases.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(cases)} box cases and {len(colors)} colour cases")


if __name__ == "__main__":
    main()
