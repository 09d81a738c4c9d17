"""tools/refit_density.py: a model's "unlike the training data" density refitted on other features,
with the network's weights (and so every score) unchanged and the threshold calibrated on val."""
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from engine import modelpack
from engine.scorers import make_scorer
from engine_helpers import package_varied

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))


def _speckle_frame(rng, size=128):
    ray = np.sqrt(rng.normal(0, 1, (size, size)) ** 2 + rng.normal(0, 1, (size, size)) ** 2)
    img = np.clip(60 * ray * rng.uniform(0.6, 1.4), 0, 255).astype(np.uint8)
    cv2.ellipse(img, (size // 2, size // 2), (int(rng.integers(15, 40)), int(rng.integers(10, 30))), 0, 0, 360, 200, 2)
    return img


def _write_set(root, rng, n: int = 60, kind=None) -> list[dict]:
    """A labelled folder of ``n`` speckle frames (``kind(i)``: an optional kind column)."""
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        name = f"images/f{i:02d}.png"
        cv2.imwrite(str(root / name), _speckle_frame(rng))
        rows.append({"name": name, "mos": f"{rng.uniform(20, 90):.1f}", **({"kind": kind(i)} if kind else {})})
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def test_refit_keeps_scores_and_calibrates_the_new_density_on_val(tmp_path):
    import refit_density

    root = tmp_path / "set"
    rows = _write_set(root, np.random.default_rng(0))
    old = package_varied(tmp_path / "old.fuiqa", trained=True)
    out = tmp_path / "new.fuiqa"
    refit_density.refit(old.path, root, out, features="embedding+speckle", n_fit=40)
    new = modelpack.load(out)
    assert new.meta["ood"]["features"] == new.meta["arch"]["ood_features"] == "embedding+speckle"
    ood = new.meta["ood"]
    # no non-ultrasound rows in this set: the distance alone, its cut-off in the graph, threshold 0
    assert ood["n_calib"] >= 5 and ood["threshold"] == 0.0 and ood["cut_far"] > 0 and ood["n_fit_none"] == 0
    assert ood["cut_ratio"] == ood["cut_far"] and "ratio off" in ood["method"]
    assert new.meta["name"] == old.meta["name"]
    frames = [cv2.imread(str(root / r["name"]), cv2.IMREAD_GRAYSCALE) for r in rows[:8]]
    a, b = make_scorer("ort", old).score(frames), make_scorer("ort", new).score(frames)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)  # weights unchanged
    np.testing.assert_allclose(a.plane_probs, b.plane_probs, atol=1e-5)
    # calibrated at the 99th percentile of this data's val split: frames like it rarely fire; uniform
    # snow and a checkerboard (no speckle statistics, no anatomy) do
    s = make_scorer("ort", new)
    d = s.score(frames)  # the density alone (these test frames are white Rayleigh noise: no grain, see bmode)
    assert int(np.sum(d.ood_score > d.ood_threshold)) <= 1
    snow = np.random.default_rng(1).integers(0, 256, (128, 128), dtype=np.uint8)
    board = (np.indices((128, 128)).sum(0) // 8 % 2 * 255).astype(np.uint8)
    # the density itself (the result's ood also or's in engine/bmode.py's grain check, which snow fails)
    r = s.score([snow, board])
    assert (r.ood_score > r.ood_threshold).all()


def test_refit_can_leave_rows_of_a_kind_out(tmp_path):
    """--exclude-kind: those rows take part in neither Gaussian nor the calibration."""
    import refit_density

    root = tmp_path / "set"
    _write_set(root, np.random.default_rng(2), kind=lambda i: "odd" if i % 2 else "")
    old = package_varied(tmp_path / "old.fuiqa", trained=True)
    every = refit_density.refit(old.path, root, tmp_path / "a.fuiqa", n_fit=200)["ood"]
    some = refit_density.refit(old.path, root, tmp_path / "b.fuiqa", n_fit=200, exclude_kinds=("odd",))["ood"]
    assert some["n_fit"] < every["n_fit"] and some["n_calib"] < every["n_calib"]
    assert some["n_fit"] + some["n_calib"] <= 30 < every["n_fit"] + every["n_calib"]
