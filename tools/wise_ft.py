"""Weight-space ensembles of the synthetic base and a real-scans round (WiSE-FT, Wortsman et al. 2022).

    .venv/bin/python tools/wise_ft.py BASE FT DATA --alphas 0.9,0.8,0.7 --out DIR

Fine-tuning from one initialisation keeps the two models in one basin, so the straight line between
their weights is a family of models: θ(a) = (1 − a)·θ_base + a·θ_ft on every layer both have (the
backbone, MQF fusion, quality head and their BatchNorm statistics); the heads only the fine-tuned
model has (plane, criteria) are taken from it. a = 1 is the fine-tuned model itself. For each a this
writes DIR/wise_{a}.fuiqa (its density buffers are the fine-tuned model's, *stale* for the new
features until tools/refit_density.py refits them) and scores DATA's val split (the split recorded in
FT) through the product path (ROI finder, ONNX Runtime): SRCC over all scored val rows and over the
plain-synthetic rows (``images/syn_``), JSON in DIR/wise.json. Nothing of the test split is read.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLAIN = "images/syn_"


def interpolate(base_path: Path, ft_path: Path, alpha: float, out: Path):
    """θ(alpha) as a package at ``out`` (metadata of the fine-tuned model, ``wise_ft`` recorded)."""
    import torch

    from engine import modelpack

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], not {alpha}")
    base, ft = modelpack.load(base_path), modelpack.load(ft_path)
    if base.weights is None or ft.weights is None:
        raise SystemExit("both packages need their torch weights")
    sb = torch.load(io.BytesIO(base.weights), map_location="cpu", weights_only=True)
    sf = torch.load(io.BytesIO(ft.weights), map_location="cpu", weights_only=True)
    mixed, shared = {}, 0
    for k, v in sf.items():
        w = sb.get(k)
        if w is not None and w.shape == v.shape and v.is_floating_point() and not k.startswith("density_"):
            mixed[k] = (1.0 - alpha) * w + alpha * v
            shared += 1
        else:
            mixed[k] = v
    return package_state(mixed, ft, out, f"{ft.meta.get('name', 'model')}-wise{alpha:g}", wise_ft={
        "base": str(base_path), "ft": str(ft_path), "alpha": alpha, "shared_tensors": shared,
        "density": "the fine-tuned model's (stale until refit)"})


def package_state(state: dict, like, out: Path, name: str, **record):
    """The weights ``state`` in ``like``'s architecture as a package at ``out``: ``like``'s metadata
    (but what packaging works out anew), named ``name``, with ``record`` (how it was made) added."""
    from engine.export import package_model
    from engine.model import ArchConfig, MQFNet

    model = MQFNet(ArchConfig.from_dict(like.meta["arch"]))
    model.load_state_dict(state)
    model.eval()
    keep = ("arch", "input_size", "heatmap_size", "gflops", "heads", "preprocess")
    meta = {k: v for k, v in like.meta.items() if k not in keep}
    meta.update(record, name=name)
    return package_model(model, out, **meta)


def val_metrics(pkg_path: Path, data_root: Path, batch: int = 32) -> dict:
    from scipy.stats import spearmanr

    from engine import modelpack
    from engine.roi import find_roi
    from engine.scorers import make_scorer
    from train.data import load_labelled, read_image
    from train.evaluation import split_settings

    pkg = modelpack.load(pkg_path)
    seed, fr = split_settings(pkg.meta)
    items = [it for it in load_labelled(data_root, seed=seed, fractions=fr).split("val")
             if it.mos is not None and np.isfinite(it.mos)]
    scorer = make_scorer("ort", pkg)
    pred = []
    for i in range(0, len(items), batch):
        imgs = [read_image(it.path) for it in items[i:i + batch]]
        pred += list(scorer.score(imgs, [find_roi(im).box for im in imgs]).scores)
    pred, y = np.array(pred), np.array([it.mos for it in items])
    plain = np.array([it.name.startswith(PLAIN) for it in items])
    return {"n": len(items), "srcc": float(spearmanr(pred, y)[0]), "n_plain": int(plain.sum()),
            "srcc_plain": float(spearmanr(pred[plain], y[plain])[0])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", type=Path)
    ap.add_argument("ft", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--alphas", default="1.0,0.9,0.8,0.7")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    res = {}
    for alpha in (float(v) for v in a.alphas.split(",")):
        path = a.out / f"wise_{alpha:g}.fuiqa"
        if not path.exists():
            interpolate(a.base, a.ft, alpha, path)
        res[f"{alpha:g}"] = m = val_metrics(path, a.data)
        print(f"alpha {alpha:g}: val SRCC {m['srcc']:.4f} (n {m['n']}), plain-synthetic {m['srcc_plain']:.4f} "
              f"(n {m['n_plain']})", flush=True)
        (a.out / "wise.json").write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
