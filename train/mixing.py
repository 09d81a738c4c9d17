"""Mixing strategies and batch samplers: CMX (clustering-based mix-up), plain mix-up, C-Mixup, none.

CMX (Chen et al. 2025: pseudo-samples that make each batch mimic the global label distribution, so
that a correlation loss on the batch, GCC, approximates the global metric), as implemented here:

1. **cluster** the training set with k-means (scikit-learn, seeded) on the standardised pooled model
   features (``model.embed``) — features only, so that clusters group similar content, not label
   bins (``label_weight`` > 0 adds the old label column back, for comparison). The trainer clusters
   only after ``cmx_start`` warm-up epochs (features of a random-init network mean nothing) and
   re-clusters every ``recluster_every`` epochs;
2. **sample** each batch stratified over the clusters (every cluster dealt out evenly across the
   batches), so each batch covers the set's content;
3. **append** ``m ≈ mix_share·B`` pseudo-samples aimed at the label bins the batch lacks: the
   training labels are cut into ``n_bins`` quantile bins (equal global mass); bin k's deficit is
   ``(B + m)/n_bins − count_k`` and the m targets go to the bins with a deficit, in proportion to it;
   each target t is a real training label drawn from its bin; its pair (a, b) lies inside one cluster
   and brackets t (y_a ≤ t ≤ y_b, nearest members on each side), λ = (y_b − t)/(y_b − y_a) clipped
   to [lam_clip, 1 − lam_clip], label λy_a + (1−λ)y_b. Pixel mixing blends the two images; feature
   mixing (:func:`mixed_features`) blends the fused MQF features and runs the heads on the blend
   (a pixel blend of two B-mode images is a double exposure, not an image the scanner makes).
   The loss (GCC) is computed over real + pseudo samples.

Baselines (pseudo-samples appended the same way, partner of a random batch member i): ``mixup``
(partner uniform over the set, λ ~ Beta(α, α)), ``cmixup`` (Yao et al. 2022: partner drawn with
P(j|i) ∝ exp(−|y_i − y_j|² / 2σ²)), ``none``.

Every sampler makes :func:`n_batches` batches per epoch (ceil(n/B), a tail of fewer than
``min_size`` samples merged into the previous batch: a batch of 2 gives the correlation terms a
vanishing or exploding gradient), so the LR schedule, which counts the same number, ends where
intended and every variant gets the same number of updates.

Everything here works on indices and numpy/torch arrays; the trainer owns the images.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

MIXINGS = ("cmx", "mixup", "cmixup", "none")
MIX_SPACES = ("feature", "pixel")


@dataclass
class MixConfig:
    kind: str = "cmx"
    k: int = 6  # clusters
    alpha: float = 0.4  # Beta(α, α) for λ (mixup / cmixup)
    p_within: float = 1.0  # CMX: share of pairs required to lie inside one cluster (else any bracketing pair)
    mix_share: float = 0.25  # pseudo-samples appended per batch, as a share of the batch size
    sigma: float = 10.0  # C-Mixup label bandwidth (score points)
    recluster_every: int = 2  # epochs
    label_weight: float = 0.0  # weight of a label column in the clustering space (0: features only)
    n_bins: int = 8  # CMX: quantile bins of the global label distribution
    lam_clip: float = 0.1  # CMX: λ clipped to [lam_clip, 1 − lam_clip]
    n_near: int = 3  # CMX: partners drawn among the n_near cluster members nearest the target on each side


# --------------------------------------------------------------------------------------------------
# clustering


def cluster(features: np.ndarray, labels: np.ndarray | None = None, k: int = 6, seed: int = 0,
            label_weight: float = 0.0) -> np.ndarray:
    """k-means cluster ids (N,) on standardised features (⊕ label_weight·standardised label if > 0).

    The feature block is scaled so that, as a whole, it weighs as much as one standardised column.
    """
    from sklearn.cluster import KMeans

    f = np.asarray(features, np.float64)
    n = len(f)
    k = int(max(1, min(k, n)))
    if k == 1:
        return np.zeros(n, np.int64)
    f = (f - f.mean(0)) / (f.std(0) + 1e-8)
    f = f / np.sqrt(max(1, f.shape[1]))
    if label_weight > 0 and labels is not None:
        y = np.asarray(labels, np.float64).reshape(-1, 1)
        f = np.concatenate([f, label_weight * (y - y.mean()) / (y.std() + 1e-8)], 1)
    km = KMeans(n_clusters=k, n_init=3, random_state=seed)
    return km.fit_predict(f).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# batch samplers (yield arrays of dataset indices)


def n_batches(n: int, batch_size: int, min_size: int = 3) -> int:
    """Batches per epoch: ceil(n/B), one fewer when the tail (n mod B) is below ``min_size`` (merged)."""
    b = max(1, min(int(batch_size), int(n)))
    nb = max(1, math.ceil(n / b))
    if nb > 1 and 0 < n % b < min_size:
        nb -= 1
    return nb


def random_batches(n: int, batch_size: int, rng: np.random.Generator, min_size: int = 3) -> list[np.ndarray]:
    """A random permutation cut into :func:`n_batches` batches of B (a short tail merged into the last)."""
    perm = rng.permutation(n)
    nb = n_batches(n, batch_size, min_size)
    b = max(1, min(int(batch_size), int(n)))
    out = [perm[i * b : (i + 1) * b] for i in range(nb - 1)]
    out.append(perm[(nb - 1) * b :])
    return out


def stratified_batches(clusters: np.ndarray, batch_size: int, rng: np.random.Generator,
                       min_size: int = 3) -> list[np.ndarray]:
    """One epoch of :func:`n_batches` batches, each drawn stratified over the clusters (every index once).

    Each cluster's indices are shuffled and dealt out across the batches round robin (a cluster of
    size m contributes ⌊m/nb⌋ or ⌈m/nb⌉ to each batch), so each batch's cluster composition mirrors
    the whole set's and batch sizes differ by at most one.
    """
    clusters = np.asarray(clusters)
    n = len(clusters)
    nb = n_batches(n, batch_size, min_size)
    buckets: list[list[int]] = [[] for _ in range(nb)]
    offset = int(rng.integers(0, nb))
    for c in rng.permutation(np.unique(clusters)):
        idx = rng.permutation(np.flatnonzero(clusters == c))
        for j, i in enumerate(idx):  # continue where the previous cluster stopped: sizes stay balanced
            buckets[(offset + j) % nb].append(int(i))
        offset = (offset + len(idx)) % nb
    order = rng.permutation(nb)
    return [rng.permutation(np.asarray(buckets[b], np.int64)) for b in order if buckets[b]]


# --------------------------------------------------------------------------------------------------
# planning pseudo-samples


@dataclass
class MixPlan:
    """Pseudo-samples to append to a batch: λ·x[a] + (1−λ)·x[b] with label ``target``."""

    a: np.ndarray  # dataset indices of the first partner
    b: np.ndarray  # dataset indices of the second partner
    lam: np.ndarray  # weight of a
    target: np.ndarray  # label of the pseudo-sample (λ·y_a + (1−λ)·y_b)
    within: np.ndarray  # bool: both partners in one cluster

    def __len__(self):
        return len(self.a)

    def take(self, sel) -> "MixPlan":
        return MixPlan(self.a[sel], self.b[sel], self.lam[sel], self.target[sel], self.within[sel])


def _empty_plan() -> MixPlan:
    e = np.zeros(0, np.int64)
    return MixPlan(e, e.copy(), np.zeros(0), np.zeros(0), np.zeros(0, bool))


def label_bins(labels: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner edges (n_bins − 1,) of quantile bins of the global label distribution."""
    return np.quantile(np.asarray(labels, np.float64), np.linspace(0, 1, n_bins + 1)[1:-1])


