"""ROI finder, part 3: a fan's geometry on the working copy (see engine/roi.py).

A fan (sector) is bounded by two straight sides that meet at an apex (on screen for a phased
array, above the screen for a curved probe) and by an arc about that apex at the image's depth.
Where a flank of the fan is dark to its edge (fluid, a shadow behind the skull) the region found
from the signal stops short of the fan's edge there; these helpers put the lost part back from the
fan's own lines.
"""
from __future__ import annotations

import cv2
import numpy as np


def _row_extents(work_mask: np.ndarray):
    """(y0, leftmost x per row, rightmost x per row) over the rows y0..y1 the mask covers (or None)."""
    rows = np.flatnonzero(work_mask.any(1))  # (cv2.reduce's row MAX of uint8 is scalar: ~40x slower)
    if rows.size < 8:
        return None
    y0, y1 = int(rows[0]), int(rows[-1])
    band = work_mask[y0:y1 + 1] > 0
    has = band.any(1)
    xl = np.where(has, band.argmax(1), -1)
    xr = np.where(has, band.shape[1] - 1 - cv2.flip(band.view(np.uint8), 1).view(bool).argmax(1), -1)  # (argmax
    # of a reversed view is ~2x slower than of a flipped copy)
    return y0, xl, xr


def _side_line(xs: np.ndarray, outward: int, height: int):
    """x = a + b·y (y from the region's top) fitted to one side's extent from the top down to where
    the side stops going outward (the region's widest row on that side), or None when that stretch
    is short, bent, or does not widen with depth (a rectangle's side)."""
    far = int(np.argmax(outward * xs))  # the widest row on this side (first of equals)
    lo, hi = int(0.04 * height) + 1, far - int(0.04 * height)
    if hi - lo < 0.3 * height:
        return None
    y = np.arange(lo, hi, dtype=np.float64)
    x = xs[lo:hi].astype(np.float64)
    # least squares x = a + b·y in closed form (centred; np.polyfit's SVD costs ~10x as much)
    yc = y - y.mean()
    b = float(yc @ (x - x.mean())) / float(yc @ yc)
    a = float(x.mean()) - b * float(y.mean())
    if outward * b < 0.15 or outward * b > 3.0:  # the side must widen with depth, as a fan's does
        return None
    if np.abs(x - (a + b * y)).max() > max(2.0, 0.02 * height):
        return None  # not straight
    return a, b, far


def complete_fan(work_mask: np.ndarray) -> np.ndarray | None:
    """Points of a curved probe's fan's lost flanks: a side (a straight line fitted to the region's upper part)
    whose lowest point stops short of the arc about the apex through the region's deepest point
    runs on to that arc, and the arc from there to the fan's middle comes back. None when the region
    is not a fan with straight sides or both sides reach the arc."""
    ext = _row_extents(work_mask)
    if ext is None:
        return None
    y0, xl, xr = ext
    height = xl.size
    left, right = _side_line(xl, -1, height), _side_line(xr, 1, height)
    if left is None or right is None:
        return None
    (al, bl, fl), (ar, br, fr) = left, right
    ya = (ar - al) / (bl - br)  # the apex, in rows from the region's top
    if ya > -0.05 * height or ya < -4.0 * height or (xr[:3] - xl[:3]).min() < 0.15 * (xr - xl).max():
        # a phased array's fan (apex on screen: :func:`mirror_sector` puts a lost flank back from the
        # other one) or no fan. A curved probe's face is wide and its apex above the screen.
        return None
    xa, ya = al + bl * ya, y0 + ya
    cs, _ = cv2.findContours(work_mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pts = np.vstack(cs).reshape(-1, 2).astype(np.float64)
    radius = float(np.hypot(pts[:, 0] - xa, pts[:, 1] - ya).max())
    out = []
    for a, b, far in (left, right):
        corner = np.array([a + b * far, y0 + far])
        if np.hypot(corner[0] - xa, corner[1] - ya) >= 0.93 * radius:
            continue  # this side reaches the arc: nothing lost there
        ang = np.arctan2(1.0, b)  # the side's direction (y down)
        t = np.linspace(ang, np.pi / 2, 12)
        out.append(corner[None])
        out.append(np.stack([xa + radius * np.cos(t), ya + radius * np.sin(t)], 1))
    if not out:
        return None
    out = np.vstack(out)
    h, w = work_mask.shape
    out[:, 0] = np.clip(out[:, 0], 0, w - 1)
    out[:, 1] = np.clip(out[:, 1], 0, h - 1)
    return np.round(out).astype(np.int32)


def mirror_sector(work_mask: np.ndarray) -> np.ndarray | None:
    """Points of the region mirrored about its apex, when the region is a fan seen whole (a narrow
    apex at the top, near the middle of the region) but lopsided: one flank reaches further from the
    apex than the other. None when it is not a fan or already (nearly) symmetric."""
    rows = np.flatnonzero(work_mask.any(1))
    if rows.size < 8:
        return None
    y0, y1 = int(rows[0]), int(rows[-1])
    widths = work_mask[y0:y1 + 1].sum(1)
    top = work_mask[y0:y0 + max(2, (y1 - y0) // 30)]
    xs = np.flatnonzero(top.any(0))
    cols = np.flatnonzero(work_mask.any(0))
    x0, x1 = int(cols[0]), int(cols[-1])
    if xs.size == 0 or xs.size > 0.15 * widths.max():
        return None  # not a fan with its apex on screen (a curved probe's wide face: not mirrored)
    ax = float(xs.mean())
    left, right = ax - x0, x1 - ax
    if min(left, right) < 0.2 * (x1 - x0) or abs(left - right) < 0.04 * (x1 - x0):
        return None  # apex far off centre (not a fan), or symmetric already
    cs, _ = cv2.findContours(work_mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pts = np.vstack(cs).reshape(-1, 2).astype(np.float64)
    pts[:, 0] = np.clip(2 * ax - pts[:, 0], 0, work_mask.shape[1] - 1)
    return np.round(pts).astype(np.int32)
