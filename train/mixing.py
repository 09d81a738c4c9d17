"""Mixing strategies and batch samplers: CMX (clustering-based mix-up), plain mix-up, C-Mixup, none.

CMX (Chen et al. 2025, as we read the abstract):

1. **cluster** the training set with k-means (scikit-learn, seeded) on
   ``[standardised pooled model features (model.embed), label_weight · standardised label]`` —
   re-clustered every ``recluster_every`` epochs as the features change;
2. **sample** each batch stratified over the clusters (every cluster contributes in proportion to its
   size, remainders drawn by probability), so that every batch covers the label range the way the
   whole set does — which is what lets a loss on global correlation (GCC) be trained batch by batch;
3. **mix** a share ``mix_share`` of each batch into pseudo-samples x̃ = λx_i + (1−λ)x_j,
   ỹ = λy_i + (1−λ)y_j, λ ~ Beta(α, α), with the partner j drawn from i's own cluster with probability
   ``p_within`` (similar content and quality: a plausible new image) and from another cluster otherwise
   (spreads the labels between clusters).

Baselines: ``mixup`` (partner uniform over the batch), ``cmixup`` (Yao et al. 2022: partner drawn
with P(j|i) ∝ exp(−|y_i − y_j|² / 2σ²)), ``none``.

Everything here works on indices and numpy/torch arrays; the trainer owns the images.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIXINGS = ("cmx", "mixup", "cmixup", "none")


@dataclass
class MixConfig:
    kind: str = "cmx"
    k: int = 6  # clusters
    alpha: float = 0.4  # Beta(α, α) for λ
    p_within: float = 0.7  # share of within-cluster partners (CMX)
    mix_share: float = 0.5  # share of each batch turned into pseudo-samples
    sigma: float = 10.0  # C-Mixup label bandwidth (score points)
    recluster_every: int = 2  # epochs
    label_weight: float = 2.0  # weight of the label column in the clustering space


# --------------------------------------------------------------------------------------------------
# clustering


def cluster(features: np.ndarray, labels: np.ndarray, k: int, seed: int = 0, label_weight: float = 2.0) -> np.ndarray:
    """k-means cluster ids (N,) on standardised features ⊕ label_weight·standardised labels.

    The feature block is scaled so that, as a whole, it weighs as much as one standardised column
    (otherwise C feature columns would drown the one label column).
    """
    from sklearn.cluster import KMeans

    f = np.asarray(features, np.float64)
    y = np.asarray(labels, np.float64).reshape(-1, 1)
    n = len(y)
    k = int(max(1, min(k, n)))
    if k == 1:
        return np.zeros(n, np.int64)
    f = (f - f.mean(0)) / (f.std(0) + 1e-8)
    f = f / np.sqrt(max(1, f.shape[1]))
    ys = (y - y.mean()) / (y.std() + 1e-8)
    z = np.concatenate([f, label_weight * ys], 1)
    km = KMeans(n_clusters=k, n_init=3, random_state=seed)
    return km.fit_predict(z).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# batch samplers (yield arrays of dataset indices)


def random_batches(n: int, batch_size: int, rng: np.random.Generator, drop_last: bool = False) -> list[np.ndarray]:
    perm = rng.permutation(n)
    out = [perm[i : i + batch_size] for i in range(0, n, batch_size)]
    if drop_last and out and len(out[-1]) < batch_size and len(out) > 1:
        out = out[:-1]
    return out


def stratified_batches(clusters: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of batches, each drawn stratified over the clusters (every index used once).

    Each cluster's indices are shuffled and dealt out across the batches as evenly as possible (a
    cluster of size m contributes ⌊m/nb⌋ or ⌈m/nb⌉ to each of the nb batches), so each batch's
    cluster composition — and hence its label distribution — mirrors the whole set's.
    """
    clusters = np.asarray(clusters)
    n = len(clusters)
    nb = max(1, int(round(n / batch_size)))
    buckets: list[list[int]] = [[] for _ in range(nb)]
    offset = int(rng.integers(0, nb))
    for c in rng.permutation(np.unique(clusters)):
        idx = rng.permutation(np.flatnonzero(clusters == c))
        # deal round robin, continuing where the previous cluster stopped: sizes stay balanced
        for j, i in enumerate(idx):
            buckets[(offset + j) % nb].append(int(i))
        offset = (offset + len(idx)) % nb
    order = rng.permutation(nb)
    return [rng.permutation(np.asarray(buckets[b], np.int64)) for b in order if buckets[b]]


# --------------------------------------------------------------------------------------------------
# partner choice and mixing


