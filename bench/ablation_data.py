"""The two tasks of the ablation (bench/ablation.py), each preprocessed once to a cache under --work.

* ``synth`` — label-skewed synthetic sets: a training pool (generator seed 101) from which each seed
  draws a small subset with skewed labels like real FUIQA sets (bench/synthsets.SKEW), a validation set
  (seed 202, best epoch only) and a large fixed test set (seed 303, reported numbers only).
* ``hc18`` — real HC18 head frames with real-frame degradations (train/real_set.py: anchors scored by
  the SonoNet-16 teacher, six degradation families at random severities; decoys left out — the task is
  ranking degraded real frames). Training subsets and validation come from the HC18 *train* frames
  (the set tools/train_real.py builds, runs/real/hc18, rebuilt under --work when absent); validation
  is every fifth train frame by sha1 of its group, never drawn for training; the test set is the fixed
  dev split (train.real.hc18_split, never trained on anywhere), degraded with another seed. A frame and
  its degradations share a group: the test bootstrap resamples frames, not rows.
"""
from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.synthsets import SKEW, load_split, skewed_indices, subset, synth  # noqa: E402


def _save(path: Path, split) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, x=split.x, y=split.y, names=np.array(split.names),
             groups=np.array(split.groups if split.groups is not None else [], dtype=object), allow_pickle=True)
    tmp.replace(path)


def _load(path: Path):
    from train.trainer import Split

    z = np.load(path, allow_pickle=True)
    groups = [str(g) for g in z["groups"]] if "groups" in z and len(z["groups"]) else None
    return Split(z["x"], z["y"], [str(s) for s in z["names"]], groups)


def cached_split(work: Path, name: str, n: int, seed: int, size: int):
    path = work / "cache" / f"{name}_{n}_{seed}_{size}.npz"
    if not path.exists():
        split, _ = load_split(synth(work / f"{name}_{n}_{seed}", n, seed), size)
        _save(path, split)
    return _load(path)


def synth_task(args, size: int) -> dict:
    work = Path(args.work)
    pool = cached_split(work, "pool", args.pool_n, 101, size)
    val_pool = cached_split(work, "val", args.val_pool_n, 202, size)
    test_pool = cached_split(work, "test", args.test_pool_n, 303, size)
    val = subset(val_pool, skewed_indices(val_pool.y, args.n_val, np.random.default_rng(202)))
    test = subset(test_pool, skewed_indices(test_pool.y, args.n_test, np.random.default_rng(303)))
    return {"pool": pool, "val": val, "test": test, "size": size, "synthetic": True,
            "about": f"synthetic: pool {args.pool_n} (seed 101), val {args.n_val} (seed 202), test {args.n_test} (seed 303)"}


# --------------------------------------------------------------------------------------------------
# HC18


def _write_labels(out: Path, rows: list[dict]) -> None:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    tmp = out / "labels.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out / "labels.csv")


def hc18_dev_set(out: Path) -> Path:
    """The dev split's frames, degraded (seed 1, two draws per factor), as a labelled folder."""
    from train.real import hc18_split
    from train.real_set import teacher_brain_probs, write_real_set

    if (out / "DONE").exists():
        return out
    _, dev = hc18_split()
    p = teacher_brain_probs(dev)
    rows = write_real_set(out, dev, seed=1, per_factor=2, p_brain=p)
    _write_labels(out, rows)
    (out / "DONE").write_text(json.dumps({"n_frames": len(dev), "n_rows": len(rows), "teacher": p is not None}))
    return out


def hc18_train_set(work: Path) -> Path:
    shipped = ROOT / "runs" / "real" / "hc18"
    if (shipped / "DONE").exists():
        return shipped
    from tools.train_real import build_hc18

    build_hc18(work / "hc18_train", per_factor=2)
    return work / "hc18_train"


def _hc18_split(folder: Path, size: int, cache: Path):
    """Preprocess the non-decoy rows of a labelled HC18 folder (groups from its ``group`` column)."""
    if cache.exists():
        return _load(cache)
    from train.data import load_labelled
    from train.trainer import Split, prepare_items

    with open(folder / "labels.csv", newline="") as f:
        rows = {r["name"]: r for r in csv.DictReader(f)}
    ds = load_labelled(folder)
    items = [it for it in ds.items if rows[it.name]["kind"] != "decoy"]
    s = prepare_items(items, size)
    split = Split(s.x, s.y, s.names, [rows[it.name]["group"] for it in items])
    _save(cache, split)
    return split


def _is_val_group(g: str) -> bool:
    return int(hashlib.sha1(g.encode()).hexdigest(), 16) % 5 == 0


def hc18_task(args, size: int) -> dict:
    from train.real import hc18_root

    if hc18_root() is None:
        raise SystemExit("HC18 data not found (../shared/data/hc18 or FUIQA_HC18): the hc18 task is skipped")
    work = Path(args.work)
    train_all = _hc18_split(hc18_train_set(work), size, work / "cache" / f"hc18_train_{size}.npz")
    test = _hc18_split(hc18_dev_set(work / "hc18_dev"), size, work / "cache" / f"hc18_dev_{size}.npz")
    is_val = np.array([_is_val_group(g) for g in train_all.groups])
    pool, val_pool = subset(train_all, np.flatnonzero(~is_val)), subset(train_all, np.flatnonzero(is_val))
    val = subset(val_pool, skewed_indices(val_pool.y, min(args.n_val, len(val_pool)), np.random.default_rng(202)))
    return {"pool": pool, "val": val, "test": test, "size": size, "synthetic": False,
            "about": (f"real HC18 head frames with real-frame degradations: training subsets from {len(set(pool.groups))} "
                      f"train frames ({len(pool)} rows), validation {len(val)} rows of {len(set(val_pool.groups))} other "
                      f"train frames, test = the fixed dev split, {len(set(test.groups))} frames, {len(test)} rows "
                      f"(anchors + degradations, seed 1; bootstrap over frames)")}


def datasets(args) -> dict:
    from engine.model import arch

    size = arch("rt", "mqf", args.input_size or None).input_size
    return hc18_task(args, size) if getattr(args, "task", "synth") == "hc18" else synth_task(args, size)


def train_subset(pool, n: int, seed: int) -> np.ndarray:
    return skewed_indices(pool.y, n, np.random.default_rng([seed, n, 7]))


def bands(y) -> list[float]:
    return [float(np.mean((y >= lo) & (y < hi))) for lo, hi, _ in SKEW]
