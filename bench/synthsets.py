"""Synthetic labelled sets for the benchmarks: make (``fuiqa synth``), load (trainer's cached inputs),
take subsets, and draw a label-skewed subset like real FUIQA data (most frames acceptable)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# share of frames per quality band in a real FUIQA-like set: (lo, hi, share)
SKEW = ((0.0, 60.0, 0.15), (60.0, 80.0, 0.70), (80.0, 100.01, 0.15))


def synth(out: Path, n: int, seed: int) -> Path:
    if (out / "labels.csv").exists():
        return out
    cmd = [sys.executable, "-m", "app.cli", "synth", str(out), "--n", str(n), "--seed", str(seed), "--sweeps", "0"]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
    return out


def load_split(root: Path, size: int):
    from train.data import load_labelled
    from train.trainer import prepare_items

    ds = load_labelled(root)
    return prepare_items(ds.items, size), ds


def subset(split, idx):
    from train.trainer import Split

    idx = np.asarray(idx)
    groups = [split.groups[i] for i in idx] if split.groups is not None else None
    return Split(split.x[idx], split.y[idx], [split.names[i] for i in idx], groups)


def skewed_indices(y: np.ndarray, n: int, rng: np.random.Generator, skew=SKEW) -> np.ndarray:
    """n indices drawn without replacement so that the labels fall into the bands of ``skew`` in its
    shares (a band short of images is filled from the others); sorted."""
    y = np.asarray(y, np.float64)
    want = np.array([round(s * n) for _, _, s in skew])
    want[-1] = n - want[:-1].sum()
    bands = [rng.permutation(np.flatnonzero((y >= lo) & (y < hi))) for lo, hi, _ in skew]
    take = [b[: w] for b, w in zip(bands, want)]
    short = n - sum(len(t) for t in take)
    if short > 0:
        rest = rng.permutation(np.setdiff1d(np.arange(len(y)), np.concatenate(take)))
        take.append(rest[:short])
    idx = np.concatenate(take)
    if len(idx) < n:
        raise ValueError(f"pool of {len(y)} images is too small for a subset of {n}")
    return np.sort(idx)
