"""ROI finder on screens drawn like real vendors' (train.synth.screen.vendor_screen: header bars,
logo boxes, parameter columns, full-screen zoomed images, fluid gaps, dual views, POCUS apps), clean
and as a capture card gives them (noise + JPEG), and on real fetal head frames with amniotic fluid."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from engine.roi import find_roi
from roi_cases import HC18_DIR, HC18_FLUID, SYNTH_CURVED_DARK_FLANKS, coverage, tissue_extent
from train.synth.screen import VENDOR_LAYOUTS, vendor_screen

IN_MIN, OUT_MAX = 0.97, 0.02


@pytest.fixture(scope="module", params=[False, True], ids=["clean", "captured"])
def screens(request):
    return {name: vendor_screen(name, seed=3, capture=request.param) for name in VENDOR_LAYOUTS}


@pytest.mark.parametrize("name", VENDOR_LAYOUTS)
def test_vendor_layouts(screens, name):
    v = screens[name]
    r = find_roi(v.image)
    H, W = v.image.shape[:2]
    x, y, w, h = r.box
    tx, ty, tw, th = v.box
    # the whole image region, fluid included, and nothing else
    iou = (r.mask & v.mask).sum() / (r.mask | v.mask).sum()
    assert iou >= 0.95, (name, iou, r.box, v.box)
    for b in v.inside:  # tissue and fluid inside the image: in the ROI (a fluid gap does not split it)
        assert coverage(r.mask, b) >= IN_MIN, (name, "inside", b, r.box)
    for b in v.outside:  # header text, logo, parameter column, scale labels, buttons, app bar
        assert coverage(r.mask, b) <= OUT_MAX, (name, "outside", b, r.box)
    # the box never includes header text and does not run past the image's edges (1 % slack)
    assert y > v.header_bottom, (name, r.box, v.header_bottom)
    tol = 0.01 * max(H, W)
    assert x >= tx - tol and y >= ty - tol and x + w <= tx + tw + tol and y + h <= ty + th + tol, (name, r.box, v.box)
    assert r.kind == v.kind and r.confidence >= 0.5


def test_vendor_screen_truth_is_what_was_drawn():
    """The generator's truth: text is drawn outside the image mask, the image inside is speckle."""
    for name in VENDOR_LAYOUTS:
        v = vendor_screen(name, 1280, 720, seed=1)
        gray = v.image.max(2)
        assert v.mask.mean() > 0.25, name
        for b in v.outside:
            x, y, w, h = b
            assert not v.mask[y:y + h, x:x + w].any(), (name, b)
            assert gray[y:y + h, x:x + w].max() > 60, (name, b)  # something is drawn there
        for b in v.inside:
            x, y, w, h = b
            assert v.mask[y:y + h, x:x + w].all(), (name, b)
    with pytest.raises(ValueError, match="unknown screen layout"):
        vendor_screen("nokia")


@pytest.mark.skipif(not os.path.isdir(HC18_DIR), reason="HC18 frames not present (/work/shared/data/hc18)")
@pytest.mark.parametrize("name", HC18_FLUID)
def test_real_fetal_frames_with_fluid_are_not_split(name):
    img = cv2.imread(os.path.join(HC18_DIR, name), cv2.IMREAD_GRAYSCALE)
    H, W = img.shape
    r = find_roi(img)
    x, y, w, h = r.box
    y0, y1, x0, x1 = tissue_extent(img)
    slack = 0.03 * H
    # every row and column with echoes is in the box: the fluid does not cut the image in two
    assert y <= y0 + slack and y + h - 1 >= y1 - slack and x <= x0 + slack and x + w - 1 >= x1 - slack, (
        name, r.box, (x0, y0, x1, y1))
    assert coverage(r.mask, (int(0.3 * W), int(0.3 * H), int(0.4 * W), int(0.4 * H))) >= IN_MIN


def test_curved_fan_keeps_its_dark_flanks():
    """A curved probe's fan whose lower flanks are faint speckle to the fan's edge: the flanks are in
    the ROI (before, the hull turned inward above them and left out most of the left one)."""
    from train.synth.dataset import render_item

    c = SYNTH_CURVED_DARK_FLANKS
    img, _, s = render_item(c["plane"], c["seed"], c["index"], size=c["size"], screen=True, sample=True)
    for x, y, w, h in c["inside"]:  # the hand marks agree with the generator's fan
        assert s.mask[y:y + h, x:x + w].all(), ("inside", (x, y, w, h))
    for x, y, w, h in c["outside"]:
        assert not s.mask[y:y + h, x:x + w].any(), ("outside", (x, y, w, h))
    r = find_roi(img)
    for b in c["inside"]:
        assert coverage(r.mask, b) >= IN_MIN, ("inside", b, r.box)
    for b in c["outside"]:
        assert coverage(r.mask, b) <= OUT_MAX, ("outside", b, r.box)
    assert r.kind == "sector"
    assert (r.mask & s.mask).sum() / s.mask.sum() >= IN_MIN  # the whole fan
