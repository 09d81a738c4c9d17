"""The ROI finder's shortcuts give OpenCV's own answers: an opening / erosion / dilation by a disc as
the min / max over the disc's rectangles, and openings and connected components worked out on a
mask's crop (its set pixels' box plus the operation's reach) instead of the whole mask."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.roi_signal import _cc_stats, _cc_stats_in, _crop_box, _disc, _morph_disc

OPS = (cv2.MORPH_ERODE, cv2.MORPH_DILATE, cv2.MORPH_OPEN)


def _masks(seed: int, n: int = 12):
    """Random 0/1 masks (blobs of varied density and size, some touching the border) and grey images."""
    rng = np.random.default_rng(seed)
    for t in range(n):
        h, w = int(rng.integers(20, 140)), int(rng.integers(20, 160))
        m = (cv2.blur(rng.random((h, w)).astype(np.float32), (5, 5)) < rng.uniform(0.4, 0.6)).astype(np.uint8)
        yield m if t % 3 else (rng.random((h, w)) * 255).astype(np.uint8)


@pytest.mark.parametrize("k", [5, 7, 12, 13, 15, 16, 17, 21, 24])
def test_disc_morphology_equals_opencv(k):
    for img in _masks(k):
        for op in OPS:
            want = cv2.morphologyEx(img, op, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
            assert np.array_equal(_morph_disc(op, img, k), want), (k, op, img.shape)
            sub = img[3:-2, 5:-1]  # a view into a bigger array (cv2 reads past its edges)
            want = cv2.morphologyEx(sub, op, _disc(k))
            assert np.array_equal(_morph_disc(op, sub, k), want), (k, op, "view")


def _blobs(seed: int):
    """0/1 masks with an empty margin of varied width (the letterboxed case) or none."""
    rng = np.random.default_rng(seed)
    for t in range(20):
        h, w = int(rng.integers(40, 230)), int(rng.integers(40, 400))
        m = np.zeros((h, w), np.uint8)
        y0, x0 = int(rng.integers(0, h // 3)), int(rng.integers(0, w // 3))
        y1, x1 = int(rng.integers(2 * h // 3, h + 1)), int(rng.integers(2 * w // 3, w + 1))
        inner = cv2.blur(rng.random((y1 - y0, x1 - x0)).astype(np.float32), (7, 7)) < 0.5
        m[y0:y1, x0:x1] = inner
        yield m


def test_crop_box_opening_and_components_equal_the_whole_mask():
    for m in _blobs(3):
        for k in (7, 15):
            box = _crop_box(m, k // 2)
            opened = np.zeros_like(m)
            opened[box] = _morph_disc(cv2.MORPH_OPEN, m[box], k)
            assert np.array_equal(opened, cv2.morphologyEx(m, cv2.MORPH_OPEN, _disc(k))), (m.shape, k)
            cols = box[1].stop - box[1].start
            assert box[0].start % 2 == 0 and box[1].start % 2 == 0
            assert cols % 16 == 0 or box[1].stop == m.shape[1]  # whole 16 px, or shifted to end at the edge
        box = _crop_box(m)
        n0, lab0, st0, _ = _cc_stats(m)
        n1, lab1, st1 = _cc_stats_in(m[box], box, m.shape)
        assert n1 == n0 and np.array_equal(lab1, lab0)  # the same labels, in the same order
        assert np.array_equal(st1[1:], st0[1:])
    assert _crop_box(np.zeros((30, 40), np.uint8)) is None


def test_component_stats_equal_opencv_dense_and_sparse():
    """_cc_stats works out the stats itself for sparse masks: the same labels and stats as OpenCV's."""
    rng = np.random.default_rng(7)
    for t in range(30):
        h, w = int(rng.integers(10, 230)), int(rng.integers(10, 400))
        dens = [0.002, 0.01, 0.014, 0.03, 0.5][t % 5]
        m = (rng.random((h, w)) < dens).astype(np.uint8)
        if t % 7 == 0:
            m[:] = 0
        n0, lab0, st0, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        n1, lab1, st1, _ = _cc_stats(m)
        assert n1 == n0 and np.array_equal(lab1, lab0), (t, dens)
        assert np.array_equal(st1[1:], st0[1:]), (t, dens)


@pytest.mark.parametrize("W", [239, 240, 241, 301, 400])
def test_cols16_always_covers_the_asked_columns(W):
    from engine.roi_signal import _cols16

    for x0 in range(0, W, 7):
        for x1 in (x0 + 1, min(W, x0 + 50), W):
            if x1 <= x0:
                continue
            c = _cols16(x0 & ~1, x1, W)
            assert c.start <= (x0 & ~1) and c.stop >= x1 and c.stop <= W and c.start % 2 == 0


def test_find_roi_on_odd_widths_with_the_image_at_the_right_edge():
    # a crash seen in training: a frame whose working copy is an odd number of columns wide, with
    # faint speckle reaching its right edge (the crop of the faint pieces was one column short)
    from engine.roi import find_roi

    rng = np.random.default_rng(0)
    for w in (477, 479, 601, 799):
        img = np.zeros((400, w), np.uint8)
        img[60:380, 40:] = np.clip(rng.normal(90, 30, (320, w - 40)), 0, 255).astype(np.uint8)
        img[60:380, w - 120:] //= 6  # faint flank to the edge
        r = find_roi(img)
        x, y, bw, bh = r.box
        assert x + bw <= w and bw > 0.5 * w
