"""Synthetic generator, "real" style and pixel maps: the plain style keeps its bytes, the style changes
the look but not the label, tints survive the gray conversion, the pixel maps line up with the image,
the four-chamber plane and the CLI options."""
from __future__ import annotations

import csv
import hashlib
from dataclasses import replace

import numpy as np
import pytest

from train.synth import ALL_PLANES, PLANES, make_spec, render_sample, render_spec, rng_for
from train.synth.anatomy import build_scene

SIZE = 128

#: sha-256 of plain-style renders, recorded with the generator as it was before the style option
#: existed (commit 1b59bb5): 12 images, plain and on a screen, plus 4 sweep frames
PLAIN_DIGEST = "2231414e4991219b8e90e4479168f1e821a5432553d70bcd7b86d8ca31d46a53"


def test_plain_style_bytes_are_unchanged():
    from train.synth.dataset import render_item
    from train.synth.sweep import sweep_frames

    h = hashlib.sha256()
    for i in range(12):
        for scr in (False, True):
            img, row = render_item(PLANES[i % 3], 3, i, 128 if not scr else 192, scr)
            h.update(img.tobytes())
            h.update(repr(sorted((k, v) for k, v in row.items() if k != "scored")).encode())
    for img, row in sweep_frames("abdomen", 1, 2, frames=4, size=128):
        h.update(img.tobytes())
        h.update(repr(sorted(row.items())).encode())
    assert h.hexdigest() == PLAIN_DIGEST


@pytest.mark.parametrize("plane", PLANES)
def test_style_changes_the_look_not_the_label(plane):
    dq = []
    for i in range(10):
        ra, rb = rng_for(21, i), rng_for(21, i)
        a = render_spec(make_spec(plane, None, ra, size=SIZE), ra, size=SIZE)
        spec = make_spec(plane, None, rb, size=SIZE, realism=1.0)
        b = render_spec(spec, rb, size=SIZE)
        assert a.severity == b.severity and a.info["ga"] == b.info["ga"]
        # the look alone (contents, speckle, TGC, grey map, tint, display crop) leaves the label as it is:
        # the same geometry drawn plain gets the same score and criteria (to the soft edges' blending)
        c = render_spec(replace(spec, style=None), rng_for(99, i), size=SIZE, rate=False)
        assert c.q == pytest.approx(b.q, abs=0.05) and c.flags == b.flags
        assert all(abs(c.criteria[k] - b.criteria[k]) <= 0.002 for k in c.criteria)
        dq.append(b.q - a.q)
        if i < 4 and a.severity.get("liftoff", 0) == 0:
            # the real style zooms in: the fan fills more of the image
            assert b.mask.mean() >= min(a.mask.mean() + 0.1, 0.8)
    # against the plain image of the same seed (same severities): the zoom box and denser beams move
    # the anatomy in the fan, so a shadow may fall a little differently; on the whole the label is the same
    dq = np.array(dq)
    assert np.median(np.abs(dq)) < 1.5 and abs(dq.mean()) < 3.0, dq


def test_clean_real_style_is_still_standard_and_no_contact_still_fails():
    for plane in PLANES:
        for i in range(3):
            s = render_sample(plane, 6, i, size=SIZE, severity={}, realism=1.0)
            assert s.q >= 80
            n = render_sample(plane, 6, i, size=SIZE, severity={"liftoff": 1.0}, realism=1.0)
            assert n.q < 10


def test_tinted_maps_are_bgr_and_gray_conversion_recovers_the_image():
    from engine.preprocess import to_gray_u8

    found = 0
    for i in range(60):
        rng = rng_for(4, i)
        spec = make_spec("head", {}, rng, size=SIZE, realism=1.0)
        if spec.style.tint is None:
            continue
        found += 1
        tinted = render_spec(spec, rng_for(9, i), size=SIZE)
        gray = render_spec(replace(spec, style=replace(spec.style, tint=None)), rng_for(9, i), size=SIZE)
        assert tinted.image.ndim == 3 and tinted.image.shape[2] == 3 and gray.image.ndim == 2
        b, g, r = (tinted.image[..., k][tinted.mask].astype(float) for k in range(3))
        assert abs(b.mean() - r.mean()) > 8  # a visible colour cast
        y = to_gray_u8(tinted.image).astype(float)
        m = gray.mask
        assert np.abs(y[m] - gray.image[m]).mean() < 0.15 * gray.image[m].mean()
        assert y[~m].max() == 0  # black outside the fan stays black
        if found == 3:
            break
    assert found >= 2


def _maps_case(plane, seed, index, severity, realism=1.0):
    s = render_sample(plane, seed, index, size=192, severity=severity, realism=realism, maps=True)
    g = s.image if s.image.ndim == 2 else s.image.mean(axis=2)
    return s, g.astype(float)


