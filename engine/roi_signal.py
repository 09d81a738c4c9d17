"""ROI finder, part 1: the working copies and the pixel masks it works on (see engine/roi.py)."""
from __future__ import annotations

import cv2
import numpy as np

#: Long side of the working copy.
WORK_SIZE = 400
#: Gray level above which a (median-filtered) pixel counts as signal.
THRESHOLD = 10
#: Widest dark gap (share of the long side) across which pieces of the image in the same columns join.
STACK_GAP = 0.35
#: Local spread (grey levels, 5×5 of the nearest-sampled copy) below which a bright pixel is "smooth"
#: (a bar, button or logo fill plus capture noise), not speckle.
SMOOTH_STD = 3.0


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    a = np.asarray(frame)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or a.shape[0] < 2 or a.shape[1] < 2:
        raise ValueError(f"find_roi: expected a gray H×W or colour H×W×3 frame, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return (a >> 8).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        return np.clip(np.nan_to_num(a) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.clip(a, 0, 255).astype(np.uint8)


def roi_signal(frame: np.ndarray, work: int = WORK_SIZE) -> tuple[np.ndarray, np.ndarray, float]:
    """Working copies: max over colour channels, shrunk so the long side is ``work`` px, once by area
    averaging (for brightness) and once by nearest sampling (keeps speckle's pixel-to-pixel
    roughness, which area averaging smooths away). Returns (area, nearest, scale = work px per
    frame px), both uint8 H'×W'. Big frames are first block-averaged by a whole factor (OpenCV's
    fast path: 1080p ~2.5 ms instead of ~11 ms for 4.8× at once), and the colour planes are shrunk
    before their max is taken, not after."""
    a = _to_uint8(frame)
    H, W = a.shape[:2]
    s = min(1.0, work / max(H, W))
    if s < 1.0:
        w, h = max(2, int(round(W * s))), max(2, int(round(H * s)))
        k = max(1, int(1.0 / s))  # whole factor, still >= the working size
        if k > 1:  # block average by k, then a small bilinear step to the working size (cheap)
            pre = cv2.resize(a[: H // k * k, : W // k * k], (W // k, H // k), interpolation=cv2.INTER_AREA)
            area = pre if pre.shape[1] == w and pre.shape[0] == h else cv2.resize(pre, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            area = cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)
        near = cv2.resize(a, (w, h), interpolation=cv2.INTER_NEAREST)
        s = w / W
    else:
        area = near = np.ascontiguousarray(a)
    if a.ndim == 3:
        area = cv2.max(cv2.max(area[:, :, 0], area[:, :, 1]), area[:, :, 2])
        near = cv2.max(cv2.max(near[:, :, 0], near[:, :, 1]), near[:, :, 2])
    return area, near, s


def _local_std(x: np.ndarray, k: int = 5) -> np.ndarray:
    f = x.astype(np.float32)
    m = cv2.blur(f, (k, k))
    return np.sqrt(np.maximum(cv2.blur(f * f, (k, k)) - m * m, 0.0))


def _signal_mask(area: np.ndarray, near: np.ndarray | None = None) -> np.ndarray:
    """Pixels bright enough to be image (median-filtered, so speckle pin-holes and 1–2 px strokes go)
    and, given ``near``, not exactly flat: a filled header or app bar, a button or a logo box is one
    grey level over its 3×3 neighbourhood, speckle never is. So a bar a few pixels above the image
    is not joined to it by the shrinking; big smooth panels at the frame's border (a noisy or
    JPEG-compressed bar is not flat) are left out with a margin."""
    m = cv2.medianBlur(area, 5) > THRESHOLD
    if near is not None:
        k3 = np.ones((3, 3), np.uint8)
        m &= cv2.dilate(near, k3) != cv2.erode(near, k3)
        bars = _edge_panels(_smooth_map(near), near)
        if bars is not None:
            m &= cv2.dilate(bars, np.ones((5, 5), np.uint8)) == 0
    return m.astype(np.uint8)


def _edge_panels(smooth: np.ndarray, near: np.ndarray) -> np.ndarray | None:
    """Big smooth blobs of one grey level that touch the frame's border: header and app bars, side
    panels, logo boxes in a corner (uint8 mask, or None when there are none). Dark, smooth tissue at
    the border of an image that fills the frame varies in level across the blob, so it stays."""
    h, w = smooth.shape
    if smooth.mean() < 0.005:
        return None
    n, lab, st, _ = cv2.connectedComponentsWithStats(smooth.astype(np.uint8), connectivity=8)
    keep = []
    for i in range(1, n):
        x, y, bw, bh, a = (int(v) for v in st[i])
        if a < 0.005 * h * w or not (x <= 1 or y <= 1 or x + bw >= w - 1 or y + bh >= h - 1):
            continue
        vals = near[y:y + bh, x:x + bw][lab[y:y + bh, x:x + bw] == i]
        if float(vals.std()) < SMOOTH_STD:
            keep.append(i)
    if not keep:
        return None
    lut = np.zeros(n, np.uint8)
    lut[keep] = 1
    return lut[lab]


def _smooth_map(near: np.ndarray) -> np.ndarray:
    """Bright but smooth pixels: speckle's local spread grows with its brightness (Rayleigh: std about
    half the mean), whereas a filled bar, button or logo box varies by capture noise only."""
    f = near.astype(np.float32)
    mu = cv2.blur(f, (5, 5))
    sd = np.sqrt(np.maximum(cv2.blur(f * f, (5, 5)) - mu * mu, 0.0))
    return (mu > THRESHOLD) & (sd < np.maximum(SMOOTH_STD, 0.08 * mu))


def _faint_mask(area: np.ndarray, near: np.ndarray, scale: float) -> np.ndarray | None:
    """Faint speckle: rough pixels away from anything bright. It marks the dark parts of a fan,
    whereas screen background is flat and JPEG ringing hugs bright text and edges (within one 8×8
    block, which the halo covers). None where the whole frame is rough (analogue noise: roughness
    says nothing there)."""
    faint = _local_std(near) > 0.15  # any variation in 5×5: flat background has exactly none
    r = 2 * max(2, int(round(8 * scale))) + 1
    halo = cv2.dilate((area > 40).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (r, r)))
    away = halo == 0
    faint &= away
    faint = cv2.medianBlur(faint.astype(np.uint8), 5)
    # is the background rough (capture noise, JPEG)? Then roughness says nothing. Judged in the
    # frame's corners (background on a screen; black outside the fan in a cropped image) where they
    # are away from anything bright, else over all pixels away from anything bright
    h, w = faint.shape
    c = max(2, int(0.06 * min(h, w)))
    corners = np.zeros_like(away)
    corners[:c, :c] = corners[:c, -c:] = corners[-c:, :c] = corners[-c:, -c:] = True
    corners &= away
    if corners.sum() >= 20:
        if faint[corners].mean() > 0.5:
            return None
    elif faint.sum() > 0.6 * max(1, int(away.sum())):
        return None
    return faint
