"""Is the picture in the box a B-mode image at all? A colour test, made before the model sees gray.

A B-mode image is gray, or gray shown through a vendor's colour map (sepia, blue, bronze): either
way its colour is a function of its brightness, one colour per gray level. A colour photograph is
not: at one brightness it has leaves and petals, skin and sky. The model cannot tell — it is fed
gray (engine/preprocess.py) — so a colour photo can reach it looking like a textured scan. This
check runs on the colour crop first:

* sample the ROI on a grid (~60 points along its short side; cheap at any frame size);
* brightness Y = (B + 2G + R) / 4 and two chroma values, R − G and B − G, per sample;
* the image's own colour map: chroma as a quadratic of brightness (least squares, refitted on the
  70 % of samples nearest the first fit);
* a sample is *off the map* when its chroma is more than ``OFF_LEVELS`` from the map;
* the off-map share of the image samples (Y above ``DARK``) is the statistic.

Gray frames give exactly 0, tinted maps ~0 (JPEG's subsampled chroma adds a few off-map pixels at
edges), a colour-Doppler box the share of the image it covers, a colour photo most of its pixels.
:data:`OFF_SHARE` is the cut-off of the "unlike the training data" flag (engine/result.py): more than
half of the image off its own colour map. The model's training images are all gray or tinted (share
~0), so the flag means what it says; a full-screen colour Doppler also raises it, and rightly (the
model never saw colour flow). Numbers on the material the cut-off was chosen on:
``bench/bench_ood_design.py`` (dead-leaves photos, the scanners' screen captures of pydicom-data,
the generator's tinted frames, HC18). No Qt, no torch.
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


def not_bmode(share: float) -> bool:
    """The flag: most of the image off its own colour map (a colour picture, not a B-mode image)."""
    return share > OFF_SHARE
