import numpy as np
import pytest
import torch

from train import mixing
from train.mixing import MixConfig


def _set(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.normal(20, 5, n // 4), rng.normal(50, 5, n // 2), rng.normal(85, 4, n - 3 * n // 4)])
    # features correlated with the label plus a nuisance factor
    f = np.stack([y / 10 + rng.normal(0, 1, n), rng.normal(0, 1, n), rng.normal(0, 1, n)], 1)
    return f, y


def test_clusters_seeded_and_label_aware():
    f, y = _set()
    c1 = mixing.cluster(f, y, k=4, seed=1)
    c2 = mixing.cluster(f, y, k=4, seed=1)
    assert np.array_equal(c1, c2) and len(np.unique(c1)) == 4
    # label weight makes clusters much tighter in label than the set
    within_std = np.mean([y[c1 == c].std() for c in np.unique(c1)])
    assert within_std < 0.5 * y.std()
    assert mixing.cluster(f[:3], y[:3], k=10).max() <= 2  # k clipped to n


def test_stratified_batches_cover_label_range_like_the_set():
    f, y = _set()
    c = mixing.cluster(f, y, k=6, seed=0)
    rng = np.random.default_rng(0)
    strat = mixing.stratified_batches(c, 32, rng)
    rand = mixing.random_batches(len(y), 32, np.random.default_rng(0))
    allidx = np.sort(np.concatenate(strat))
    assert np.array_equal(allidx, np.arange(len(y)))  # every index once
    g = y.std()
    dev_s = np.array([abs(y[b].std() - g) / g for b in strat])
    dev_r = np.array([abs(y[b].std() - g) / g for b in rand])
    mean_s = np.array([abs(y[b].mean() - y.mean()) for b in strat])
    mean_r = np.array([abs(y[b].mean() - y.mean()) for b in rand])
    assert dev_s.max() < 0.15  # every stratified batch's spread within 15 % of the set's
    assert dev_s.mean() < 0.6 * dev_r.mean()
    assert mean_s.mean() < 0.6 * mean_r.mean()
    assert max(len(b) for b in strat) - min(len(b) for b in strat) <= 1 + 6


def test_within_cluster_partners_come_from_one_cluster():
    f, y = _set()
    c = mixing.cluster(f, y, k=5, seed=0)
    rng = np.random.default_rng(4)
    idx = rng.choice(len(y), 200, replace=False)
    cfg = MixConfig(kind="cmx", p_within=0.7)
    partners, within = mixing.choose_partners("cmx", idx, y, c, rng, cfg)
    assert np.all(c[partners[within]] == c[idx[within]])
    assert np.all(c[partners[~within]] != c[idx[~within]])
    assert np.all(partners[within] != idx[within])
    assert 0.6 < within.mean() < 0.8


def test_cmixup_partners_are_close_in_label():
    f, y = _set()
    rng = np.random.default_rng(0)
    idx = np.arange(0, 400, 4)
    p_c, _ = mixing.choose_partners("cmixup", idx, y, None, rng, MixConfig(sigma=5))
    p_u, _ = mixing.choose_partners("mixup", idx, y, None, rng, MixConfig())
    assert np.mean(np.abs(y[p_c] - y[idx])) < 0.3 * np.mean(np.abs(y[p_u] - y[idx]))


@pytest.mark.parametrize("as_torch", [False, True])
def test_mixed_labels_are_the_lambda_mix(as_torch):
    f, y = _set()
    c = mixing.cluster(f, y, k=4, seed=0)
    rng = np.random.default_rng(1)
    batch = np.arange(32)
    cfg = MixConfig(kind="cmx", mix_share=0.5, alpha=0.4)
    plan = mixing.plan_mix(batch, y, c, rng, cfg)
    assert 10 <= len(plan.slots) <= 22
    x = np.random.default_rng(0).normal(size=(len(y), 1, 4, 4)).astype(np.float32)
    xb, yb = x[batch], y[batch].astype(np.float32)
    xp, yp = x[plan.partners], y[plan.partners].astype(np.float32)
    if as_torch:
        xm, ym = mixing.apply_mix(torch.from_numpy(xb), torch.from_numpy(yb), torch.from_numpy(xp), torch.from_numpy(yp), plan)
        xm, ym = xm.numpy(), ym.numpy()
    else:
        xm, ym = mixing.apply_mix(xb, yb, xp, yp, plan)
    lam = plan.lam
    np.testing.assert_allclose(ym[plan.slots], lam * yb[plan.slots] + (1 - lam) * yp, rtol=1e-5)
    np.testing.assert_allclose(xm[plan.slots], lam[:, None, None, None] * xb[plan.slots] + (1 - lam[:, None, None, None]) * xp, rtol=1e-5, atol=1e-6)
    keep = np.setdiff1d(np.arange(32), plan.slots)
    np.testing.assert_array_equal(ym[keep], yb[keep])
    assert np.all((lam >= 0) & (lam <= 1))
    assert mixing.plan_mix(batch, y, c, rng, MixConfig(kind="none")).slots.size == 0
