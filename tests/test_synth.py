"""Synthetic generator: labels follow the quality factors, anchors (clean >= 80, no contact < 30),
determinism, image formation properties, the CLI, sweeps (mp4 + DICOM + CSV) and the demo."""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from train.synth import PLANES, factors_for, make_spec, render_sample, render_spec, rng_for

SIZE = 128
N = 6


def mean_mos(plane: str, factor: str, sev: float, n: int = N, seed: int = 11) -> float:
    vals = []
    for i in range(n):
        rng = rng_for(seed, 1000 * i + 7)
        spec = make_spec(plane, {factor: sev}, rng, size=SIZE)
        vals.append(render_spec(spec, rng, size=SIZE).mos)
    return float(np.mean(vals))


@pytest.mark.parametrize("plane", PLANES)
def test_label_falls_as_each_factor_worsens(plane):
    clean = mean_mos(plane, "tilt", 0.0)
    assert clean >= 85
    for f in factors_for(plane):
        mid, worst = mean_mos(plane, f, 0.5), mean_mos(plane, f, 1.0)
        assert worst < clean - 10, (plane, f, clean, mid, worst)
        assert mid <= clean + 1 and worst <= mid + 8, (plane, f, clean, mid, worst)


@pytest.mark.parametrize("plane", PLANES)
def test_clean_standard_plane_and_no_contact(plane):
    for i in range(4):
        s = render_sample(plane, seed=5, index=i, size=SIZE, severity={})
        assert s.mos >= 80 and s.q >= 80 and s.flags["f_structures"] == 1 and s.missing == []
        n = render_sample(plane, seed=5, index=i, size=SIZE, severity={"liftoff": 1.0})
        assert n.mos < 30 and n.q < 10 and n.flags["f_structures"] == 0
        # no contact: only reverberation near the probe, nothing deep in the fan
        ys, xs = np.nonzero(n.mask)
        rows = np.arange(SIZE)[:, None]
        near = n.image[n.mask & (rows < ys.min() + 0.2 * (ys.max() - ys.min()))]
        deep = n.image[n.mask & (rows > ys.min() + 0.6 * (ys.max() - ys.min()))]
        assert near.max() > 150 and deep.mean() < 0.3 * near.mean()


def test_image_is_a_fan_on_black_with_speckle():
    s = render_sample("head", seed=1, index=0, size=256, severity={})
    img, mask = s.image, s.mask
    assert img.shape == (256, 256) and img.dtype == np.uint8
    assert img[~mask].max() == 0 and mask.mean() > 0.35
    assert img[0, 0] == 0 and img[-1, 0] == 0 and img[0, -1] == 0  # corners outside the fan
    # speckle in soft tissue: the near-field maternal wall has Rayleigh-like contrast (std/mean ~ 0.3-0.7
    # after log compression it is lower; check it is textured, not flat)
    ys, xs = np.nonzero(mask)
    band = img[ys.min() + 6: ys.min() + 14, 118:138].astype(float)
    assert band.mean() > 60 and band.std() > 8


