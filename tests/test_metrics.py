import numpy as np
import pytest
from scipy import stats

from train import metrics


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 100, n)
    # labels a logistic (monotonic, non-linear) function of the predictions plus noise: the
    # 4-parameter mapping should raise PLCC above the raw value
    y = 100 / (1 + np.exp(-(p - 50) / 8)) + rng.normal(0, 3, n)
    return p, y


def test_rank_metrics_match_scipy():
    p, y = _data()
    m = metrics.compute(p, y)
    assert m["srcc"] == pytest.approx(stats.spearmanr(p, y).statistic, abs=1e-12)
    assert m["krcc"] == pytest.approx(stats.kendalltau(p, y).statistic, abs=1e-12)
    assert m["plcc_raw"] == pytest.approx(stats.pearsonr(p, y).statistic, abs=1e-10)


def test_logistic_mapping_improves_plcc_and_matches_scipy_on_mapped():
    p, y = _data()
    m = metrics.compute(p, y)
    assert m["fit"] == "logistic"
    assert m["plcc"] > m["plcc_raw"] + 0.01
    mapped, _ = metrics.map_predictions(p, y)
    assert m["plcc"] == pytest.approx(stats.pearsonr(mapped, y).statistic, abs=1e-10)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((mapped - y) ** 2)), abs=1e-10)
    assert m["rmse"] < m["rmse_raw"]


def test_perfect_linear_predictions():
    y = np.linspace(0, 100, 50)
    m = metrics.compute(2 * y + 5, y)
    assert m["plcc"] == pytest.approx(1.0, abs=1e-6)
    assert m["srcc"] == pytest.approx(1.0) and m["krcc"] == pytest.approx(1.0)
    assert m["rmse"] < 0.5


def test_fallback_on_constant_predictions_and_bad_input():
    y = np.linspace(0, 100, 20)
    m = metrics.compute(np.full(20, 50.0), y)
    assert m["plcc"] == 0.0 and m["srcc"] == 0.0 and "linear" in m["fit"]
    assert m["rmse"] == pytest.approx(np.std(y), rel=1e-6)
    # tiny splits (a site's first few labelled images): no 4-parameter fit, a linear one, no crash
    for n in (2, 3, 4):
        t = metrics.compute(np.arange(n, dtype=float), np.arange(n, dtype=float) * 10 + 5)
        assert "too few points" in t["fit"] and t["srcc"] == pytest.approx(1.0) and t["rmse"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="differ in length"):
        metrics.compute([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        metrics.compute([1, np.nan, 3], [1, 2, 3])


def test_bootstrap_ci_seeded_and_covers_estimate():
    p, y = _data(120, seed=1)
    a = metrics.bootstrap_ci(p, y, n_boot=200, seed=3)
    b = metrics.bootstrap_ci(p, y, n_boot=200, seed=3)
    assert a == b
    m = metrics.compute(p, y)
    for k in metrics.METRICS:
        lo, hi = a[k]
        assert lo < hi
        assert lo - 1e-9 <= m[k] <= hi + 1e-9
    ev = metrics.evaluate(p, y, n_boot=50)
    assert set(ev["ci95"]) == set(metrics.METRICS)
    assert "plcc" in metrics.format_table(ev)


def test_anti_correlated_predictions_keep_their_sign():
    p, y = _data()
    m = metrics.compute(-p, y)
    assert m["plcc"] == pytest.approx(stats.pearsonr(-p, y).statistic, abs=1e-10)
    assert m["plcc"] < -0.9 and m["srcc"] < -0.9 and "linear" in m["fit"]


def _width(ci):
    return ci[1] - ci[0]


def test_group_bootstrap_resamples_patients_not_frames():
    """20 frames per patient that carry the same information: the independent unit is the patient,
    so the interval must be as wide as for the 12 patients alone, not 20x narrower in variance."""
    rng = np.random.default_rng(0)
    y_p = rng.uniform(0, 100, 12)
    p_p = y_p + rng.normal(0, 20, 12)
    rep = 20
    y, p = np.repeat(y_p, rep), np.repeat(p_p, rep) + rng.normal(0, 0.01, 12 * rep)
    groups = np.repeat([f"patient{i}" for i in range(12)], rep)
    by_image = metrics.bootstrap_ci(p, y, n_boot=300, seed=0, keys=("srcc", "plcc"))
    by_group = metrics.bootstrap_ci(p, y, n_boot=300, seed=0, keys=("srcc", "plcc"), groups=groups)
    alone = metrics.bootstrap_ci(p_p, y_p, n_boot=300, seed=1, keys=("srcc", "plcc"))
    for k in ("srcc", "plcc"):
        assert _width(by_group[k]) > 3 * _width(by_image[k])
        assert _width(by_group[k]) == pytest.approx(_width(alone[k]), rel=0.35)
    ev = metrics.evaluate(p, y, n_boot=20, groups=groups)
    assert ev["ci_unit"] == "12 groups"
    # images without a group are groups of their own: that is the image bootstrap
    none = metrics.bootstrap_ci(p, y, n_boot=50, seed=2, groups=[None] * len(y))
    assert none == metrics.bootstrap_ci(p, y, n_boot=50, seed=2)
    with pytest.raises(ValueError, match="groups"):
        metrics.bootstrap_ci(p, y, n_boot=5, groups=groups[:-1])


def test_paired_bootstrap_difference_and_its_interval():
    """B = A plus a little extra noise: on the same images A is better every time, which the paired
    interval shows (excludes 0) while the two separate intervals overlap."""
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 100, 150)
    a = y + rng.normal(0, 15, 150)
    b = a + rng.normal(0, 10, 150)
    pb = metrics.paired_bootstrap(a, b, y, n_boot=300, seed=0)
    ma, mb = metrics.compute(a, y), metrics.compute(b, y)
    for k in metrics.METRICS:
        assert pb[k]["diff"] == pytest.approx(ma[k] - mb[k], abs=1e-12)
        lo, hi = pb[k]["ci"]
        assert lo <= pb[k]["diff"] <= hi
    assert pb["srcc"]["ci"][0] > 0 and pb["plcc"]["ci"][0] > 0 and pb["rmse"]["ci"][1] < 0
    assert pb["srcc"]["p_a_better"] > 0.97 and pb["rmse"]["p_a_better"] > 0.97
    sa, sb = metrics.bootstrap_ci(a, y, 300, 0), metrics.bootstrap_ci(b, y, 300, 0)
    assert sa["srcc"][0] < sb["srcc"][1]  # separately the intervals overlap
    # a model against itself: a zero difference with a zero-width interval
    same = metrics.paired_bootstrap(a, a, y, n_boot=50, seed=0)
    assert same["srcc"]["ci"] == (0.0, 0.0) and same["srcc"]["p_a_better"] == 0.0