def gap_targets(batch_labels: np.ndarray, labels: np.ndarray, m: int, rng: np.random.Generator,
                n_bins: int = 8) -> np.ndarray:
    """m target labels for the bins the batch lacks relative to the global (training) distribution.

    Bins are global quantile bins (mass 1/n_bins each); the batch plus m pseudo-samples should hold
    (B + m)/n_bins per bin; the m targets go to bins with a deficit in proportion to it (largest
    remainders), each a training label drawn from its bin.
    """
    labels = np.asarray(labels, np.float64)
    if m <= 0:
        return np.zeros(0)
    nb = int(max(1, min(n_bins, len(np.unique(labels)))))
    edges = label_bins(labels, nb)
    have = np.bincount(np.searchsorted(edges, batch_labels, side="right"), minlength=nb)[:nb]
    deficit = np.maximum(0.0, (len(batch_labels) + m) / nb - have)
    if deficit.sum() <= 0:
        deficit = np.ones(nb)
    share = deficit / deficit.sum() * m
    count = np.floor(share).astype(int)
    rest = m - count.sum()
    if rest > 0:  # largest remainders, ties broken at random
        order = np.lexsort((rng.random(nb), -(share - count)))
        count[order[:rest]] += 1
    gbin = np.searchsorted(edges, labels, side="right")
    out = [rng.choice(labels[gbin == k], c) for k, c in enumerate(count) if c > 0 and np.any(gbin == k)]
    t = np.concatenate(out) if out else rng.choice(labels, m)
    return rng.permutation(t)[:m] if len(t) >= m else np.concatenate([t, rng.choice(labels, m - len(t))])


