"""Speckle statistics of the model input, for the "unlike the training data" density (in the graph).

B-mode ultrasound is speckle: inside the image the local coefficient of variation (local std / local
mean) sits in a narrow band at every scale, and grain is fine. CT and MR are smooth with sharp organ
edges, photos have flat areas, hard edges and colour-derived greys, noise has no structure. The
network's pooled features are trained for quality and see little of this (a photo or an MR slice can
sit among the scans there), so the density check also sees these 38 numbers per frame:

* soft histograms (9 bins, 0 … 1.2) of the local coefficient of variation in 3×3, 5×5 and 9×9
  windows, over image pixels (local mean > 0.05);
* a soft histogram (9 bins) of the Sobel gradient magnitude relative to the local mean;
* the share of the input that is image, and the mean fine-grain energy (residual after a 3×3 blur,
  over 9×9, relative to the local mean).

The statistics are sampled on every ``STRIDE``-th pixel of each axis (windows still centred on
full-resolution pixels: strided average pools and convolutions), which makes them 16× cheaper than
dense maps at the same histograms (1,600 samples per 160 px frame). Only elementwise ops, fixed
convolutions and average pools: it exports to ONNX and runs under FP16 (squares of values in [0, 1]).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

CENTRES = tuple(0.15 * i for i in range(9))  # 0 … 1.2
WIDTH = 0.15
N_FEATURES = 3 * 9 + 9 + 2
IMAGE_LEVEL = 0.05  # local mean (gray 0…1) above which a pixel counts as image
STRIDE = 4


def _box(g, k: int, stride: int = STRIDE):
    return F.avg_pool2d(g, k, stride, k // 2, count_include_pad=True)


def _hist(v, w, total, centres, width):
    """(B, len(centres)) soft (triangular) histogram of v (B,1,H,W), weighted by w, / total."""
    return torch.cat([(w * torch.relu(1.0 - torch.abs(v - c) / width)).sum((2, 3)) for c in centres], 1) / total


def speckle_stats(gray: torch.Tensor) -> torch.Tensor:
    """(B, N_FEATURES) statistics of ``gray`` (B,1,H,W) in [0, 1]."""
    m5 = _box(gray, 5)
    # a steep clamp rather than a comparison: no Cast in the graph
    w = torch.clamp((m5 - IMAGE_LEVEL) * 1000.0, 0.0, 1.0)
    total = w.sum((2, 3)) + 1.0
    parts = []
    for k in (3, 5, 9):
        mk = m5 if k == 5 else _box(gray, k)
        sd = torch.sqrt(torch.clamp(_box(gray * gray, k) - mk * mk, min=1e-8))
        parts.append(_hist(sd / (mk + 1e-3), w, total, CENTRES, WIDTH))
    kx = gray.new_tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    gx = F.conv2d(gray, kx.view(1, 1, 3, 3), stride=STRIDE, padding=1)
    gy = F.conv2d(gray, kx.t().contiguous().view(1, 1, 3, 3), stride=STRIDE, padding=1)
    gm = torch.sqrt(gx * gx + gy * gy + 1e-8) / (m5 + 0.02)
    parts.append(_hist(gm, w, total, tuple(5.0 * c for c in CENTRES), 5.0 * WIDTH))
    d = gray - _box(gray, 3, 1)
    fine = torch.sqrt(_box(d * d, 9) + 1e-8) / (m5 + 1e-3)
    parts.append(w.mean((2, 3)))
    parts.append((w * fine).sum((2, 3)) / total)
    return torch.cat(parts, 1)