def _lam(alpha: float, size: int, rng: np.random.Generator) -> np.ndarray:
    if alpha <= 0:
        return np.ones(size)
    return rng.beta(alpha, alpha, size)


def choose_partners(
    kind: str,
    idx: np.ndarray,
    labels: np.ndarray,
    clusters: np.ndarray | None,
    rng: np.random.Generator,
    cfg: MixConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Partners (dataset indices) for each index in ``idx``, and whether each pair is within-cluster.

    Partners are drawn from the whole training set (not only the batch) so that small batches still
    find a partner in the right cluster.
    """
    idx = np.asarray(idx)
    n = len(labels)
    within = np.zeros(len(idx), bool)
    if kind == "mixup":
        return rng.integers(0, n, len(idx)), within
    if kind == "cmixup":
        y = np.asarray(labels, np.float64)
        partners = np.empty(len(idx), np.int64)
        for t, i in enumerate(idx):
            w = np.exp(-((y - y[i]) ** 2) / (2 * cfg.sigma**2))
            w[i] = 0.0
            s = w.sum()
            partners[t] = rng.choice(n, p=w / s) if s > 0 else rng.integers(0, n)
        return partners, within
    if kind == "cmx":
        if clusters is None:
            raise ValueError("CMX needs cluster assignments")
        clusters = np.asarray(clusters)
        members = {c: np.flatnonzero(clusters == c) for c in np.unique(clusters)}
        partners = np.empty(len(idx), np.int64)
        for t, i in enumerate(idx):
            c = clusters[i]
            same = members[c]
            other = np.flatnonzero(clusters != c)
            want_within = rng.random() < cfg.p_within
            if (want_within and len(same) > 1) or len(other) == 0:
                cand = same[same != i] if len(same) > 1 else same
                partners[t] = rng.choice(cand)
                within[t] = True
            else:
                partners[t] = rng.choice(other)
        return partners, within
    raise ValueError(f"unknown mixing {kind!r}; choose one of {MIXINGS}")


@dataclass
class MixPlan:
    """Which batch slots become pseudo-samples, with whom, and with which λ."""

    slots: np.ndarray  # positions within the batch that are mixed
    partners: np.ndarray  # dataset indices of their partners
    lam: np.ndarray  # λ per mixed slot (weight of the original sample)
    within: np.ndarray  # bool per mixed slot: partner from the same cluster


def plan_mix(
    batch_idx: np.ndarray, labels: np.ndarray, clusters: np.ndarray | None, rng: np.random.Generator, cfg: MixConfig
) -> MixPlan:
    b = len(batch_idx)
    if cfg.kind == "none" or cfg.mix_share <= 0 or b == 0:
        e = np.zeros(0, np.int64)
        return MixPlan(e, e, np.zeros(0), np.zeros(0, bool))
    m = int(np.floor(cfg.mix_share * b + rng.random()))  # stochastic rounding: share holds on average
    m = min(b, m)
    slots = np.sort(rng.choice(b, m, replace=False))
    partners, within = choose_partners(cfg.kind, np.asarray(batch_idx)[slots], labels, clusters, rng, cfg)
    return MixPlan(slots, partners, _lam(cfg.alpha, m, rng), within)


def apply_mix(x, y, x_partner, y_partner, plan: MixPlan):
    """Mix in place-free: returns (x', y') with the planned slots replaced by λ-mixes.

    ``x``/``y`` are the batch (numpy or torch, first axis = batch); ``x_partner``/``y_partner`` the
    partners' inputs and labels in the order of ``plan.slots``.
    """
    if len(plan.slots) == 0:
        return x, y
    try:
        import torch

        is_torch = isinstance(x, torch.Tensor)
    except ImportError:  # pragma: no cover
        is_torch = False
    if is_torch:
        lam = torch.as_tensor(plan.lam, dtype=x.dtype, device=x.device)
        slots = torch.as_tensor(plan.slots, device=x.device)
        x = x.clone()
        y = y.clone()
        shape = (-1,) + (1,) * (x.dim() - 1)
        x[slots] = lam.view(shape) * x[slots] + (1 - lam.view(shape)) * x_partner
        y[slots] = lam.to(y.dtype) * y[slots] + (1 - lam.to(y.dtype)) * y_partner
        return x, y
    lam = plan.lam.astype(np.float32)
    x = np.array(x, copy=True)
    y = np.array(y, np.float32, copy=True)
    shape = (-1,) + (1,) * (x.ndim - 1)
    x[plan.slots] = lam.reshape(shape) * x[plan.slots] + (1 - lam.reshape(shape)) * x_partner
    y[plan.slots] = lam * y[plan.slots] + (1 - lam) * y_partner
    return x, y