def bracket_pair(t: float, labels: np.ndarray, members: np.ndarray, rng: np.random.Generator,
                 n_near: int = 3) -> tuple[int, int] | None:
    """(a, b) among ``members`` with y_a ≤ t ≤ y_b, a ≠ b, drawn among the n_near nearest on each side."""
    y = labels[members]
    lo, hi = members[y <= t], members[y >= t]
    if len(lo) == 0 or len(hi) == 0 or len(members) < 2:
        return None
    lo = lo[np.argsort(t - labels[lo], kind="stable")[:n_near]]
    hi = hi[np.argsort(labels[hi] - t, kind="stable")[:n_near]]
    a = int(rng.choice(lo))
    hi = hi[hi != a]
    if len(hi) == 0:
        return None
    return a, int(rng.choice(hi))


def plan_cmx(batch_idx, labels, clusters, m: int, rng: np.random.Generator, cfg: MixConfig) -> MixPlan:
    """m gap-filling pseudo-samples for a batch (see the module docstring)."""
    if clusters is None:
        raise ValueError("CMX needs cluster assignments")
    labels = np.asarray(labels, np.float64)
    clusters = np.asarray(clusters)
    targets = gap_targets(labels[np.asarray(batch_idx)], labels, m, rng, cfg.n_bins)
    members = {c: np.flatnonzero(clusters == c) for c in np.unique(clusters)}
    everyone = np.arange(len(labels))
    a, b, within = [], [], []
    for t in targets:
        pair, inside = None, False
        if rng.random() < cfg.p_within:
            # clusters that bracket t, weighted by how many members lie near t (similar quality there)
            cand = [c for c, mem in members.items() if len(mem) > 1 and labels[mem].min() <= t <= labels[mem].max()]
            if cand:
                near = np.array([np.sum(np.abs(labels[members[c]] - t) <= 5.0) + 0.5 for c in cand])
                c = cand[int(rng.choice(len(cand), p=near / near.sum()))]
                pair, inside = bracket_pair(t, labels, members[c], rng, cfg.n_near), True
        if pair is None:
            pair, inside = bracket_pair(t, labels, everyone, rng, cfg.n_near), False
            if pair is not None:
                inside = bool(clusters[pair[0]] == clusters[pair[1]])
        if pair is None:  # t at a global extreme held by one image only: mix it with its nearest neighbour
            order = np.argsort(np.abs(labels - t), kind="stable")
            pair = (int(order[0]), int(order[1]))
            inside = bool(clusters[pair[0]] == clusters[pair[1]])
        a.append(pair[0])
        b.append(pair[1])
        within.append(inside)
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    gap = labels[b] - labels[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(np.abs(gap) > 1e-9, (labels[b] - targets) / gap, 0.5)
    lam = np.clip(lam, cfg.lam_clip, 1 - cfg.lam_clip)
    return MixPlan(a, b, lam, lam * labels[a] + (1 - lam) * labels[b], np.asarray(within, bool))


def _lam(alpha: float, size: int, rng: np.random.Generator) -> np.ndarray:
    if alpha <= 0:
        return np.ones(size)
    return rng.beta(alpha, alpha, size)


def choose_partners(kind: str, idx: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                    cfg: MixConfig) -> np.ndarray:
    """Partners (dataset indices, drawn from the whole set) for each index in ``idx`` (mixup / cmixup)."""
    idx = np.asarray(idx)
    n = len(labels)
    if kind == "mixup":
        return rng.integers(0, n, len(idx))
    if kind == "cmixup":
        y = np.asarray(labels, np.float64)
        partners = np.empty(len(idx), np.int64)
        for t, i in enumerate(idx):
            w = np.exp(-((y - y[i]) ** 2) / (2 * cfg.sigma**2))
            w[i] = 0.0
            s = w.sum()
            partners[t] = rng.choice(n, p=w / s) if s > 0 else rng.integers(0, n)
        return partners
    raise ValueError(f"unknown mixing {kind!r}; choose one of {MIXINGS}")


def n_pseudo(batch_size: int, share: float, rng: np.random.Generator) -> int:
    """Pseudo-samples for a batch: share·B with stochastic rounding (the share holds on average)."""
    if share <= 0 or batch_size <= 0:
        return 0
    return int(np.floor(share * batch_size + rng.random()))


def plan_mix(batch_idx, labels, clusters, rng: np.random.Generator, cfg: MixConfig, ramp: float = 1.0) -> MixPlan:
    """The pseudo-samples to append to a batch (``ramp`` ∈ [0, 1] scales the share while it ramps in)."""
    batch_idx = np.asarray(batch_idx)
    if cfg.kind == "none":
        return _empty_plan()
    if cfg.kind not in MIXINGS:
        raise ValueError(f"unknown mixing {cfg.kind!r}; choose one of {MIXINGS}")
    m = n_pseudo(len(batch_idx), cfg.mix_share * float(np.clip(ramp, 0, 1)), rng)
    if m == 0 or len(batch_idx) == 0:
        return _empty_plan()
    if cfg.kind == "cmx":
        return plan_cmx(batch_idx, labels, clusters, m, rng, cfg)
    y = np.asarray(labels, np.float64)
    a = rng.choice(batch_idx, m, replace=m > len(batch_idx))
    b = choose_partners(cfg.kind, a, y, rng, cfg)
    lam = _lam(cfg.alpha, m, rng)
    return MixPlan(a.astype(np.int64), b, lam, lam * y[a] + (1 - lam) * y[b], np.zeros(m, bool))


# --------------------------------------------------------------------------------------------------
# applying a plan


def mix_inputs(xa, xb, lam):
    """λ·xa + (1−λ)·xb over the first axis (numpy or torch)."""
    try:
        import torch

        if isinstance(xa, torch.Tensor):
            lam_t = torch.as_tensor(lam, dtype=xa.dtype, device=xa.device).view((-1,) + (1,) * (xa.dim() - 1))
            return lam_t * xa + (1 - lam_t) * xb
    except ImportError:  # pragma: no cover
        pass
    lam = np.asarray(lam, np.float32).reshape((-1,) + (1,) * (np.ndim(xa) - 1))
    return lam * xa + (1 - lam) * xb


@contextmanager
def mixed_features(model, n_real: int, lam):
    """While active, ``model.features(x)`` for x = [real (n_real); a (m); b (m)] returns
    [features(real); λ·features(a) + (1−λ)·features(b)], so the model's heads score n_real + m samples.

    Uses only the model's public ``features`` method (the forward pass calls it); raises if the
    forward pass did not go through it (the pseudo-samples would otherwise be silently wrong).
    """
    import torch

    orig = model.features
    calls = {"n": 0}
    lam_t = torch.as_tensor(np.asarray(lam), dtype=torch.float32)
    m = len(lam_t)

    def features(x):
        f = orig(x)
        if f.shape[0] != n_real + 2 * m:
            raise ValueError(f"mixed_features: expected {n_real} + 2·{m} inputs, got {f.shape[0]}")
        calls["n"] += 1
        lam_f = lam_t.to(f.device, f.dtype).view((-1,) + (1,) * (f.dim() - 1))
        return torch.cat([f[:n_real], lam_f * f[n_real : n_real + m] + (1 - lam_f) * f[n_real + m :]], 0)

    model.features = features
    try:
        yield calls
    finally:
        del model.features
    if calls["n"] == 0:
        raise RuntimeError("mixed_features: the model's forward pass did not call model.features")
