"""train/real.py: the HC18 reader and its fixed dev split, and the controlled degradations.

The degradations are checked on small frames made here (a speckle fan with an elliptical "head" whose
skull is the only thing brighter than 180), by what they do to the pixels; the HC18 tests skip when
../shared is absent."""
from __future__ import annotations

import csv
import hashlib

import cv2
import numpy as np
import pytest

from engine.result import CRITERIA
from train import real as R

H, W = 240, 320
APEX = (160.0, -40.0)
SEV = (0.0, 0.25, 0.5, 0.75, 1.0)


def make_frame(seed=0, centre=(150, 140), axes=(52, 40)):
    """A gray sector (apex above the frame, ±32°) of speckle tissue <= 150 with a head ellipse: a
    230-grey skull ring, a darker brain with a midline. -> (img, head mask, fan mask)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    ang = np.degrees(np.arctan2(xx - APEX[0], yy - APEX[1]))
    rad = np.hypot(xx - APEX[0], yy - APEX[1])
    fan = (np.abs(ang) <= 32) & (rad >= 60) & (rad <= 275)
    tissue = cv2.GaussianBlur(rng.rayleigh(1.0, (H, W)).astype(np.float32), (0, 0), 1.2) * 80
    img = np.clip(tissue, 20, 150)
    head = np.zeros((H, W), np.uint8)
    cv2.ellipse(head, centre, axes, 0, 0, 360, 1, -1)
    head = head.astype(bool)
    img[head] = np.clip(img[head] * 0.6, 15, 120)
    cv2.line(img, (centre[0], centre[1] - axes[1] + 6), (centre[0], centre[1] + axes[1] - 6), 170, 2)
    cv2.ellipse(img, centre, (axes[0] - 2, axes[1] - 2), 0, 0, 360, 230, 4)
    img = np.where(fan, img, 0).astype(np.uint8)
    return img, head, fan


def skull_pixels(img, region=None):
    b = img > 180
    return int((b if region is None else b & region).sum())


def head_area(img):
    """Area enclosed by the bright skull ring, measured from the pixels."""
    b = cv2.morphologyEx((img > 180).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    return int(R.fill_mask(b).sum())


def sharpness(img, fan):
    inner = cv2.erode(fan.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    return float(cv2.Laplacian(img.astype(np.float32), cv2.CV_32F)[inner].var())


def ladder(factor, seed=3, **kw):
    img, head, fan = make_frame(**kw)
    return img, head, fan, [R.degrade(factor, img, head, s, seed) for s in SEV]


# ---------------------------------------------------------------- split and reader
def test_split_is_sha1_mod_4_and_about_a_quarter():
    names = [f"{i:03d}_HC.png" for i in range(800)]
    dev = [n for n in names if R.is_dev(n)]
    expect = [n for n in names if int(hashlib.sha1(n.encode()).hexdigest(), 16) % 4 == 0]
    assert dev == expect
    assert 0.20 <= len(dev) / len(names) <= 0.30
    assert [R.is_dev(n) for n in names] == [R.is_dev(n) for n in names]


def _fake_hc18(root, n=24):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    with open(root / "hc18.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "pixel_size_mm", "hc_mm"])
        for i in range(n):
            img, head, _ = make_frame(i)
            name = f"{i:03d}_HC.png"
            cv2.imwrite(str(root / "images" / name), img)
            ring = np.zeros(head.shape, np.uint8)
            cv2.ellipse(ring, (150, 140), (52, 40), 0, 0, 360, 255, 2)  # an outline: the reader fills it
            cv2.imwrite(str(root / "masks" / name.replace(".png", "_Mask.png")), ring)
            w.writerow([name, 0.1, 100 + 5 * i])


def test_reader_split_and_env_override(tmp_path, monkeypatch):
    root = tmp_path / "hc18"
    _fake_hc18(root)
    monkeypatch.setenv("FUIQA_HC18", str(root))
    assert R.hc18_root() == root
    train, dev = R.hc18_split()
    names = sorted(it.name for it in train + dev)
    assert names == [f"{i:03d}_HC.png" for i in range(24)]
    assert {it.name for it in dev} == {n for n in names if int(hashlib.sha1(n.encode()).hexdigest(), 16) % 4 == 0}
    assert not {it.name for it in dev} & {it.name for it in train}
    img, mask = R.read_item(dev[0] if dev else train[0])
    assert img.shape == (H, W) and img.dtype == np.uint8 and mask.dtype == bool
    assert abs(mask.sum() - np.pi * 52 * 40) < 0.1 * np.pi * 52 * 40  # filled, not just the outline
    assert train[0].hc_mm >= 100 and train[0].pixel_size_mm == pytest.approx(0.1)
    monkeypatch.setenv("FUIQA_HC18", str(tmp_path / "absent"))
    assert R.hc18_root() is None


# ---------------------------------------------------------------- geometry
def test_fan_mask_and_probe_origin_of_a_made_sector():
    img, _, fan = make_frame()
    got = R.fan_mask(img)
    assert (got & fan).sum() / (got | fan).sum() > 0.97
    ox, oy = R.probe_origin(got)
    assert abs(ox - APEX[0]) < 6 and abs(oy - APEX[1]) < 12


# ---------------------------------------------------------------- every degradation
@pytest.mark.parametrize("factor", list(R.DEGRADATIONS))
def test_size_fan_and_info_kept(factor):
    img, head, fan, lad = ladder(factor)
    assert np.array_equal(lad[0][0], img)  # severity 0 changes nothing
    for s, (out, info) in zip(SEV, lad):
        assert out.shape == img.shape and out.dtype == np.uint8
        assert np.array_equal(out[~fan], img[~fan])  # black corners untouched
        assert out[fan].min() >= 1  # the fan never turns black anywhere: its outline stays
        f2 = R.fan_mask(out)
        assert (f2 & fan).sum() / (f2 | fan).sum() > 0.95
        assert info["factor"] == factor and info["severity"] == s
        assert set(info["breaks"]) <= set(CRITERIA)
        assert info["mask"].shape == head.shape and info["mask"].dtype == bool
    assert lad[-1][1]["breaks"]  # full severity breaks something
    assert not lad[0][1]["breaks"]


def test_degradations_are_seeded():
    img, head, _ = make_frame()
    for f in R.DEGRADATIONS:
        a, b = R.degrade(f, img, head, 0.6, 5)[0], R.degrade(f, img, head, 0.6, 5)[0]
        assert np.array_equal(a, b), f


def test_blur_sharpness_drops():
    _, _, fan, lad = ladder("blur")
    s = [sharpness(o, fan) for o, _ in lad]
    assert all(a > b for a, b in zip(s, s[1:])), s
    assert s[-1] < 0.2 * s[0]


def test_dark_gain_mean_drops_deeper_more():
    img, _, fan, lad = ladder("dark_gain")
    m = [o[fan].mean() for o, _ in lad]
    assert all(a > b for a, b in zip(m, m[1:])), m
    assert m[-1] < 0.6 * m[0]
    top, bot = fan & (np.arange(H)[:, None] < 110), fan & (np.arange(H)[:, None] > 170)
    out = lad[-1][0].astype(float)
    assert out[bot].mean() / img[bot].mean() < out[top].mean() / img[top].mean()  # TGC: deeper is darker
    assert "settings" in lad[-1][1]["breaks"]


def test_speckle_noise_grows():
    img, _, fan, lad = ladder("speckle_noise")
    d = [np.abs(o[fan].astype(float) - img[fan]).mean() for o, _ in lad]
    assert all(a < b for a, b in zip(d, d[1:])), d
    hf = [np.abs(o.astype(float) - cv2.medianBlur(o, 5))[fan].mean() for o, _ in lad]
    assert hf[-1] > 1.5 * hf[0]


def test_shadow_darkens_the_head_from_the_probe():
    img, head, fan, lad = ladder("acoustic_shadow")
    inside = head & (img < 180)
    m = [o[inside].mean() for o, _ in lad]
    assert all(a > b for a, b in zip(m, m[1:])), m
    out, info = lad[-1]
    sh = info["shadow"]
    assert sh.any() and (sh & head).sum() / head.sum() > 0.4
    assert out[sh & fan & (img < 180)].mean() < 0.4 * img[sh & fan & (img < 180)].mean()
    # a wedge from the probe: it widens with depth and reaches the bottom of the fan
    rows = [r for r in range(H) if sh[r].any()]
    assert sh[rows[-1]].sum() >= sh[rows[0]].sum() and rows[-1] > 200
    assert "artefacts" in info["breaks"]


def test_slide_out_the_head_leaves_the_view():
    img, head, fan, lad = ladder("slide_out")
    full = skull_pixels(img)
    vis = [skull_pixels(o) / full for o, _ in lad]
    assert all(a > b for a, b in zip(vis, vis[1:])), vis
    assert 0.25 < vis[-1] < 0.55  # 60 % of the head out at full severity
    for o, info in lad[1:]:
        assert info["visible"] == pytest.approx(info["mask"].sum() / head.sum(), abs=1e-6)
        assert "skull" in info["breaks"]


def test_too_small_head_area_drops_fan_kept():
    img, head, fan, lad = ladder("too_small")
    a = [head_area(o) for o, _ in lad]
    assert all(x > y for x, y in zip(a, a[1:])), a
    assert a[-1] / a[0] == pytest.approx(0.45 ** 2, rel=0.35)
    out = lad[-1][0]
    exposed = fan & (np.arange(H)[:, None] > 200)  # far below the shrunk content: the filler texture
    v, ref = out[exposed].astype(float), img[fan & ~head].astype(float)
    assert v.std() > 5 and abs(v.mean() - ref.mean()) < 0.5 * ref.mean()  # textured tissue, not flat
    assert "zoom" in lad[-1][1]["breaks"]


def test_tile_shuffle_keeps_histogram_destroys_structure():
    img, head, fan, lad = ladder("tile_shuffle")
    out, info = lad[-1]
    assert np.array_equal(np.bincount(out.ravel(), minlength=256), np.bincount(img.ravel(), minlength=256))
    assert skull_pixels(out, head) < 0.6 * skull_pixels(img, head)
    c = np.corrcoef(out[fan].astype(float), img[fan].astype(float))[0, 1]
    assert c < 0.5
    assert {"structures", "plane", "skull"} <= set(info["breaks"])


# ---------------------------------------------------------------- real HC18 frames
needs_hc18 = pytest.mark.skipif(R.hc18_root() is None, reason="../shared/data/hc18 absent")


@needs_hc18
def test_hc18_split_real():
    train, dev = R.hc18_split()
    n = len(train) + len(dev)
    assert n >= 600 and 0.2 <= len(dev) / n <= 0.3
    assert not {i.name for i in train} & {i.name for i in dev}
    img, mask = R.read_item(dev[0])
    assert img.shape == (540, 800) and 0.01 < mask.mean() < 0.8


@needs_hc18
@pytest.mark.parametrize("factor", list(R.DEGRADATIONS))
def test_hc18_degradations_keep_the_roi(factor):
    from engine.roi import find_roi

    _, dev = R.hc18_split()
    img, mask = R.read_item(dev[1])
    box0 = find_roi(img).box
    for s in (0.5, 1.0):
        out, info = R.degrade(factor, img, mask, s, 1)
        assert out.shape == img.shape
        fan = R.fan_mask(img)
        assert np.array_equal(out[~fan], img[~fan])
        x, y, w, h = find_roi(out).box
        x0, y0, w0, h0 = box0
        ix = max(0, min(x + w, x0 + w0) - max(x, x0)) * max(0, min(y + h, y0 + h0) - max(y, y0))
        assert ix / (w * h + w0 * h0 - ix) > 0.8, (factor, s)
