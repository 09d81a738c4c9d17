"""Evaluation helpers: model outputs over cached inputs, head metrics, the feature density check, and
a packaged model scored on a labelled split through the product's scorers."""
from __future__ import annotations


import numpy as np

from . import metrics as M
from .config import TrainConfig, TrainError
from .distributed import _dist, _rank_world
from .prepared import Prepared, Split, find_roi_box, to_model_input, u8_to_gray01

# --------------------------------------------------------------------------------------------------
# evaluation helpers


def _batched(model, fn, x_u8: np.ndarray, device, batch: int) -> np.ndarray:
    """Run ``fn(model, inputs)`` over cached uint8 inputs (N,S,S) in eval mode, no grad."""
    import torch

    was = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x_u8), batch):
            t = torch.from_numpy(x_u8[i : i + batch]).to(device)[:, None]
            out.append(fn(model, to_model_input(u8_to_gray01(t))).float().cpu().numpy())
    model.train(was)
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def predict(model, x_u8: np.ndarray, device, batch: int = 128) -> np.ndarray:
    """Scores for cached uint8 inputs (N,S,S)."""
    return _batched(model, lambda m, x: m(x)[0], x_u8, device, batch)


def embed(model, x_u8: np.ndarray, device, batch: int = 128) -> np.ndarray:
    """Pooled MQF features for cached uint8 inputs (N,S,S) — what CMX clusters on."""
    return _batched(model, lambda m, x: m.embed(x), x_u8, device, batch)


def recalibrate_bn(model, x_u8: np.ndarray, device, batch: int = 64) -> None:
    """Re-estimate BatchNorm running statistics on clean (un-mixed, un-augmented) inputs.

    Training batches are half pseudo-samples (mixing averages speckle away) and augmented, and the
    weights move fast under a short schedule, so the running averages lag and describe a different
    input distribution than scoring sees; measured on a 200-image set this compressed eval-mode
    scores to a sixth of their range (raw RMSE 26 vs 6 after recalibration). A forward pass over a
    few hundred clean training images (exact cumulative average) fixes it.
    """
    import torch
    import torch.nn as nn

    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns or len(x_u8) == 0:
        return
    was = model.training
    moms = [b.momentum for b in bns]
    for b in bns:
        b.reset_running_stats()
        b.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for i in range(0, len(x_u8), batch):
            chunk = x_u8[i : i + batch]
            if len(chunk) < 2:
                break
            t = torch.from_numpy(chunk).to(device)[:, None]
            model(to_model_input(u8_to_gray01(t)))
    for b, m in zip(bns, moms):
        b.momentum = m
    model.train(was)


def _predict_sharded(model, x_u8, device) -> np.ndarray:
    """Each rank predicts its share; all ranks get all predictions in order."""
    rank, world = _rank_world()
    if world == 1:
        return predict(model, x_u8, device)
    idx = np.arange(len(x_u8))[rank::world]
    local = predict(model, x_u8[idx], device)
    parts = [None] * world
    _dist().all_gather_object(parts, (idx, local))
    out = np.empty(len(x_u8), np.float32)
    for i, p in parts:
        out[i] = p
    return out


def _outputs(model, x_u8, device, batch: int = 128) -> dict:
    """All named outputs (engine.model.MQFNet.outputs) for cached uint8 inputs, eval mode."""
    import torch

    was = model.training
    model.eval()
    parts: dict[str, list] = {}
    with torch.no_grad():
        for i in range(0, len(x_u8), batch):
            t = torch.from_numpy(x_u8[i : i + batch]).to(device)[:, None]
            for k, v in model.outputs(to_model_input(u8_to_gray01(t))).items():
                parts.setdefault(k, []).append(v.float().cpu().numpy())
    model.train(was)
    return {k: np.concatenate(v) for k, v in parts.items()}


