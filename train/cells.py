"""Per-cell supervision of the heatmap: an acoustic shadow or a lift-off loses its points where it lies.

The score alone says *how many* points an image loses, not *where*. Where the data carry an artefact
map (the generator's shadow / lift-off regions, ``fuiqa synth --maps``; train.prepared.Split.cells),
two hinge terms per image, over the cells inside the imaging region:

- quality: the mean q of the artefact cells lies at least ``cell_margin`` points below the mean q of
  the image's clean cells, ``relu(q̄_art − q̄_clean + margin) / 100``;
- points lost: an artefact cell loses at least twice the points of a clean cell on average,
  ``relu(log 2 − log((d̄_art + 1) / (d̄_clean + 1)))`` with d = a·(100 − q) (the heatmap the GUI
  shows; scaled by the cell count, so uniform attention gives 100 − q), so the attention does not learn to look away from a shadow.

- attention on the anatomy: where the map marks the plane's required structures, at least half the
  attention lies on their cells, ``relu(log ½ − log Σ_struct a)`` — the score is won or lost on
  the anatomy, not on the fluid around it (``TrainConfig.w_struct``; 0: off).

Images without an artefact (or without a map) add nothing to the first two; the weight is
``TrainConfig.w_cells``.
"""
from __future__ import annotations

import math

import numpy as np


class CellLoss:
    """``CellLoss(train_split, config)(outputs, cells, bidx, rank, world)`` -> scalar loss (torch)."""

    def __init__(self, tr, config):
        self.w = float(getattr(config, "w_cells", 0.0))
        self.margin = float(getattr(config, "cell_margin", 30.0))
        self.ws = float(getattr(config, "w_struct", 0.0))
        self.has = getattr(tr, "has_cells", None)
        self.on = ((self.w > 0 or self.ws > 0) and self.has is not None and getattr(tr, "cells", None) is not None
                   and bool(self.has.any()))

    def __call__(self, out, cells, bidx, rank: int = 0, world: int = 1):
        import torch

        real = np.asarray(bidx)[rank::world]
        r = len(real)
        has = torch.from_numpy(self.has[real]).to(cells.device)
        q, a = out[1][:r], out[2][:r]
        if q.shape[-2:] != cells.shape[-2:]:
            raise ValueError(f"artefact cells are {tuple(cells.shape[-2:])}, the heatmap {tuple(q.shape[-2:])}")
        art, fan = cells[:, 0], cells[:, 1]
        total = 0.0 * q.sum()
        if self.ws > 0 and cells.shape[1] > 2:
            on_s = (cells[:, 2] >= 0.05).float()
            use_s = has & (on_s.sum((1, 2)) >= 1)
            if bool(use_s.any()):
                share = (a * on_s).sum((1, 2))
                l_s = torch.relu(math.log(0.5) - torch.log(share + 1e-4))
                total = total + self.ws * (l_s * use_s.float()).sum() / use_s.float().sum()
        if self.w <= 0:
            return total
        inside = fan >= 0.5
        m_art = (inside & (art >= 0.5)).float()
        m_clean = (inside & (art < 0.1)).float()
        n_art, n_clean = m_art.sum((1, 2)), m_clean.sum((1, 2))
        use = has & (n_art >= 2) & (n_clean >= 2)
        if not bool(use.any()):
            return total
        d = a * (a.shape[-1] * a.shape[-2]) * (100.0 - q)  # per cell, 100 − q at uniform attention

        def mean(v, m, n):
            return (v * m).sum((1, 2)) / n.clamp_min(1.0)

        l_q = torch.relu(mean(q, m_art, n_art) - mean(q, m_clean, n_clean) + self.margin) / 100.0
        ratio = torch.log((mean(d, m_art, n_art) + 1.0) / (mean(d, m_clean, n_clean) + 1.0))
        l_d = torch.relu(math.log(2.0) - ratio)
        return total + self.w * ((l_q + l_d) * use.float()).sum() / use.float().sum()
