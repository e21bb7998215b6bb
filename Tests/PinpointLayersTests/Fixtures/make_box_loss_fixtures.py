"""Box-loss fixtures from torchvision.ops: values and gradients that BoxLossTests checks.

Run with torch and torchvision installed (outside the repo):
    python3 -m venv /work/venv && /work/venv/bin/pip install torch torchvision
    /work/venv/bin/python Tests/PinpointLayersTests/Fixtures/make_box_loss_fixtures.py
Writes box_losses.json beside this script. Boxes are Pinpoint's (x_center, y_center, w, h) rows;
the predictions' gradients are of the mean loss over the batch, taken through the conversion
to corners, as Pinpoint takes them.
"""
import json
import os

import torch
import torchvision
from torchvision.ops import complete_box_iou_loss, distance_box_iou_loss, generalized_box_iou_loss

torch.manual_seed(0)
random_targets = torch.rand(6, 4) * torch.tensor([0.6, 0.6, 0.4, 0.4]) + torch.tensor([0.2, 0.2, 0.1, 0.1])
random_predictions = random_targets + (torch.rand(6, 4) - 0.5) * 0.2
# Degenerate cases: identical boxes; no overlap; a zero-width prediction; touching edges; one
# box inside the other.
targets = torch.cat([random_targets, torch.tensor([
    [0.5, 0.5, 0.2, 0.3],
    [0.2, 0.2, 0.1, 0.1],
    [0.5, 0.5, 0.3, 0.3],
    [0.3, 0.5, 0.2, 0.2],
    [0.5, 0.5, 0.4, 0.4],
])])
predictions = torch.cat([random_predictions, torch.tensor([
    [0.5, 0.5, 0.2, 0.3],
    [0.8, 0.7, 0.1, 0.2],
    [0.5, 0.5, 0.0, 0.2],
    [0.5, 0.5, 0.2, 0.2],
    [0.5, 0.5, 0.1, 0.1],
])])


def corners(b):
    return torch.stack([b[:, 0] - b[:, 2] * 0.5, b[:, 1] - b[:, 3] * 0.5, b[:, 0] + b[:, 2] * 0.5, b[:, 1] + b[:, 3] * 0.5], dim=1)


losses = {
    "giou": lambda p, t: generalized_box_iou_loss(corners(p), corners(t), reduction="none"),
    "diou": lambda p, t: distance_box_iou_loss(corners(p), corners(t), reduction="none"),
    "ciou": lambda p, t: complete_box_iou_loss(corners(p), corners(t), reduction="none"),
    "smoothl1": lambda p, t: torch.nn.functional.smooth_l1_loss(p, t, reduction="none", beta=0.05),
}
cases = []
for name, loss in losses.items():
    p = predictions.clone().requires_grad_(True)
    per_box = loss(p, targets)
    per_box.mean().backward()
    cases.append({"loss": name, "per_box": per_box.detach().flatten().tolist(), "per_box_shape": list(per_box.shape),
                  "mean": per_box.mean().item(), "gradient": p.grad.flatten().tolist()})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "box_losses.json")
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "targets": targets.flatten().tolist(),
               "predictions": predictions.flatten().tolist(), "count": targets.shape[0], "cases": cases}, f, indent=1)
print(f"wrote {path}: {len(cases)} losses on {targets.shape[0]} boxes")