def head_metrics(model, split: Split, device) -> dict:
    """Plane accuracy and criteria accuracy on the labelled rows of a split."""
    if split.plane is None or not len(split):
        return {}
    o = _outputs(model, split.x, device)
    out = {}
    m = split.plane >= 0
    if m.any():
        out["plane_accuracy"] = float(np.mean(np.argmax(o["plane"][m], 1) == split.plane[m]))
        out["n_plane"] = int(m.sum())
    c = ~np.isnan(split.crit)
    if c.any():
        out["criteria_accuracy"] = float(np.mean((o["criteria"][c] >= 0.5) == (split.crit[c] >= 0.5)))
        out["n_criteria"] = int(c.sum())
    return out


def fit_density(model, data: Prepared, device, seed: int = 0, n_fit: int = 8000, quantile: float = 0.99) -> dict:
    """The "unlike the training data" check: a Gaussian on the model's pooled features (Ledoit–Wolf
    shrinkage covariance) fitted on clean training scans, stored in the model (its ``ood`` output is
    the squared Mahalanobis distance), with the threshold at the ``quantile`` of held-out
    (validation) distances, so about 1 − quantile of in-distribution frames raise it.

    Scans are the rows of ``Split.scan`` (fetal or non-fetal ultrasound); without it, rows not labelled
    plane "none". With ``cfg.ood_ratio`` a second Gaussian is fitted on the training's other frames
    (non-ultrasound: photos, noise, other modalities) and the check fires when a frame is far from the scans (the cut-off as above: the check
    fires on every frame the one-Gaussian check fires on) *or* its log-likelihood ratio (scans'
    distance − non-ultrasound distance) is above the validation scans' ``1 − (1 − quantile) / 2``
    quantile. Both cut-offs are stored in the graph and the output is a margin: the threshold is 0."""
    import torch
    from sklearn.covariance import LedoitWolf

    from engine.result import PLANES

    none = PLANES.index("none")

    def rows(split, scans=True):  # scans: rows that are ultrasound scans (Split.scan); else the other frames
        if getattr(split, "scan", None) is not None:
            return np.flatnonzero(split.scan if scans else ~split.scan)
        if split.plane is None:
            return np.arange(len(split)) if scans else np.zeros(0, int)
        return np.flatnonzero((split.plane != none) if scans else (split.plane == none))

    rng = np.random.default_rng([seed, 99])
    tr = data.train
    idx = np.sort(rng.permutation(rows(tr))[:n_fit])
    feats = _outputs(model, tr.x[idx], device)["ood_features"].astype(np.float64)
    lw = LedoitWolf().fit(feats)
    info = {"n_fit": int(len(idx)), "features": model.cfg.ood_features}
    ratio = bool(getattr(model.cfg, "ood_ratio", False))
    idx0 = np.sort(rng.permutation(rows(tr, scans=False))[:n_fit]) if ratio else np.zeros(0, int)
    val = data.val.x[rows(data.val)]
    if not ratio:
        with torch.no_grad():
            model.set_density(lw.location_, lw.precision_)
        d_val = _outputs(model, val, device)["ood"]
        thr = float(np.quantile(d_val, quantile))
        info.update(threshold=thr, quantile=quantile, n_calib=int(len(d_val)),
                    method=f"Mahalanobis on pooled features ({model.cfg.ood_features}), Ledoit-Wolf covariance, "
                           "threshold = val quantile")
        return info
    fv = _outputs(model, val, device)["ood_features"].astype(np.float64)

    def maha(x, g):
        d = x - g.location_
        return ((d @ g.precision_) * d).sum(1)

    d1 = maha(fv, lw)
    zeros = np.zeros(model.ood_dim), np.zeros((model.ood_dim, model.ood_dim))
    if len(idx0) < 20:  # e.g. a site's own scans only: the distance alone (the ratio term repeats it)
        c = float(np.quantile(d1, quantile))
        mean0, prec0, cut, q, how = *zeros, (c, c), quantile, f"ratio off: {len(idx0)} non-ultrasound frames"
    else:
        lw0 = LedoitWolf().fit(_outputs(model, tr.x[idx0], device)["ood_features"].astype(np.float64))
        q = 1.0 - (1.0 - quantile) / 2.0
        mean0, prec0, how = lw0.location_, lw0.precision_, "scans and non-ultrasound training frames"
        from engine.model import OOD_CAP

        far = float(np.quantile(d1, quantile))
        cap = max(OOD_CAP, 10.0 * far)  # the graph caps both distances so (engine.model): calibrate alike
        cut = (far, float(np.quantile(np.minimum(d1, cap) - np.minimum(maha(fv, lw0), cap), q)))
    with torch.no_grad():
        model.set_density(lw.location_, lw.precision_, mean0, prec0, cut)
    fired = float(np.mean(_outputs(model, val, device)["ood"] > 0.0))
    info.update(threshold=0.0, quantile=quantile, ratio_quantile=q, cut_far=cut[0], cut_ratio=cut[1],
                n_fit_none=int(len(idx0)), n_calib=int(len(val)), val_fired=round(fired, 4),
                method=(f"{'one Gaussian' if len(idx0) < 20 else 'two Gaussians'} on pooled features "
                        f"({model.cfg.ood_features}), Ledoit-Wolf covariance: {how}; fires when the scans' Mahalanobis distance or "
                        "the log-likelihood ratio is above its val-scans quantile (far: quantile, ratio: ratio_quantile; "
                        "output: margin, threshold 0)"))
    return info


