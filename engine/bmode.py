"""Is the picture in the box a B-mode image at all? Two tests made before the model sees gray.

**Colour.** A B-mode image is gray, or gray shown through a vendor's colour map (sepia, blue,
bronze): either way its colour is a function of its brightness, one colour per gray level. A colour
photograph is not: at one brightness it has leaves and petals, skin and sky. The model cannot tell —
it is fed gray (engine/preprocess.py) — so a colour photo can reach it looking like a textured scan.
:func:`offmap_share` runs on the colour crop:

* sample the ROI on a grid (~60 points along its short side; cheap at any frame size);
* brightness Y = (B + 2G + R) / 4 and two chroma values, R − G and B − G, per sample;
* the image's own colour map: chroma as a quadratic of brightness (least squares, refitted on the
  70 % of samples nearest the first fit);
* a sample is *off the map* when its chroma is more than ``OFF_LEVELS`` from the map;
* the off-map share of the image samples (Y above ``DARK``) is the statistic.

Gray frames give exactly 0, tinted maps ~0 (JPEG's subsampled chroma adds a few off-map pixels at
edges), a colour-Doppler box the share of the image it covers, a colour photo most of its pixels.
More than :data:`OFF_SHARE` (half the image off its own colour map) raises the flag. A full-screen
colour Doppler raises it too, and rightly (the model never saw colour flow).

**Grain.** Neighbouring pixels of any image are alike: speckle spans several pixels at the capture's
resolution (and the scan conversion interpolates between beams), tissue and organs are smooth.
Analogue "snow" on a capture card with no video, or digital white noise, has no such structure:
:func:`grain_corr` is the correlation of each pixel with its right and its lower neighbour (the
smaller of the two), on 12 full-resolution rows across the ROI, median over the rows with content.
Below :data:`GRAIN_MIN` the frame is noise, not an image. ~0.1 ms a frame.

Both cut-offs were chosen on ``bench/bench_ood_design.py``'s material (its second table: dead-leaves
photos and salt-and-pepper noise to flag; the scanners' screen captures of pydicom-data, the
generator's frames at 320×240 … 1080p, tinted and as JPEG, and HC18 frames to pass), not on
bench_real's: images give grain 0.37–1.0 (the lowest a real-style synthetic frame shrunk to 320×240),
white noise ~0, hence :data:`GRAIN_MIN` 0.15. The model's training scans are gray or tinted and
grainy, so the flag (or'ed into ``ScoreResult.ood``, engine/result.py) means what it says. No Qt, no
torch.
"""
from __future__ import annotations

import numpy as np

#: chroma distance (gray levels, on R−G and B−G) from the image's colour map that counts as off it
OFF_LEVELS = 16
#: samples at or below this brightness are background, not image (black has no colour)
DARK = 12
#: the flag's cut-off: share of the image samples off the colour map
OFF_SHARE = 0.5
#: about this many samples along the ROI's short side
SAMPLES = 60
#: fewer image samples than this: no judgement (0.0)
MIN_SAMPLES = 200
#: the grain cut-off: neighbour correlation below this is noise (white noise ~0; images >= 0.37 on the
#: design material, a real-style frame shrunk to 320x240 the lowest)
GRAIN_MIN = 0.15
#: full-resolution rows sampled for the grain
GRAIN_ROWS = 12
#: a row with a spread (gray levels) under this carries no grain to judge (black outside a fan)
ROW_STD = 2.0
#: the flag's reasons, in words (FrameResult.ood_reason; the GUI picks its warning line by them)
COLOUR_REASON = "a colour picture, not a B-mode ultrasound image"
NOISE_REASON = "noise, not an image (no video on the input?)"


