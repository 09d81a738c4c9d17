import numpy as np
import pytest
import torch
from scipy import stats

from train import mixing
from train.mixing import MixConfig


def _set(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.normal(20, 5, n // 4), rng.normal(50, 5, n // 2), rng.normal(85, 4, n - 3 * n // 4)])
    # features correlated with the label plus a nuisance factor
    f = np.stack([y / 10 + rng.normal(0, 1, n), rng.normal(0, 1, n), rng.normal(0, 1, n)], 1)
    return f, y


def _skewed(n=400, seed=0):
    """Labels like real FUIQA sets (most frames acceptable, 60-79), features = two content types
    independent of the label plus noise."""
    rng = np.random.default_rng(seed)
    y = np.clip(np.concatenate([rng.normal(70, 5, int(n * 0.7)), rng.uniform(20, 60, int(n * 0.15)),
                                rng.uniform(80, 98, n - int(n * 0.7) - int(n * 0.15))]), 0, 100)
    kind = rng.integers(0, 2, n)
    f = np.stack([4.0 * kind + rng.normal(0, 1, n), rng.normal(0, 1, n), rng.normal(0, 1, n)], 1)
    return f, y, kind


def test_clusters_seeded_and_k_clipped():
    f, y = _set()
    c1 = mixing.cluster(f, y, k=4, seed=1)
    assert np.array_equal(c1, mixing.cluster(f, y, k=4, seed=1)) and len(np.unique(c1)) == 4
    assert mixing.cluster(f[:3], y[:3], k=10).max() <= 2  # k clipped to n


def test_clusters_follow_features_not_labels():
    """CMX clusters on content: two feature groups independent of the label are found whatever the
    labels are (clustering on 2x the standardised label made the clusters label bins)."""
    from sklearn.metrics import adjusted_rand_score

    f, y, kind = _skewed()
    c = mixing.cluster(f, y, k=2, seed=0)
    assert adjusted_rand_score(kind, c) > 0.9
    # and the labels spread inside each cluster as in the whole set
    for k in (0, 1):
        assert y[c == k].std() > 0.8 * y.std()


@pytest.mark.parametrize("n,B,sizes", [(50, 16, [16, 16, 18]), (51, 16, [16, 16, 16, 3]), (48, 16, [16, 16, 16]),
                                       (33, 32, [33]), (40, 32, [32, 8])])
def test_batches_per_epoch_ceil_with_short_tail_merged(n, B, sizes):
    """ceil(n/B) batches; a tail of < 3 samples (a correlation over 2 samples is ±1 with an exploding
    gradient) is merged into the previous batch; random and stratified samplers agree on the count."""
    assert mixing.n_batches(n, B) == len(sizes)
    rand = mixing.random_batches(n, B, np.random.default_rng(0))
    assert sorted(len(b) for b in rand) == sorted(sizes)
    clusters = np.random.default_rng(1).integers(0, 4, n)
    strat = mixing.stratified_batches(clusters, B, np.random.default_rng(0))
    assert len(strat) == len(sizes) and min(len(b) for b in strat) >= 3
    for bs in (rand, strat):
        assert np.array_equal(np.sort(np.concatenate(bs)), np.arange(n))  # every index once


def test_stratified_batches_cover_label_range_like_the_set():
    f, y = _set()
    c = mixing.cluster(f, y, k=6, seed=0, label_weight=2.0)
    strat = mixing.stratified_batches(c, 32, np.random.default_rng(0))
    rand = mixing.random_batches(len(y), 32, np.random.default_rng(0))
    g = y.std()
    dev_s = np.array([abs(y[b].std() - g) / g for b in strat])
    dev_r = np.array([abs(y[b].std() - g) / g for b in rand])
    assert dev_s.max() < 0.15 and dev_s.mean() < 0.6 * dev_r.mean()
    assert max(len(b) for b in strat) - min(len(b) for b in strat) <= 1


def test_gap_targets_go_to_the_bins_the_batch_lacks():
    _, y, _ = _skewed()
    rng = np.random.default_rng(0)
    low = np.flatnonzero(y < np.median(y))
    batch = rng.choice(low, 16, replace=False)  # only the lower half of the label distribution
    t = mixing.gap_targets(y[batch], y, 8, rng, n_bins=8)
    assert len(t) == 8 and np.all(t >= np.median(y))  # all of them aimed at the empty upper half
    assert np.all(np.isin(t, y))  # real training labels


def _ks(a, b):
    return stats.ks_2samp(a, b).statistic


def test_cmx_pairs_bracket_the_target_inside_a_cluster_and_bring_batches_closer_to_global():
    f, y, _ = _skewed(seed=3)
    c = mixing.cluster(f, y, k=4, seed=0)
    cfg = MixConfig(kind="cmx", mix_share=0.5, lam_clip=0.0)
    rng = np.random.default_rng(5)
    ks_real, ks_mixed, within = [], [], []
    for epoch in range(10):
        for b in mixing.stratified_batches(c, 32, rng):
            plan = mixing.plan_mix(b, y, c, rng, cfg)
            assert 13 <= len(plan) <= 17
            np.testing.assert_allclose(plan.target, plan.lam * y[plan.a] + (1 - plan.lam) * y[plan.b])
            assert np.all(plan.a != plan.b) and np.all((plan.lam >= 0) & (plan.lam <= 1))
            assert np.all(c[plan.a[plan.within]] == c[plan.b[plan.within]])
            lo, hi = np.minimum(y[plan.a], y[plan.b]), np.maximum(y[plan.a], y[plan.b])
            assert np.all((plan.target >= lo - 1e-9) & (plan.target <= hi + 1e-9))
            ks_real.append(_ks(y[b], y))
            ks_mixed.append(_ks(np.concatenate([y[b], plan.target]), y))
            within.append(plan.within.mean())
    assert np.mean(within) > 0.9
    assert np.mean(ks_mixed) < 0.85 * np.mean(ks_real)


def test_lambda_clipped_and_ramp_scales_the_share():
    f, y, _ = _skewed(seed=1)
    c = mixing.cluster(f, y, k=3, seed=0)
    rng = np.random.default_rng(0)
    b = np.arange(32)
    plan = mixing.plan_mix(b, y, c, rng, MixConfig(kind="cmx", mix_share=0.5, lam_clip=0.2))
    assert np.all((plan.lam >= 0.2 - 1e-12) & (plan.lam <= 0.8 + 1e-12))
    n_half = np.mean([len(mixing.plan_mix(b, y, c, rng, MixConfig(kind="cmx", mix_share=0.5), ramp=0.5)) for _ in range(200)])
    assert n_half == pytest.approx(8.0, abs=0.5)  # 0.5 · 0.5 · 32
    assert len(mixing.plan_mix(b, y, c, rng, MixConfig(kind="cmx"), ramp=0.0)) == 0
    assert len(mixing.plan_mix(b, y, c, rng, MixConfig(kind="none"))) == 0
    with pytest.raises(ValueError, match="cluster"):
        mixing.plan_mix(b, y, None, rng, MixConfig(kind="cmx"))


def test_cmixup_partners_are_close_in_label():
    f, y = _set()
    rng = np.random.default_rng(0)
    idx = np.arange(0, 400, 4)
    p_c = mixing.choose_partners("cmixup", idx, y, rng, MixConfig(sigma=5))
    p_u = mixing.choose_partners("mixup", idx, y, rng, MixConfig())
    assert np.mean(np.abs(y[p_c] - y[idx])) < 0.3 * np.mean(np.abs(y[p_u] - y[idx]))
    plan = mixing.plan_mix(np.arange(32), y, None, rng, MixConfig(kind="mixup", mix_share=0.5))
    np.testing.assert_allclose(plan.target, plan.lam * y[plan.a] + (1 - plan.lam) * y[plan.b])


@pytest.mark.parametrize("as_torch", [False, True])
def test_mix_inputs_is_the_lambda_blend(as_torch):
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(5, 1, 4, 4)).astype(np.float32), rng.normal(size=(5, 1, 4, 4)).astype(np.float32)
    lam = rng.uniform(0, 1, 5)
    ref = lam[:, None, None, None] * xa + (1 - lam[:, None, None, None]) * xb
    out = mixing.mix_inputs(torch.from_numpy(xa), torch.from_numpy(xb), lam).numpy() if as_torch else mixing.mix_inputs(xa, xb, lam)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


class _Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Linear(4, 3)
        self.head = torch.nn.Linear(3, 1)

    def features(self, x):
        return torch.tanh(self.enc(x))

    def forward(self, x):
        return self.head(self.features(x))[:, 0]


def test_mixed_features_scores_real_and_feature_blends():
    torch.manual_seed(0)
    m = _Toy()
    real, a, b = torch.randn(4, 4), torch.randn(2, 4), torch.randn(2, 4)
    lam = np.array([0.25, 0.8])
    with mixing.mixed_features(m, 4, lam):
        out = m(torch.cat([real, a, b]))
    assert out.shape == (6,)
    lt = torch.tensor(lam, dtype=torch.float32)[:, None]
    ref = m.head(lt * m.features(a) + (1 - lt) * m.features(b))[:, 0]
    torch.testing.assert_close(out[:4], m(real))
    torch.testing.assert_close(out[4:], ref)
    assert "features" not in m.__dict__  # the model is left as it was
    with pytest.raises(RuntimeError, match="did not call"):
        with mixing.mixed_features(m, 4, lam):
            m.head(torch.randn(2, 3))


def test_mixed_features_on_the_mqf_model():
    from engine.model import build_model

    torch.manual_seed(0)
    model = build_model("rt", "mqf").eval()
    x = torch.randn(5, 1, 128, 128)
    with torch.no_grad():
        with mixing.mixed_features(model, 3, np.array([0.5])):
            s, hm, att = model(x)[:3]
        ref = model(x[:3])[0]
    assert s.shape == (4,) and hm.shape[0] == 4 and att.shape[0] == 4
    torch.testing.assert_close(s[:3], ref, rtol=1e-4, atol=1e-3)
