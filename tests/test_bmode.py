"""The colour check (engine/bmode.py): colour pictures are flagged, B-mode images in colour are not."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.bmode import GRAIN_MIN, OFF_SHARE, grain_corr, not_bmode, offmap_share, why_not_bmode
from engine.result import ScoreResult, concat


def _leaves(seed: int, h: int = 480, w: int = 640) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), rng.integers(0, 255, 3), np.uint8)
    for _ in range(300):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        rad = int(min(h, w) * rng.uniform(0.01, 0.25) ** 1.5 * 2) + 2
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), rad, c, -1, cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def _speckle(seed: int = 0, h: int = 480, w: int = 640) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((h // 8, w // 8)).astype(np.float32), (0, 0), 2)
    base = cv2.resize(base, (w, h))
    g = np.clip(255 * base * rng.rayleigh(0.6, (h, w)), 0, 255).astype(np.uint8)
    return g


def _grainy(seed: int, h: int, w: int, psf: float = 1.2) -> np.ndarray:
    """Speckle as an imaging system makes it: complex white noise through a PSF, its magnitude
    (neighbouring pixels alike over the PSF's width), on a smooth echo level."""
    rng = np.random.default_rng(seed)
    re, im = (cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), psf) for _ in range(2))
    env = np.sqrt(re * re + im * im)
    base = cv2.resize(cv2.GaussianBlur(rng.random((h // 8 + 1, w // 8 + 1)).astype(np.float32), (0, 0), 2), (w, h))
    return np.clip(255 * base * env / env.mean() * 0.6, 0, 255).astype(np.uint8)


def _tint(gray: np.ndarray) -> np.ndarray:
    from train.synth.style import TINTS

    x = np.arange(256) / 255.0
    luts = [np.clip(np.round(255 * np.minimum(1.0, gain * x ** gam)), 0, 255).astype(np.uint8)
            for gain, gam in TINTS["bronze"]]
    return cv2.merge([cv2.LUT(gray, lt) for lt in luts])


def test_gray_frames_are_zero():
    g = _speckle()
    assert offmap_share(g) == 0.0
    assert offmap_share(cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)) == 0.0


def test_tinted_bmode_passes_even_as_jpeg():
    t = _tint(_speckle(1))
    assert offmap_share(t) < 0.02
    j = cv2.imdecode(cv2.imencode(".jpg", t, [cv2.IMWRITE_JPEG_QUALITY, 60])[1], 1)
    s = offmap_share(j)
    assert s < 0.2 and not not_bmode(s)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_colour_photos_are_flagged(seed):
    s = offmap_share(_leaves(seed))
    assert s > 0.7 and not_bmode(s)


def test_doppler_box_counts_its_area_only():
    """A colour-flow box over a quarter of a B-mode image: about a quarter off the map, not flagged."""
    img = cv2.cvtColor(_speckle(2), cv2.COLOR_GRAY2BGR)
    rng = np.random.default_rng(3)
    box = img[120:360, 160:480]  # 240 x 320 of 480 x 640 = 25 %
    flow = rng.random(box.shape[:2]) < 0.5
    box[flow] = (40, 40, 220)  # red flow
    box[~flow] = (220, 60, 30)  # blue flow
    s = offmap_share(img)
    assert 0.15 < s < 0.35 and not not_bmode(s)


def test_roi_limits_what_is_judged():
    img = _leaves(4)
    img[100:400, 150:500] = cv2.cvtColor(_speckle(4, 300, 350), cv2.COLOR_GRAY2BGR)
    assert not_bmode(offmap_share(img))
    assert offmap_share(img, (150, 100, 350, 300)) == 0.0
    assert offmap_share(img, (0, 0, 0, 0)) == 0.0  # empty box: no judgement
    assert offmap_share(np.zeros((480, 640, 3), np.uint8)) == 0.0  # black: no image samples


@pytest.mark.parametrize("size", [(240, 320), (540, 800), (1080, 1920)])
def test_white_noise_has_no_grain_images_do(size):
    rng = np.random.default_rng(size[0])
    noise = rng.integers(0, 256, size, dtype=np.uint8)
    g = grain_corr(noise)
    assert abs(g) < 0.1 and not_bmode(0.0, g) and why_not_bmode(0.0, g).startswith("noise")
    assert abs(grain_corr(cv2.cvtColor(noise, cv2.COLOR_GRAY2BGR))) < 0.1
    # speckle at the same size: neighbours alike (grain spans pixels), as are smooth pictures
    scan = _grainy(size[0], *size)
    assert grain_corr(scan) > 0.6 and not not_bmode(0.0, grain_corr(scan))
    assert grain_corr(cv2.GaussianBlur(noise, (0, 0), 3)) > 0.9


def test_grain_needs_content():
    """Black rows (outside a fan), a flat frame or a sliver give no judgement (1.0), not 'noise'."""
    assert grain_corr(np.zeros((480, 640), np.uint8)) == 1.0
    assert grain_corr(np.full((480, 640, 3), 128, np.uint8)) == 1.0
    assert grain_corr(np.zeros((5, 640), np.uint8)) == 1.0
    img = np.zeros((480, 640), np.uint8)
    img[200:220] = np.random.default_rng(0).integers(0, 256, (20, 640))  # 1 of 12 rows: too few
    assert grain_corr(img) == 1.0
    noise = np.random.default_rng(1).integers(0, 256, (480, 640), dtype=np.uint8)
    assert grain_corr(noise, (100, 100, 200, 200)) < GRAIN_MIN  # the ROI is what is judged
    scan = noise.copy()
    scan[100:300, 100:300] = _grainy(2, 200, 200)
    assert grain_corr(scan, (100, 100, 200, 200)) > 0.6


def test_result_ors_the_colour_check_into_ood():
    n = 3
    r = ScoreResult(np.full(n, 50, np.float32), np.zeros((n, 4, 4), np.float32),
                    ood_score=np.array([-1.0, -1.0, 1.0], np.float32), ood_threshold=0.0,
                    colour_share=np.array([0.1, 0.9, 0.0], np.float32))
    assert list(r.ood) == [False, True, True]
    assert [f.ood for f in r] == [False, True, True]
    assert [f.ood_reason for f in r] == ["", "a colour picture, not a B-mode ultrasound image",
                                        "unlike the training data"]
    assert r[1].not_bmode and not r[2].not_bmode
    both = concat([r, r])
    assert both.colour_share.shape == (6,) and list(both.ood) == [False, True, True] * 2
    # a model without the density check keeps saying "no check" (None), colour or not
    old = ScoreResult(np.full(n, 50, np.float32), np.zeros((n, 4, 4), np.float32),
                      colour_share=np.array([0.1, 0.9, 0.0], np.float32))
    assert old.ood is None and old[1].ood is None and old[1].ood_reason == ""
    assert OFF_SHARE == 0.5
    snow = ScoreResult(np.full(2, 40, np.float32), np.zeros((2, 4, 4), np.float32),
                       ood_score=np.array([-1.0, -1.0], np.float32), ood_threshold=0.0,
                       colour_share=np.zeros(2, np.float32), grain=np.array([0.02, 0.9], np.float32))
    assert list(snow.ood) == [True, False]
    assert snow[0].ood_reason.startswith("noise") and snow[1].ood_reason == ""
    assert list(concat([snow, snow]).grain) == pytest.approx([0.02, 0.9, 0.02, 0.9])


def test_scorer_flags_a_colour_photo(tmp_path):
    from engine import modelpack
    from engine.roi import find_roi
    from engine.scorers import make_scorer

    pkg = modelpack.load(modelpack.default_model_path())
    if not (pkg.meta.get("ood") or {}).get("threshold") is not None:
        pytest.skip("default model has no density check")
    sc = make_scorer("ort", pkg)
    photo, scan = _leaves(5), _tint(_grainy(5, 480, 640))
    res = sc.score([photo, scan], [find_roi(photo).box, find_roi(scan).box])
    assert res.colour_share[0] > OFF_SHARE > res.colour_share[1]
    assert res[0].ood and res[0].not_bmode
    one = sc.result_one(photo, find_roi(photo).box)
    assert one.ood and one.colour_share == pytest.approx(float(res.colour_share[0]))
    snow = np.random.default_rng(6).integers(0, 256, (540, 800), dtype=np.uint8)
    r = sc.score([snow], find_roi(snow).box)[0]
    assert r.grain < GRAIN_MIN and r.ood and r.ood_reason.startswith("noise")
    assert res.grain[1] > GRAIN_MIN and not res[1].not_bmode