def offmap_share(frame: np.ndarray, roi=None) -> float:
    """Share (0–1) of the image samples in ``roi`` (x, y, w, h; None: the whole frame) of a BGR
    ``frame`` whose colour is not the image's colour for their brightness; 0.0 for gray frames."""
    a = np.asarray(frame)
    if a.ndim != 3 or a.shape[2] < 3:
        return 0.0
    if roi is not None:
        x, y, w, h = (int(v) for v in roi)
        x, y = max(0, x), max(0, y)
        a = a[y : y + max(0, h), x : x + max(0, w)]
    if a.size == 0:
        return 0.0
    step = max(1, min(a.shape[0], a.shape[1]) // SAMPLES)
    s = a[::step, ::step, :3].reshape(-1, 3).astype(np.float32)
    b, g, r = s[:, 0], s[:, 1], s[:, 2]
    yv = (b + 2 * g + r) * 0.25
    img = yv > DARK
    n = int(np.count_nonzero(img))
    if n < MIN_SAMPLES:
        return 0.0
    t, u, v = yv[img] / 255.0, (r - g)[img], (b - g)[img]
    if max(float(np.abs(u).max()), float(np.abs(v).max())) <= OFF_LEVELS:  # gray, or nearly: on any map
        return 0.0
    # the image's colour map: chroma as a quadratic of brightness, fitted twice (the second time on
    # the 70 % of samples nearest the first fit, so a Doppler box or a logo does not bend it)
    A = np.stack([np.ones_like(t), t, t * t], 1)
    c = np.stack([u, v], 1)
    w = np.ones(n, np.float32)
    for _ in range(2):
        Aw = A * w[:, None]
        coef = np.linalg.solve(Aw.T @ A + 1e-3 * np.eye(3, dtype=np.float32), Aw.T @ c)
        fit = A @ coef
        res = np.maximum(np.abs(u - fit[:, 0]), np.abs(v - fit[:, 1]))
        w = (res <= np.partition(res, int(0.7 * (n - 1)))[int(0.7 * (n - 1))]).astype(np.float32)
    off = res > OFF_LEVELS
    return float(off.mean())


def grain_corr(frame: np.ndarray, roi=None) -> float:
    """Correlation (−1…1) of the pixels in ``roi`` with their right and lower neighbours (the smaller
    of the two, median over :data:`GRAIN_ROWS` rows with content); 1.0 where there is too little to
    judge. Images are well above :data:`GRAIN_MIN`, white noise near 0."""
    a = np.asarray(frame)
    if roi is not None:
        x, y, w, h = (int(v) for v in roi)
        x, y = max(0, x), max(0, y)
        a = a[y : y + max(0, h), x : x + max(0, w)]
    if a.ndim == 3:
        a = a[:, :, min(1, a.shape[2] - 1)]  # green: the brightness carrier of BGR (and of any tint)
    if a.ndim != 2 or a.shape[0] < 8 or a.shape[1] < 8:
        return 1.0
    ys = np.linspace(1, a.shape[0] - 2, GRAIN_ROWS).astype(np.intp)
    r0 = a[ys].astype(np.float32)
    r1 = a[ys + 1].astype(np.float32)
    r0 -= r0.mean(1, keepdims=True)
    r1 -= r1.mean(1, keepdims=True)
    v0 = np.einsum("ij,ij->i", r0, r0)
    ok = v0 > ROW_STD ** 2 * r0.shape[1]
    if int(ok.sum()) < 3:
        return 1.0
    r0, r1, v0 = r0[ok], r1[ok], v0[ok]
    left, right = r0[:, :-1], r0[:, 1:]
    ch = np.einsum("ij,ij->i", left, right) / np.sqrt(
        np.einsum("ij,ij->i", left, left) * np.einsum("ij,ij->i", right, right) + 1e-6)
    cv = np.einsum("ij,ij->i", r0, r1) / np.sqrt(v0 * np.einsum("ij,ij->i", r1, r1) + 1e-6)
    return float(np.median(np.minimum(ch, cv)))


def not_bmode(share, grain=1.0):
    """The flag: most of the image off its own colour map (a colour picture), or no grain (noise).
    Numbers or arrays (elementwise); None counts as passing."""
    share = 0.0 if share is None else share
    grain = 1.0 if grain is None else grain
    return np.logical_or(np.greater(share, OFF_SHARE), np.less(grain, GRAIN_MIN))


def why_not_bmode(share, grain=1.0) -> str:
    """Words for the flag ("" when the picture passes; None counts as passing)."""
    share = 0.0 if share is None else share
    grain = 1.0 if grain is None else grain
    if share > OFF_SHARE:
        return COLOUR_REASON
    if grain < GRAIN_MIN:
        return NOISE_REASON
    return ""
