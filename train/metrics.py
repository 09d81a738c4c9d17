"""IQA evaluation metrics (numpy/scipy only, no torch).

The convention (VQEG / every IQA paper): PLCC and RMSE are computed after a monotonic 4-parameter
logistic mapping of the predictions onto the labels,

    f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2,

fitted with ``scipy.optimize.curve_fit`` and required to be increasing (a decreasing fit would report
an anti-correlated model as a good one); SRCC and KRCC are rank statistics and use the raw
predictions. ``plcc_raw`` is the plain Pearson correlation without the mapping. If the logistic fit
fails (or would make things worse, e.g. on degenerate data) the identity/linear mapping is used and
``fit`` says so.

``evaluate(pred, mos, n_boot=1000, seed=0, groups=None)`` returns all metrics plus bootstrap 95%
intervals (resampling whole groups — patients, sweeps — when given); ``paired_bootstrap(a, b, mos)``
the difference between two models on the same resampled images, with its interval.
"""
from __future__ import annotations

import warnings

import math

import numpy as np
from scipy import optimize, stats

METRICS = ("plcc", "srcc", "krcc", "rmse")


def logistic4(x, b1, b2, b3, b4):
    z = np.clip(-(x - b3) / (np.abs(b4) + 1e-12), -60.0, 60.0)
    return (b1 - b2) / (1.0 + np.exp(z)) + b2


def _as_arrays(pred, mos) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, np.float64).ravel()
    y = np.asarray(mos, np.float64).ravel()
    if p.shape != y.shape:
        raise ValueError(f"predictions ({p.size}) and labels ({y.size}) differ in length")
    if p.size < 2:
        raise ValueError(f"need at least 2 samples to compute correlations, got {p.size}")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(y))):
        raise ValueError("predictions or labels contain NaN/inf")
    return p, y


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def fit_logistic(pred, mos) -> tuple[np.ndarray | None, str]:
    """Fit the 4-parameter logistic; returns (params, "logistic") or (None, reason) if it fails."""
    p, y = _as_arrays(pred, mos)
    if np.std(p) < 1e-12:
        return None, "constant predictions"
    if len(p) < 5:  # 4 parameters need more points than that to mean anything (curve_fit refuses < 4)
        return None, f"too few points ({len(p)}) for the 4-parameter fit"
    # robust initial guess: span of labels, centre at the median prediction, slope from the IQR
    b1, b2 = float(np.max(y)), float(np.min(y))  # an increasing curve: the mapping must not flip the sign
    b3 = float(np.median(p))
    iqr = float(np.subtract(*np.percentile(p, [75, 25])))
    b4 = max(iqr / 2.0, float(np.std(p)) / 4.0, 1e-3)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params, _ = optimize.curve_fit(logistic4, p, y, p0=[b1, b2, b3, b4], maxfev=20000)
    except (RuntimeError, ValueError, TypeError, optimize.OptimizeWarning) as e:  # pragma: no cover - rare
        return None, f"fit failed: {e}"
    if not np.all(np.isfinite(params)):
        return None, "fit diverged"
    if params[0] <= params[1]:  # decreasing: would turn an anti-correlated predictor into a good one
        return None, "fit not increasing"
    return params, "logistic"


def map_predictions(pred, mos) -> tuple[np.ndarray, str]:
    """Predictions mapped onto the label scale (logistic, or a linear fit as fallback)."""
    p, y = _as_arrays(pred, mos)
    params, how = fit_logistic(p, y)
    if params is not None:
        mapped = logistic4(p, *params)
        # a fit that correlates worse than the raw predictions is a failed fit
        if np.all(np.isfinite(mapped)) and abs(_pearson(mapped, y)) >= abs(_pearson(p, y)) - 1e-6:
            return mapped, how
        how = "fit worse than raw"
    # fallback: least-squares line (keeps PLCC = raw PLCC, gives a meaningful RMSE)
    if np.std(p) < 1e-12:
        return np.full_like(y, y.mean()), f"linear ({how})"
    a, b = np.polyfit(p, y, 1)
    return a * p + b, f"linear ({how})"


def compute(pred, mos) -> dict:
    """PLCC (after mapping), raw PLCC, SRCC, KRCC, RMSE (after mapping), n, and the fit used."""
    p, y = _as_arrays(pred, mos)
    mapped, how = map_predictions(p, y)
    # PLCC after the (increasing) logistic; with the linear fallback the raw PLCC (keeps its sign)
    plcc = _pearson(mapped, y) if how == "logistic" else _pearson(p, y)
    srcc = stats.spearmanr(p, y).statistic if np.std(p) > 0 and np.std(y) > 0 else 0.0
    krcc = stats.kendalltau(p, y).statistic if np.std(p) > 0 and np.std(y) > 0 else 0.0
    return {
        "plcc": plcc,
        "plcc_raw": _pearson(p, y),
        "srcc": float(np.nan_to_num(srcc)),
        "krcc": float(np.nan_to_num(krcc)),
        "rmse": float(np.sqrt(np.mean((mapped - y) ** 2))),
        "rmse_raw": float(np.sqrt(np.mean((p - y) ** 2))),
        "n": int(p.size),
        "fit": how,
    }


