"""Losses: GCC (global correlation consistency) and the baselines MSE, L1, Norm-in-Norm.

GCC, for predictions ŷ and labels y on 0–100::

    L = w_plcc·(1 − PLCC(ŷ, y)) + w_srcc·(1 − softSRCC(ŷ, y)) + w_mae·mean|ŷ − y| / 100

* PLCC is the Pearson correlation over the batch (std guarded by ``eps`` so constant batches give a
  finite loss and finite gradients).
* softSRCC = Pearson(soft ranks of ŷ, ranks of y), soft rank r_i = Σ_j σ((ŷ_i − ŷ_j)/τ) (pairwise
  sigmoid, O(B²)). Label ranks are exact (average ranks for ties), no gradient. τ is scale-free
  when ``tau_rel`` > 0: τ = tau_rel · std(ŷ) over the samples ranked (detached), so the soft ranks
  are invariant to the predictions' scale — a fixed τ in score points made soft-SRCC ≈ PLCC early
  in training (all predictions within a few points: every sigmoid in its linear part) and gave no
  gradient later (pairs more than ~4τ apart sit in the sigmoid's flat tails). With ``tau_rel`` = 0
  τ = ``tau`` score points (the old behaviour). Default 0.2: on batches of 32 with SRCC ≈ 0.8,
  soft-SRCC is within 0.009 of SRCC (mean over 200 batches) and about half of all pairs lie within
  4.6τ (sigmoid slope > 1 % of its peak); 0.05 gives 0.004 but only 15 % of pairs.
* the MAE term keeps the scale anchored to 0–100 (the correlation terms are scale-free).
* ``queue``: the correlation terms can span more than one batch: the last ``queue_size`` detached
  predictions and labels are appended to the current batch (which alone carries gradients).
* distributed: with ``gather=True`` under an initialised torch.distributed process group, predictions
  and labels are gathered from every rank *with gradients* (each rank's slot keeps its autograd graph),
  so the correlation is global, not per rank. The MAE term is averaged globally too.

All losses are ``nn.Module``s taking ``(pred (B,), target (B,))`` and returning a scalar; build one by
name with :func:`make_loss`.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

LOSSES = ("gcc", "mse", "l1", "nin")


def pearson(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Differentiable Pearson correlation of two 1-D tensors; 0-ish (not NaN) on constant input."""
    a = a - a.mean()
    b = b - b.mean()
    na = torch.sqrt((a * a).sum() + eps)
    nb = torch.sqrt((b * b).sum() + eps)
    return (a * b).sum() / (na * nb)


def soft_rank(x: torch.Tensor, tau: float | torch.Tensor = 1.0) -> torch.Tensor:
    """r_i = Σ_j σ((x_i − x_j)/τ): a smooth rank (0.5 … B−0.5), O(B²)."""
    d = (x[:, None] - x[None, :]) / tau
    return torch.sigmoid(d).sum(dim=1)


def hard_rank(x: torch.Tensor) -> torch.Tensor:
    """Average ranks (ties get the mean rank), like scipy.stats.rankdata; no gradient."""
    x = x.detach()
    less = (x[:, None] > x[None, :]).sum(1).to(x.dtype)
    equal = (x[:, None] == x[None, :]).sum(1).to(x.dtype)
    return less + (equal + 1) / 2


