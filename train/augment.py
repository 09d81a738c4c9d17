"""Mild, label-neutral augmentation of the cached model inputs (and of the heatmap cells' targets)."""
from __future__ import annotations

import math

from .config import TrainConfig



def augment(g, cfg: TrainConfig, gen, maps=None):
    """Mild ultrasound augmentations on a batch of gray [0,1] inputs (B,1,S,S) (torch). ``maps``
    (b ≤ B, C, h, w) of the first b inputs (the heatmap cells' targets) get the same rotation and
    scale; then ``(g, maps)`` is returned."""
    import torch
    import torch.nn.functional as F

    B = g.shape[0]
    dev = g.device

    def u(lo, hi, *shape):
        return torch.rand(*shape, generator=gen).to(dev) * (hi - lo) + lo

    if cfg.aug_rotate > 0 or cfg.aug_scale > 0:
        ang = u(-cfg.aug_rotate, cfg.aug_rotate, B) * math.pi / 180
        s = u(1 - cfg.aug_scale, 1 + cfg.aug_scale, B)
        c, si = torch.cos(ang) / s, torch.sin(ang) / s
        zero = torch.zeros_like(c)
        theta = torch.stack([torch.stack([c, -si, zero], 1), torch.stack([si, c, zero], 1)], 1)
        grid = F.affine_grid(theta, list(g.shape), align_corners=False)
        g = F.grid_sample(g, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if maps is not None:
            b = maps.shape[0]
            mg = F.affine_grid(theta[:b], list(maps.shape), align_corners=False)
            maps = F.grid_sample(maps, mg, mode="bilinear", padding_mode="zeros", align_corners=False)
    if cfg.aug_gain > 0:
        g = g * u(1 - cfg.aug_gain, 1 + cfg.aug_gain, B).view(B, 1, 1, 1)
    if cfg.aug_speckle > 0:
        amp = u(0, cfg.aug_speckle, B).view(B, 1, 1, 1)
        noise = torch.randn(g.shape, generator=gen).to(dev)
        g = g * (1 + amp * noise)
    g = g.clamp(0, 1)
    return g if maps is None else (g, maps)
