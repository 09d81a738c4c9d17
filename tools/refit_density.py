"""Refit a model's "unlike the training data" density on other features, without retraining.

    .venv/bin/python tools/refit_density.py MODEL DATA --out NEW.fuiqa [--features embedding+speckle]

The network's weights stay as they are (score, plane, criteria and heatmap unchanged, to the bit);
only the density buffers in the graph and ``meta["ood"]`` change. DATA is the labelled folder the
model was trained on (for the shipped model: runs/real/all, made by tools/train_real.py --data-only):
its split is rebuilt with the seed and fractions recorded in the model, the density is fitted on
ultrasound rows of the *train* split (and, by default, a second Gaussian on its non-ultrasound rows
for the likelihood ratio) and its cut-offs set at quantiles of the *val* split's scans
(train.trainer.fit_density — the same routine training ends with). Nothing else is looked at.
The new package is written atomically (temp file, validated, renamed).
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def refit(model_path: Path, data_root: Path, out: Path, features: str = "embedding+speckle", n_fit: int = 4000,
          seed: int = 0, ratio: bool = True, exclude_kinds: tuple[str, ...] = ()) -> dict:
    import torch

    from engine import modelpack
    from engine.export import package_model
    from engine.model import ArchConfig, MQFNet
    from train.data import load_labelled
    from train.trainer import Prepared, fit_density, prepare_items, split_settings

    pkg = modelpack.load(model_path)
    if pkg.weights is None:
        raise SystemExit(f"{model_path}: no torch weights in the package; cannot refit")
    cfg = replace(ArchConfig.from_dict(pkg.meta["arch"]), ood_features=features, ood_ratio=ratio)
    if not cfg.heads:
        raise SystemExit(f"{model_path}: this model has no density head")
    model = MQFNet(cfg)
    state = torch.load(io.BytesIO(pkg.weights), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("density_")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) != {k for k in model.state_dict() if k.startswith("density_")}:
        raise SystemExit(f"{model_path}: weights do not fit ({missing=}, {unexpected=})")
    model.eval()
    split_seed, fractions = split_settings(pkg.meta)
    ds = load_labelled(data_root, seed=split_seed, fractions=fractions)
    tr, va = ds.split("train"), ds.split("val")
    if exclude_kinds:  # rows of these kinds take part in neither Gaussian nor the cut-offs
        keep = lambda it: str((it.extra or {}).get("kind", "")) not in exclude_kinds  # noqa: E731
        tr, va = [it for it in tr if keep(it)], [it for it in va if keep(it)]
    rng = np.random.default_rng([seed, 98])
    tr = [tr[i] for i in np.sort(rng.permutation(len(tr))[: 2 * n_fit])]  # enough scans among them
    t0 = time.time()
    size = cfg.input_size
    data = Prepared(prepare_items(tr, size), prepare_items(va, size), prepare_items(va[:2], size), size)
    info = fit_density(model, data, torch.device("cpu"), seed=seed, n_fit=n_fit)
    info.update(refit=f"tools/refit_density.py on {data_root.name} (weights unchanged)", data_hash=ds.hash())
    meta = {k: v for k, v in pkg.meta.items() if k not in ("arch", "input_size", "heatmap_size", "gflops", "heads",
                                                            "preprocess")}
    meta["ood"] = info
    new = package_model(model, out, **meta)
    print(f"refit in {time.time() - t0:.0f} s: {info}")
    return {"ood": info, "path": str(new.path)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--features", default="embedding+speckle", choices=("embedding", "embedding+speckle"))
    ap.add_argument("--n-fit", type=int, default=4000)
    ap.add_argument("--one-gaussian", action="store_true",
                    help="the older check: distance to the scans only (no non-ultrasound Gaussian, no ratio)")
    ap.add_argument("--exclude-kind", action="append", default=[],
                    help="leave the rows of this `kind` out of the fit (repeatable)")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    refit(a.model, a.data, a.out, a.features, a.n_fit, ratio=not a.one_gaussian, exclude_kinds=tuple(a.exclude_kind))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
