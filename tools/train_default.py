"""Train the shipped default model (assets/models/default.fuiqa) — reproducibly, from seeds.

    .venv/bin/python tools/train_default.py --work runs/default [--n 4000] [--screen 1000] [--neg 400]

1. makes a SYNTHETIC training set with `fuiqa synth` (plain fans + scanner-screen captures) plus
   non-ultrasound frames (train.negatives) labelled ~0;
2. makes a held-out SYNTHETIC test set the same way with other seeds;
3. trains the real-time model with the trainer (train/configs/default.json unless --config);
4. evaluates the result on the held-out set (PLCC/SRCC/KRCC/RMSE with 95 % CIs), checks that
   no-contact frames and non-ultrasound frames score < 30, and writes all of it — with the generator
   seeds — into the model's metadata;
5. installs it as assets/models/default.fuiqa (atomically) only if it loads and passes the checks
   (``--force`` installs anyway, with the failed checks recorded).
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import modelpack  # noqa: E402
from engine.scorers import make_scorer  # noqa: E402
from train import metrics as M  # noqa: E402
from train.data import load_labelled, read_image  # noqa: E402
from train.negatives import append_rows, write_negatives  # noqa: E402


def fuiqa(*args):
    cmd = [sys.executable, "-m", "app.cli", *map(str, args)]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def make_set(out: Path, n: int, n_screen: int, n_neg: int, seed: int, workers: int) -> dict:
    """One synthetic set: plain fans (seed), screen captures (seed+1) and negatives (seed+2)."""
    if (out / "labels.csv").exists() and (out / "DONE").exists():
        return json.loads((out / "DONE").read_text())
    fuiqa("synth", out, "--n", n, "--seed", seed, "--workers", workers, "--no-progress")
    rows = []
    if n_screen:
        scr = out / "_screen"
        fuiqa("synth", scr, "--n", n_screen, "--seed", seed + 1, "--screen", "--workers", workers, "--no-progress")
        with open(scr / "labels.csv", newline="") as f:
            for r in csv.DictReader(f):
                src = scr / r["name"]
                if not src.exists():
                    src = scr / "images" / Path(r["name"]).name
                dst_name = "images/screen_" + Path(r["name"]).name
                (out / dst_name).write_bytes(src.read_bytes())
                r["name"] = dst_name
                r["group"] = "screen_" + (r.get("group") or Path(r["name"]).stem)
                rows.append(r)
    rows += write_negatives(out, n_neg, seed=seed + 2)
    append_rows(out / "labels.csv", rows)
    info = {"plain": {"n": n, "seed": seed}, "screen": {"n": n_screen, "seed": seed + 1},
            "negatives": {"n": n_neg, "seed": seed + 2}}
    (out / "DONE").write_text(json.dumps(info))
    return info


def evaluate(model_path: Path, data: Path) -> dict:
    """Score every image of a labelled set through the ORT scorer on the production path."""
    from engine.roi import find_roi

    ds = load_labelled(data, fractions=(0.0, 0.0, 1.0), min_split=1)
    items = [it for s in ("train", "val", "test") for it in ds.split(s)]
    scorer = make_scorer("ort", model_path)
    preds, labels, kinds = [], [], []
    for it in items:
        img = read_image(it.path)
        roi = find_roi(img).box
        preds.append(float(scorer.score([img], [roi]).scores[0]))
        labels.append(it.mos)
        kinds.append(it.plane or "")
    preds, labels = np.array(preds), np.array(labels)
    us = np.array([k != "none" for k in kinds])
    res = {"n": int(len(items)), "all": M.evaluate(preds, labels), "ultrasound_only": M.evaluate(preds[us], labels[us])}
    neg = preds[~us]
    res["non_ultrasound"] = {"n": int((~us).sum()), "max": float(neg.max()) if neg.size else None,
                             "mean": float(neg.mean()) if neg.size else None}
    # no-contact frames: the generator flags them; fall back to the lowest labels if no flag column
    flags = _column(data, "s_liftoff")
    if flags:
        nc = np.array([flags.get(it.name, 0.0) >= 0.9 for it in items])
        res["no_contact"] = {"n": int(nc.sum()), "max": float(preds[nc].max()) if nc.any() else None}
    return res


def _column(data: Path, col: str) -> dict | None:
    with open(data / "labels.csv", newline="") as f:
        r = csv.DictReader(f)
        if col not in (r.fieldnames or []):
            return None
        out = {}
        for row in r:
            try:
                out[row["name"]] = float(row[col] or 0)
            except ValueError:
                out[row["name"]] = 0.0
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "default")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--screen", type=int, default=1000)
    ap.add_argument("--neg", type=int, default=400)
    ap.add_argument("--test-n", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--test-seed", type=int, default=9000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--config", type=Path, default=ROOT / "train" / "configs" / "default.json")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared 2-core machine 2 threads were 10x slower per step)")
    ap.add_argument("--install", type=Path, default=modelpack.default_model_path())
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    t0 = time.time()
    a.work.mkdir(parents=True, exist_ok=True)
    gen_train = make_set(a.work / "train_data", a.n, a.screen, a.neg, a.seed, a.workers)
    gen_test = make_set(a.work / "heldout_data", a.test_n, a.test_n // 4, max(35, a.test_n // 10), a.test_seed, a.workers)
    print(f"data ready in {time.time() - t0:.0f} s", flush=True)
    args = ["train", a.work / "train_data", "--out", a.work / "model", "--config", a.config, "--threads", a.threads]
    if a.epochs:
        args += ["--epochs", a.epochs]
    fuiqa(*args)
    model_path = a.work / "model" / "model.fuiqa"
    pkg = modelpack.load(model_path)
    held = evaluate(model_path, a.work / "heldout_data")
    checks = {
        "heldout_srcc>=0.95": held["ultrasound_only"]["srcc"] >= 0.95,
        "heldout_plcc>=0.95": held["ultrasound_only"]["plcc"] >= 0.95,
        "non_ultrasound<30": held["non_ultrasound"]["max"] is not None and held["non_ultrasound"]["max"] < 30,
    }
    if "no_contact" in held and held["no_contact"]["n"]:
        checks["no_contact<30"] = held["no_contact"]["max"] < 30
    meta = dict(pkg.meta)
    meta.update(
        name="default",
        synthetic_training_data=True,
        generator={"tool": "fuiqa synth + train.negatives", "train": gen_train, "heldout": gen_test},
        heldout_metrics=held,
        checks=checks,
        training_wall_s=round(time.time() - t0),
    )
    meta.pop("sha256", None)
    print(json.dumps({"heldout": held, "checks": checks}, indent=2))
    if not all(checks.values()) and not a.force:
        print("NOT installed: failed checks", [k for k, v in checks.items() if not v])
        modelpack.save(a.work / "candidate.fuiqa", meta, pkg.onnx, pkg.weights)
        return 1
    modelpack.save(a.install, meta, pkg.onnx, pkg.weights)
    print(f"installed {a.install} in {time.time() - t0:.0f} s total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
