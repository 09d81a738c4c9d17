"""The plane and criteria heads' training loss (rows that carry those labels)."""
from __future__ import annotations

import numpy as np

from .prepared import Split
from .config import TrainConfig


class _HeadLoss:
    """Plane cross-entropy + criteria BCE on the rows that carry those labels (real rows only: a
    blend of two frames has no one plane); rows of planes the product does not assess (4CH) carry
    no score label."""

    def __init__(self, tr: Split, config: TrainConfig, model):
        import torch

        from engine.result import PLANES

        self.on = bool(model.cfg.heads) and tr.plane is not None and (bool((tr.plane >= 0).any())
                                                                         or bool((~np.isnan(tr.crit)).any()))
        self.wp, self.wc = float(config.w_plane), float(config.w_criteria)
        if not self.on:
            return
        self.plane = torch.from_numpy(tr.plane)
        self.crit = torch.from_numpy(tr.crit)
        self.scored = torch.from_numpy(tr.plane != PLANES.index("4CH"))
        self.any_unscored = not bool(self.scored.all())

    def score_rows(self, bidx, rank, world, n_out: int):
        """Rows of the batch output that carry a score label: real rows of assessed planes, then every
        pseudo-sample (their targets are scores); None when all rows do."""
        import torch

        if not self.on or not self.any_unscored:
            return None
        real = self.scored[np.asarray(bidx)[rank::world]]
        return torch.cat([real, torch.ones(n_out - len(real), dtype=torch.bool)])

    def __call__(self, out, bidx, rank, world, device):
        """On the real rows only (they come first): a blend of two frames has no one plane."""
        import torch
        import torch.nn.functional as F

        if len(out) < 5:  # score, heatmap, attention, plane, criteria (the ood output is eval-only)
            return 0.0
        # the heads always join the graph (DDP needs every parameter used), at weight 0 without labels
        loss = 0.0 * (out[3].sum() + out[4].sum())
        if not self.on:
            return loss
        real = np.asarray(bidx)[rank::world]
        plane, crit = self.plane[real].to(device), self.crit[real].to(device)
        r = len(real)
        p_prob, c_prob = out[3][:r], out[4][:r]
        m = plane >= 0
        if self.wp > 0 and bool(m.any()):
            # out[3] is softmax probabilities (the graph output): NLL on their log
            loss = loss + self.wp * F.nll_loss(torch.log(p_prob[m].clamp_min(1e-6)), plane[m])
        c = ~torch.isnan(crit)
        if self.wc > 0 and bool(c.any()):
            loss = loss + self.wc * F.binary_cross_entropy(c_prob[c].clamp(1e-6, 1 - 1e-6), crit[c])
        return loss