def test_bone_casts_shadow_and_fluid_enhances():
    import copy

    from train.synth import Pose
    from train.synth.formation import form

    spec = make_spec("femur", {}, rng_for(3, 0), size=256)
    spec.pose = Pose(0.0, spec.pose.d_c, 0.0, 0.0, 0.0, 0.0)
    p = form(spec.scene, spec.geom, spec.pose, spec.acq, rng_for(3, 1)).polar
    no_bone = copy.deepcopy(spec)
    no_bone.scene.prim("femur").tissue = "muscle"
    q = form(no_bone.scene, no_bone.geom, no_bone.pose, no_bone.acq, rng_for(3, 1)).polar
    r = (np.arange(p.shape[0]) + 0.5) * spec.geom.depth / p.shape[0]
    col = slice(p.shape[1] // 2 - 3, p.shape[1] // 2 + 4)
    rb = spec.scene.prim("femur").radius
    at = np.abs(r - (spec.pose.d_c - rb)) < 1.0
    behind = (r > spec.pose.d_c + rb + 2) & (r < spec.pose.d_c + rb + 12)
    assert p[at, col].max() > 200 and p[at, col].max() > q[at, col].max() + 30  # bright bone surface
    assert p[behind, col].mean() < 0.4 * q[behind, col].mean()  # acoustic shadow behind it

def test_fluid_is_dark_and_enhances_what_lies_behind(monkeypatch):
    from train.synth import Acquisition, Geometry, Pose
    from train.synth import formation as F

    geom = Geometry(depth=100.0, nr=200, na=120)
    acq = Acquisition(maternal=12.0, posterior=70.0)
    fl = F.form(None, geom, Pose(), acq, rng_for(0, 0)).polar
    monkeypatch.setitem(F.TISSUES, "fluid", F.TISSUES["fetal"])  # the same scene with soft tissue instead
    ti = F.form(None, geom, Pose(), acq, rng_for(0, 0)).polar
    r = (np.arange(geom.nr) + 0.5) * geom.depth / geom.nr
    mid = slice(40, 80)
    fluid = (r > 25) & (r < 60)
    wall = (r > 75) & (r < 90)
    assert fl[fluid, mid].mean() < 20 and ti[fluid, mid].mean() > 80  # anechoic fluid
    assert fl[wall, mid].mean() > ti[wall, mid].mean() + 25  # posterior enhancement


def test_same_seed_same_bytes_any_workers(tmp_path):
    from train.synth.dataset import generate

    a = generate(tmp_path / "a", 9, seed=4, size=SIZE, progress=False)
    b = generate(tmp_path / "b", 9, seed=4, size=SIZE, progress=False, workers=2)
    c = generate(tmp_path / "c", 9, seed=5, size=SIZE, progress=False)
    assert a["n"] == 9

    def digest(root):
        h = hashlib.sha256((root / "labels.csv").read_bytes())
        for p in sorted((root / "images").iterdir()):
            h.update(p.name.encode() + p.read_bytes())
        return h.hexdigest()

    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_cli_writes_set_sweeps_and_loader_reads_it(tmp_path):
    from app.cli import main
    from train.data import load_labelled, read_image

    out = tmp_path / "set"
    rc = main(["synth", str(out), "--n", "24", "--seed", "2", "--sweeps", "1", "--sweep-frames", "12",
               "--size", str(SIZE), "--no-progress"])
    assert rc == 0
    names = sorted(p.name for p in (out / "images").iterdir())
    assert len(names) == 24 and all(n.startswith("synth_") and n.endswith(".png") for n in names)
    assert "SYNTHETIC" in (out / "SYNTHETIC.txt").read_text()
    rows = list(csv.DictReader(open(out / "labels.csv")))
    assert {"name", "mos", "std", "plane", "group", "f_structures", "missing", "s_tilt"} <= set(rows[0])
    assert {r["plane"] for r in rows} == set(PLANES)
    ds = load_labelled(out)
    assert ds.synthetic and len(ds.items) == 24
    assert read_image(ds.items[0].path).shape == (SIZE, SIZE)
    sw = out / "sweeps" / "sweep_000"
    frames = list(csv.DictReader(open(sw.with_suffix(".csv"))))
    assert len(frames) == 12
    cap = cv2.VideoCapture(str(sw.with_suffix(".mp4")))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    cap.release()
    import pydicom

    d = pydicom.dcmread(str(sw.with_suffix(".dcm")))
    assert d.Modality == "US" and int(d.NumberOfFrames) == 12 and d.PatientName == "SYNTHETIC"
    assert d.pixel_array.shape == (12, SIZE, SIZE)
    assert "PatientBirthDate" not in d or not d.PatientBirthDate


def test_sweep_quality_rises_and_falls():
    from train.synth.sweep import sweep_frames

    q = [float(r["q_true"]) for _, r in sweep_frames("head", seed=0, index=0, frames=24, size=SIZE, passes=1)]
    mid = max(q[8:16])
    assert mid >= 60 and q[0] < mid - 20 and q[-1] < mid - 20


def test_unknown_plane_is_a_clear_error(tmp_path):
    from app.cli import main

    assert main(["synth", str(tmp_path / "x"), "--n", "2", "--planes", "heart", "--no-progress"]) == 2


def test_screen_mode_roi_finder_finds_the_fan():
    from engine.roi import find_roi
    from train.synth.dataset import render_item

    from train.synth.screen import screen_layout

    img, row = render_item("head", 3, 1, 256, screen=True)
    assert img.ndim == 3 and img.shape[:2] == (256, 340)
    lx, ly, lw, lh = screen_layout(340, 256)  # where the generator draws the imaging area
    r = find_roi(img)
    x, y, w, h = r.box
    assert r.kind == "sector"
    # the box lies in the imaging area: the text band above it and the bars beside it are left out
    assert x >= lx - 2 and y >= ly - 2 and x + w <= lx + lw + 2 and y + h <= ly + lh + 2, (r.box, (lx, ly, lw, lh))
    assert img[:ly].max() > 150  # ... and that band does hold text
    # the fan (echo inside the imaging area) is inside the mask
    fan = np.zeros(img.shape[:2], bool)
    fan[ly : ly + lh, lx : lx + lw] = cv2.medianBlur(img[:, :, 1], 5)[ly : ly + lh, lx : lx + lw] > 30
    assert fan.sum() > 0.2 * lw * lh and (r.mask & fan).sum() >= 0.95 * fan.sum()


def test_demo_writer_small(tmp_path):
    from train.synth.sweep import write_demo

    p = write_demo(tmp_path, seconds=0.4, width=320, height=240, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "demo_sweep.csv")))
    assert p.name == "demo_sweep.mp4" and len(rows) == 10 and rows[0]["plane"] == "head"
    cap = cv2.VideoCapture(str(p))
    ok, f = cap.read()
    assert ok and f.shape == (240, 320, 3)
    assert f[:30, :90].max() > 150  # "SYNTHETIC" burned in at the top left