class _GatherAll(torch.autograd.Function):
    """all_gather of equal-size tensors whose backward sums every rank's gradient for the local slot.

    Every rank computes the same global loss L; the backward all-reduces dL/d(gathered) so each rank
    gets W·dL/d(local slot); DDP then averages parameter gradients over the W ranks, which gives
    exactly the single-process gradient of L.
    """

    @staticmethod
    def forward(ctx, t):
        import torch.distributed as dist

        ctx.world, ctx.rank, ctx.n = dist.get_world_size(), dist.get_rank(), t.shape[0]
        parts = [torch.empty_like(t) for _ in range(ctx.world)]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, g):
        import torch.distributed as dist

        g = g.contiguous().clone()
        dist.all_reduce(g)
        return g[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """Concatenate ``t`` (B, ...) from all ranks in rank order, with gradients (see :class:`_GatherAll`).

    Ranks may hold different batch sizes (the last batch): sizes are gathered first, each rank pads
    to the largest, and the padding is dropped after the gather. Without an initialised process group
    (or with one rank) ``t`` is returned unchanged.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return t
    world = dist.get_world_size()
    n = torch.tensor([t.shape[0]], device=t.device, dtype=torch.long)
    sizes = [torch.zeros_like(n) for _ in range(world)]
    dist.all_gather(sizes, n)
    sizes = [int(s.item()) for s in sizes]
    m = max(sizes)
    if t.shape[0] < m:
        t = torch.cat([t, t.new_zeros((m - t.shape[0],) + tuple(t.shape[1:]))], 0)
    full = _GatherAll.apply(t)
    return torch.cat([full[r * m : r * m + s] for r, s in enumerate(sizes)], 0)


class GCCLoss(nn.Module):
    """Global correlation consistency loss (see module docstring)."""

    def __init__(
        self,
        w_plcc: float = 1.0,
        w_srcc: float = 1.0,
        w_mae: float = 0.5,
        tau: float = 2.0,
        queue_size: int = 0,
        tau_rel: float = 0.2,
        gather: bool = True,
        eps: float = 1e-6,
    ):
        super().__init__()
        self.w_plcc, self.w_srcc, self.w_mae = w_plcc, w_srcc, w_mae
        self.tau, self.tau_rel, self.queue_size, self.gather, self.eps = tau, tau_rel, queue_size, gather, eps
        self.q_pred: torch.Tensor | None = None
        self.q_true: torch.Tensor | None = None
        self.last: dict = {}

    def reset_queue(self) -> None:
        self.q_pred = self.q_true = None

    def queue_state(self) -> dict:
        """The queue (detached, CPU) for a checkpoint; :meth:`load_queue_state` restores it."""
        cpu = lambda t: None if t is None else t.detach().cpu().clone()  # noqa: E731
        return {"q_pred": cpu(self.q_pred), "q_true": cpu(self.q_true)}

    def load_queue_state(self, state: dict | None) -> None:
        state = state or {}
        self.q_pred, self.q_true = state.get("q_pred"), state.get("q_true")

    def temperature(self, p: torch.Tensor) -> torch.Tensor | float:
        """Soft-rank τ for predictions ``p``: tau_rel·std(p) (detached, ≥ 1e-3) or the fixed ``tau``."""
        if self.tau_rel > 0:
            return (self.tau_rel * p.detach().std(unbiased=False)).clamp_min(1e-3)
        return self.tau

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred = pred.reshape(-1)
        target = target.reshape(-1).to(pred.dtype)
        if self.gather:
            pred = gather_with_grad(pred)
            target = gather_with_grad(target)
        mae = (pred - target).abs().mean() / 100.0
        p, y = pred, target
        if self.q_pred is not None:  # a queue restored from a checkpoint lives on the CPU
            self.q_pred, self.q_true = self.q_pred.to(pred.device, pred.dtype), self.q_true.to(pred.device, pred.dtype)
        if self.queue_size > 0 and self.q_pred is not None and self.q_pred.numel() > 0:
            p = torch.cat([pred, self.q_pred])
            y = torch.cat([target, self.q_true])
        if self.queue_size > 0 and self.training:
            qp = torch.cat([pred.detach(), self.q_pred]) if self.q_pred is not None else pred.detach()
            qy = torch.cat([target.detach(), self.q_true]) if self.q_true is not None else target.detach()
            self.q_pred, self.q_true = qp[: self.queue_size], qy[: self.queue_size]
        loss = pred.new_zeros(())
        plcc = pearson(p, y, self.eps)
        loss = loss + self.w_plcc * (1.0 - plcc)
        if self.w_srcc > 0:
            srcc = pearson(soft_rank(p, self.temperature(p)), hard_rank(y), self.eps)
            loss = loss + self.w_srcc * (1.0 - srcc)
        else:
            srcc = plcc.new_zeros(())
        loss = loss + self.w_mae * mae
        self.last = {"plcc": float(plcc.detach()), "soft_srcc": float(srcc.detach()), "mae": float(mae.detach()) * 100}
        return loss


class NormInNormLoss(nn.Module):
    """Norm-in-Norm (Li et al. 2020): centre, divide by the q-norm, then (‖ŷ′ − y′‖_p / s)^p.

    With p = q = 2 this equals (1 − PLCC)/2. A small MAE term (``w_mae``) anchors the 0–100 scale,
    which the normalised loss alone leaves free (the paper adds a linear head; our score is 0–100).
    """

    def __init__(self, p: float = 1.0, q: float = 2.0, w_mae: float = 0.5, eps: float = 1e-6, gather: bool = True):
        super().__init__()
        self.p, self.q, self.w_mae, self.eps, self.gather = p, q, w_mae, eps, gather

    def forward(self, pred, target):
        pred = pred.reshape(-1)
        target = target.reshape(-1).to(pred.dtype)
        if self.gather:
            pred, target = gather_with_grad(pred), gather_with_grad(target)
        n = pred.numel()
        a = pred - pred.mean()
        b = target - target.mean()
        a = a / (a.abs().pow(self.q).sum() + self.eps).pow(1.0 / self.q)
        b = b / (b.abs().pow(self.q).sum() + self.eps).pow(1.0 / self.q)
        s = 2 ** max(1.0, 1.0 / self.q) * n ** max(0.0, 1.0 / self.p - 1.0 / self.q)
        diff = (a - b).abs().pow(self.p).sum() + self.eps
        loss = (diff.pow(1.0 / self.p) / s).pow(self.p)
        return loss + self.w_mae * (pred - target).abs().mean() / 100.0


class MSELoss(nn.Module):
    """Mean squared error on the 0–100 scale, divided by 100² (so it is O(0.01–0.1))."""

    def forward(self, pred, target):
        return F.mse_loss(pred.reshape(-1), target.reshape(-1).to(pred.dtype)) / 100.0**2


class L1Loss(nn.Module):
    def forward(self, pred, target):
        return F.l1_loss(pred.reshape(-1), target.reshape(-1).to(pred.dtype)) / 100.0


def make_loss(name: str, **kw) -> nn.Module:
    name = name.lower()
    if name == "gcc":
        return GCCLoss(**kw)
    if name == "nin":
        return NormInNormLoss(**{k: v for k, v in kw.items() if k in ("p", "q", "w_mae", "eps", "gather")})
    if name == "mse":
        return MSELoss()
    if name == "l1":
        return L1Loss()
    raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}")