@pytest.mark.parametrize("realism", [0.0, 1.0])
def test_maps_line_up_with_the_image(realism):
    s, g = _maps_case("head", 2, 1, {"shadow": 0.7}, realism)
    crit = [c.name for c in build_scene("head", 25.0, rng_for(0, 0)).criteria]
    assert set(s.maps) == set(crit) | {"shadow", "liftoff", "fan"}
    for k, m in s.maps.items():
        assert m.shape == s.mask.shape and m.dtype == bool and not (m & ~s.mask).any(), k
    assert (s.maps["fan"] == s.mask).all()
    fan = s.mask
    sh = s.maps["shadow"]
    assert sh.sum() > 0.02 * fan.sum()
    assert g[sh].mean() < 0.6 * g[fan & ~sh].mean()  # the shadow map is where the image is dark
    assert not s.maps["liftoff"].any()
    # clean head: the skull ring is the brightest structure; CSP and third ventricle are fluid (dark)
    c, gc = _maps_case("head", 2, 1, {}, realism)
    skull, csp = c.maps["skull"], c.maps["csp"]
    assert skull.sum() > 50 and csp.sum() > 5
    assert gc[skull].mean() > 1.5 * gc[c.mask].mean()
    # (the real style darkens the brain around it and blurs small structures with its speckle filter)
    assert gc[csp].mean() < (0.6 if realism == 0 else 0.85) * gc[c.mask & ~csp].mean()
    assert not c.maps["shadow"].any()


def test_liftoff_map_is_the_dark_side_and_structure_maps_per_plane():
    s, g = _maps_case("abdomen", 3, 0, {"liftoff": 0.5})
    lo = s.maps["liftoff"]
    ys, _ = np.nonzero(s.mask)
    deep = np.arange(s.mask.shape[0])[:, None] > ys.min() + 0.4 * (ys.max() - ys.min())
    assert 0.2 < lo.sum() / s.mask.sum() < 0.8
    assert g[lo & deep].mean() < 0.3 * g[s.mask & ~lo & deep].mean()
    for plane in ALL_PLANES:
        t = render_sample(plane, 3, 1, size=SIZE, severity={}, maps=True, realism=1.0)
        names = [c.name for c in build_scene(plane, 25.0, rng_for(0, 0)).criteria]
        assert set(names) <= set(t.maps) and all(t.maps[n].any() for n in names), plane
    f, gf = _maps_case("femur", 3, 2, {})
    assert gf[f.maps["diaphysis"]].mean() > 1.6 * gf[f.mask].mean()  # the bright bone


def test_maps_only_when_asked():
    s = render_sample("head", 0, 0, size=SIZE)
    assert s.maps is None


def test_four_chamber_plane():
    qs = []
    for i in range(4):
        s, g = _maps_case("4CH", 8, i, {}, 0.0)
        assert s.plane == "4CH" and s.q >= 80 and s.missing == []
        ch, crux = s.maps["four_chambers"], s.maps["crux"]
        # dark chambers split by a bright cross of septa
        assert ch.sum() > 30 and g[ch].mean() < 0.5 * g[crux & ~ch].mean()
        qs.append(s.q)
        n = render_sample("4CH", 8, i, size=SIZE, severity={"liftoff": 1.0})
        assert n.q < 10
    off = np.mean([render_sample("4CH", 8, i, size=SIZE, severity={"offset": 1.0}).q for i in range(4)])
    assert off < np.mean(qs) - 10


def test_cli_style_real_and_the_4ch_plane(tmp_path):
    from app.cli import main
    from train.data import load_labelled, read_image

    out = tmp_path / "real"
    rc = main(["synth", str(out), "--n", "8", "--seed", "3", "--size", str(SIZE), "--style", "real",
               "--planes", "head,abdomen,femur,4CH", "--no-progress"])
    assert rc == 0
    rows = list(csv.DictReader(open(out / "labels.csv")))
    assert [r["plane"] for r in rows[:4]] == ["head", "abdomen", "femur", "4CH"]
    assert [r["scored"] for r in rows[:4]] == ["1", "1", "1", "0"]
    assert '"realism": 1.0' in (out / "SYNTHETIC.txt").read_text()
    ds = load_labelled(out, min_split=1)
    assert len(ds.items) == 8 and ds.items[3].extra["scored"] == "0"
    assert read_image(ds.items[0].path).shape[:2] == (SIZE, SIZE)
    # the default planes and style stay as they were: no 'scored' column
    plain = tmp_path / "plain"
    assert main(["synth", str(plain), "--n", "3", "--size", str(SIZE), "--no-progress"]) == 0
    header = open(plain / "labels.csv").readline().strip().split(",")
    assert "scored" not in header and "realism" not in (plain / "SYNTHETIC.txt").read_text()
    assert main(["synth", str(tmp_path / "bad"), "--n", "2", "--realism", "1.5", "--no-progress"]) == 2


def test_real_style_screen_keeps_the_fan_in_its_box():
    from engine.roi import find_roi
    from train.synth.dataset import render_item
    from train.synth.screen import screen_layout

    for i, plane in enumerate(("head", "4CH")):
        img, row = render_item(plane, 3, i, 256, screen=True, realism=1.0)
        h, w = img.shape[:2]
        bx, by, bw, bh = screen_layout(w, h)
        assert img[by + 20: by + bh - 20, : bx - 2].mean() < 25  # the parameter column stays black + text
        x, y, rw, rh = find_roi(img).box
        # the ROI finder finds the image inside the imaging box, not the text around it
        assert x >= bx - 6 and y >= by - 6 and x + rw <= bx + bw + 6 and y + rh <= by + bh + 6
        assert rw * rh >= 0.4 * bw * bh
