"""Metrics and losses against their written definitions (train/metrics.py, train/losses.py
docstrings), on inputs where a wrong formula gives a different number."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from train.losses import GCCLoss, NormInNormLoss
from train.metrics import bootstrap_ci, compute, fit_logistic, logistic4


def test_logistic4_is_the_vqeg_curve():
    """f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2."""
    b1, b2, b3, b4 = 90.0, 10.0, 50.0, 8.0
    assert logistic4(b3, b1, b2, b3, b4) == pytest.approx((b1 + b2) / 2)
    x = b3 + b4 * math.log(3)  # exp(-ln 3) = 1/3 -> (b1 - b2) * 3/4 + b2
    assert logistic4(x, b1, b2, b3, b4) == pytest.approx(b2 + 0.75 * (b1 - b2))
    assert logistic4(x, b1, b2, b3, -b4) == pytest.approx(b2 + 0.75 * (b1 - b2))  # |b4|
    assert logistic4(-1e6, b1, b2, b3, b4) == pytest.approx(b2) and logistic4(1e6, b1, b2, b3, b4) == pytest.approx(b1)


def test_five_points_are_enough_for_the_fit():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    y = logistic4(x, 80.0, 20.0, 2.0, 0.7)
    params, how = fit_logistic(x, y)
    assert how == "logistic" and params is not None
    np.testing.assert_allclose(logistic4(x, *params), y, atol=1e-3)
    assert fit_logistic(x[:4], y[:4])[0] is None  # 4 points: too few for 4 parameters


def test_compute_on_exact_logistic_data():
    """Labels that are an increasing logistic of the predictions: after the mapping PLCC = 1 and RMSE =
    0; SRCC and KRCC are the rank statistics of the raw predictions (scipy)."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 10, 40)
    y = logistic4(p, 95.0, 5.0, 5.0, 1.3)
    m = compute(p, y)
    assert m["fit"] == "logistic" and m["plcc"] == pytest.approx(1.0, abs=1e-6) and m["rmse"] < 1e-3
    assert m["plcc_raw"] == pytest.approx(stats.pearsonr(p, y).statistic)
    assert m["srcc"] == pytest.approx(1.0) and m["krcc"] == pytest.approx(1.0)
    noisy = y + rng.normal(0, 8, y.size)
    m = compute(p, noisy)
    assert m["srcc"] == pytest.approx(stats.spearmanr(p, noisy).statistic)
    assert m["krcc"] == pytest.approx(stats.kendalltau(p, noisy).statistic)
    assert m["rmse_raw"] == pytest.approx(float(np.sqrt(np.mean((p - noisy) ** 2))))


def test_constant_predictions_have_zero_rank_correlation():
    m = compute(np.full(10, 3.0), np.arange(10.0))
    assert m["srcc"] == 0.0 and m["krcc"] == 0.0 and m["plcc"] == 0.0


def test_bootstrap_interval_levels():
    """Percentile intervals: level 0 is the median of the bootstrap distribution (lo == hi); a wider
    level contains a narrower one."""
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 30)
    y = p * 50 + rng.normal(0, 10, 30)
    c0 = bootstrap_ci(p, y, n_boot=60, seed=2, level=0.0, keys=("srcc",))["srcc"]
    assert c0[0] == pytest.approx(c0[1])
    c50 = bootstrap_ci(p, y, n_boot=60, seed=2, level=0.5, keys=("srcc",))["srcc"]
    c95 = bootstrap_ci(p, y, n_boot=60, seed=2, level=0.95, keys=("srcc",))["srcc"]
    assert c95[0] < c50[0] < c0[0] < c50[1] < c95[1]


def test_gcc_queue_of_one_joins_the_correlation():
    """queue_size 1: the correlation terms of the next batch include the newest queued prediction."""
    g = torch.Generator().manual_seed(0)
    a, ya = torch.rand(6, generator=g) * 100, torch.rand(6, generator=g) * 100
    b, yb = torch.rand(6, generator=g) * 100, torch.rand(6, generator=g) * 100
    q = GCCLoss(w_mae=0.0, queue_size=1, gather=False).train()
    q(a, ya)
    got = q(b, yb)
    want = GCCLoss(w_mae=0.0, gather=False)(torch.cat([b, a[:1]]), torch.cat([yb, ya[:1]]))
    assert float(got) == pytest.approx(float(want), abs=1e-6)
    assert abs(float(got) - float(GCCLoss(w_mae=0.0, gather=False)(b, yb))) > 1e-4


def test_norm_in_norm_is_zero_for_a_perfect_prediction():
    y = torch.tensor([10.0, 30.0, 55.0, 70.0, 95.0])
    assert float(NormInNormLoss(gather=False)(y, y)) == pytest.approx(0.0, abs=1e-3)
    # and its MAE term is |pred - target| / 100 · w_mae
    off = NormInNormLoss(gather=False, w_mae=1.0)(y + 10, y) - NormInNormLoss(gather=False, w_mae=0.0)(y + 10, y)
    assert float(off) == pytest.approx(0.1, abs=1e-6)