def _quick_metrics(pred, y) -> dict:
    try:
        m = M.compute(pred, y)
    except ValueError:
        return {"srcc": 0.0, "plcc": 0.0}
    return {"srcc": m["srcc"], "plcc": m["plcc"], "rmse": m["rmse"]}



# --------------------------------------------------------------------------------------------------
# evaluation of a packaged model (what `fuiqa eval` runs)


def split_settings(meta: dict) -> tuple[int, tuple[float, ...]]:
    """(split_seed, fractions) a packaged model was trained with (the trainer's defaults if it says none)."""
    tc = meta.get("train_config") or {}
    default = TrainConfig()
    return int(tc.get("split_seed", default.split_seed)), tuple(tc.get("fractions") or default.fractions)


def evaluate_package(model_path, data_root, split: str = "test", n_boot: int = 1000, backend: str = "ort",
                     batch: int = 64, split_seed: int | None = None, fractions=None, split_from=None) -> dict:
    """Score a labelled split with a packaged model through engine.scorers (same preprocessing + ROI).

    The split is recomputed with the seed/fractions stored in the model's train_config (so "test"
    means the images this model never trained on) — or in ``split_from``'s, to compare two models on
    the same images — unless overridden; ``split="all"`` uses every image.
    """
    from engine import modelpack
    from engine.scorers import make_scorer

    from .data import load_labelled, read_image

    pkg = modelpack.load(model_path)
    seed, fr = split_settings((modelpack.load(split_from) if split_from else pkg).meta)
    seed = split_seed if split_seed is not None else seed
    fr = tuple(fractions or fr)
    ds = load_labelled(data_root, seed=seed, fractions=fr)
    items = ds.items if split == "all" else ds.split(split)
    if len(items) < 2:
        raise TrainError(f"{data_root}: split {split!r} has {len(items)} image(s); need at least 2")
    scorer = make_scorer(backend, pkg)
    preds = []
    for i in range(0, len(items), batch):
        chunk = items[i : i + batch]
        imgs = [read_image(it.path) for it in chunk]
        rois = [find_roi_box(im) for im in imgs]
        preds.append(np.asarray(scorer.score(imgs, rois).scores, np.float32))
    pred = np.concatenate(preds)
    y = np.array([it.mos for it in items], np.float32)
    groups = [it.group for it in items] if any(it.group for it in items) else None
    m = M.evaluate(pred, y, n_boot=n_boot, groups=groups)
    m.update({"split": split, "model": str(model_path), "data": str(data_root), "backend": scorer.backend,
              "trained": pkg.trained, "synthetic_training_data": pkg.synthetic})
    return m