def _group_index(n: int, groups) -> list[np.ndarray] | None:
    """Indices per group (images without a group are groups of one); None when ``groups`` is None."""
    if groups is None:
        return None
    g = list(groups)
    if len(g) != n:
        raise ValueError(f"groups ({len(g)}) and predictions ({n}) differ in length")
    by: dict = {}
    for i, k in enumerate(g):
        by.setdefault(("g", k) if k is not None and k == k and k != "" else ("i", i), []).append(i)
    return [np.asarray(v, np.int64) for v in by.values()]


def resample_indices(rng: np.random.Generator, n: int, index: list[np.ndarray] | None) -> np.ndarray:
    """One bootstrap resample: n images with replacement, or (with ``index``) as many whole groups
    as there are, with replacement — the unit that is independent (a patient, a sweep)."""
    if index is None:
        return rng.integers(0, n, n)
    pick = rng.integers(0, len(index), len(index))
    return np.concatenate([index[j] for j in pick])


def _interval(v, level: float) -> tuple[float, float]:
    if not len(v):
        return float("nan"), float("nan")
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return float(np.percentile(v, lo)), float(np.percentile(v, hi))


def bootstrap_ci(pred, mos, n_boot: int = 1000, seed: int = 0, level: float = 0.95, keys=METRICS,
                 groups=None) -> dict:
    """Percentile bootstrap intervals, seeded; resampling images, or whole ``groups`` when given
    (one id per image, e.g. train.data.Item.group: frames of one patient or sweep are not
    independent, and resampling them one by one gives intervals that are too narrow).

    The logistic is refitted per resample for PLCC/RMSE (the honest way); when ``n_boot`` is large and
    the set is big this costs a second or two.
    """
    p, y = _as_arrays(pred, mos)
    rng = np.random.default_rng(seed)
    index = _group_index(p.size, groups)
    vals = {k: [] for k in keys}
    for _ in range(n_boot):
        idx = resample_indices(rng, p.size, index)
        if idx.size < 2 or np.std(y[idx]) < 1e-12 or np.std(p[idx]) < 1e-12:
            continue
        m = compute(p[idx], y[idx])
        for k in keys:
            vals[k].append(m[k])
    return {k: _interval(v, level) for k, v in vals.items()}


LOWER_IS_BETTER = ("rmse", "rmse_raw")


def paired_bootstrap(pred_a, pred_b, mos, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                     keys=METRICS, groups=None) -> dict:
    """Model A vs model B on the same images: metric(A) − metric(B) on the same resampled indices.

    Returns {metric: {"a", "b", "diff", "ci": (lo, hi), "p_a_better"}}; ``p_a_better`` is the share of
    resamples where A is better (higher, or lower for RMSE). Pairing removes the part of the
    uncertainty both models share (which images are hard), so the difference's interval is much
    narrower than the two separate intervals suggest. ``groups`` resamples whole groups.
    """
    a, y = _as_arrays(pred_a, mos)
    b, _ = _as_arrays(pred_b, mos)
    ma, mb = compute(a, y), compute(b, y)
    rng = np.random.default_rng(seed)
    index = _group_index(y.size, groups)
    diffs = {k: [] for k in keys}
    for _ in range(n_boot):
        idx = resample_indices(rng, y.size, index)
        if idx.size < 2 or np.std(y[idx]) < 1e-12 or np.std(a[idx]) < 1e-12 or np.std(b[idx]) < 1e-12:
            continue
        ra, rb = compute(a[idx], y[idx]), compute(b[idx], y[idx])
        for k in keys:
            diffs[k].append(ra[k] - rb[k])
    out = {}
    for k in keys:
        d = np.asarray(diffs[k])
        better = (d < 0) if k in LOWER_IS_BETTER else (d > 0)
        out[k] = {"a": float(ma[k]), "b": float(mb[k]), "diff": float(ma[k] - mb[k]), "ci": _interval(d, level),
                  "p_a_better": float(better.mean()) if d.size else float("nan")}
    return out


def evaluate(pred, mos, n_boot: int = 1000, seed: int = 0, groups=None) -> dict:
    """All metrics plus ``ci95`` {metric: (lo, hi)} from ``n_boot`` bootstrap resamples (0 = none),
    resampling whole ``groups`` when given (and saying so in ``ci_unit``)."""
    m = compute(pred, mos)
    if n_boot > 0:
        m["ci95"] = {k: list(v) for k, v in bootstrap_ci(pred, mos, n_boot, seed, groups=groups).items()}
        index = _group_index(m["n"], groups)
        m["ci_unit"] = f"{len(index)} groups" if index is not None else "images"
    return m


def format_table(m: dict, title: str | None = None) -> str:
    """A small text table of the metrics (with 95% CIs when present)."""
    lines = [title] if title else []
    lines.append(f"{'metric':<8} {'value':>8}   95% CI")
    ci = m.get("ci95", {})
    for k in ("plcc", "plcc_raw", "srcc", "krcc", "rmse"):
        if k not in m:
            continue
        c = ci.get(k)
        cs = f"[{c[0]:.4f}, {c[1]:.4f}]" if c else ""
        lines.append(f"{k:<8} {m[k]:>8.4f}   {cs}")
    lines.append(f"n = {m.get('n')}, mapping: {m.get('fit')}")
    return "\n".join(lines)


def json_safe(obj):
    """``obj`` with every NaN/inf float replaced by ``None`` (JSON has no NaN: a bare ``NaN`` breaks
    strict readers), numpy scalars as Python numbers, tuples as lists."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