def test_sampled_labels_spread_over_the_range():
    from train.synth.dataset import render_item

    mos = np.array([float(render_item(PLANES[i % 3], 8, i, SIZE)[1]["mos"]) for i in range(90)])
    assert (mos < 30).mean() >= 0.15 and ((mos >= 30) & (mos < 80)).mean() >= 0.25 and (mos >= 80).mean() >= 0.1
    hist = np.histogram(mos, bins=5, range=(0, 100))[0]
    assert hist.min() >= 5  # no empty fifth of the range


def test_demo_asset_matches_its_labels():
    root = Path(__file__).resolve().parents[1] / "assets" / "demo"
    rows = list(csv.DictReader(open(root / "demo_sweep.csv")))
    cap = cv2.VideoCapture(str(root / "demo_sweep.mp4"))
    n = 0
    first = None
    while True:
        ok, f = cap.read()
        if not ok:
            break
        first = f if first is None else first
        n += 1
    assert n == len(rows) >= 250 and abs(cap.get(cv2.CAP_PROP_FPS) - 25) < 0.5
    assert first.shape == (480, 640, 3) and first[:30, :130].max() > 150  # SYNTHETIC burned in
    mos = np.array([float(r["mos"]) for r in rows])
    assert mos.max() >= 80 and mos.min() < 60  # quality rises to standard and falls
    assert (root / "demo_sweep.mp4").stat().st_size < 2_000_000


def test_unknown_factor_is_an_error():
    with pytest.raises(ValueError, match="unknown quality factor"):
        render_sample("head", 0, 0, size=SIZE, severity={"blurr": 0.5})
