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
    frame px), both uint8 H'×W'. Big frames are first block-averaged by a whole factor k, halving
    (OpenCV's vectorised 2× path) while k is even: a 1080p colour frame costs ~1 ms instead of ~4
    ms for 4× at once (each halving rounds, so a level may differ by 1 from one 4× average); then
    a small bilinear step to the working size. The colour planes are shrunk before their max is
    taken, not after."""
    a = _to_uint8(frame)
    H, W = a.shape[:2]
    s = min(1.0, work / max(H, W))
    if s < 1.0:
        w, h = max(2, int(round(W * s))), max(2, int(round(H * s)))
        k = max(1, int(1.0 / s))  # whole factor, still >= the working size
        if k > 1:  # block average by k, then a small bilinear step to the working size (cheap)
            pre = a[: H // k * k, : W // k * k]
            while k % 2 == 0:
                # bilinear at exactly ½ samples between each 2×2 block: the same mean as INTER_AREA
                # (identical output, tests/test_roi.py), in well under half the time
                pre = cv2.resize(pre, (pre.shape[1] // 2, pre.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
                k //= 2
            if k > 1:
                pre = cv2.resize(pre, (pre.shape[1] // k, pre.shape[0] // k), interpolation=cv2.INTER_AREA)
            # the colour planes split before the bilinear step: OpenCV's bilinear resize of one plane
            # is vectorised, of a 3-channel image not (the same numbers, ~1/2 the time)
            area = cv2.split(pre) if pre.ndim == 3 else [pre]
            if len(area) == 3 and _same_planes(area):
                area = area[:1]  # a gray picture sent as colour (most B-mode): one plane's step is the max's
            if pre.shape[1] != w or pre.shape[0] != h:
                area = [cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR) for p in area]
        else:
            area = cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)
        near = cv2.resize(a, (w, h), interpolation=cv2.INTER_NEAREST)
        s = w / W
    else:
        area = near = np.ascontiguousarray(a)
    return _plane_max(area), _plane_max(near), s


def _same_planes(planes) -> bool:
    """Whether three uint8 planes are identical (two compares and counts: ~1/4 of a bilinear step)."""
    return not (cv2.countNonZero(cv2.compare(planes[0], planes[1], cv2.CMP_NE)) or
                cv2.countNonZero(cv2.compare(planes[0], planes[2], cv2.CMP_NE)))


def _plane_max(im) -> np.ndarray:
    """Max over the colour planes of a H×W×3 image or of a list of planes (a gray H×W: itself)."""
    if isinstance(im, np.ndarray):
        if im.ndim == 2:
            return im
        im = cv2.split(im)  # contiguous planes in one pass (cv2 copies a strided channel view)
    return im[0] if len(im) == 1 else cv2.max(cv2.max(im[0], im[1]), im[2])


def _cc_stats(mask8: np.ndarray):
    """connectedComponentsWithStats (8-connected) by the BBDT algorithm, the same labels and stats as
    OpenCV's default in about a third of the time on a working copy: uint16 labels (8-connected
    pieces of an H×W mask number at most ceil(H/2)·ceil(W/2), < 65536 for a working copy). Returns
    (n, labels, stats, None). OpenCV's stats pass visits every pixel, background too (~2/3 of the
    call even for a mask with 1 % set); for a sparse mask (<= 1/64 set: most smooth maps)
    the labels alone are found and the stats (x, y, w, h, area of labels >= 1; row 0 is left 0)
    are worked out from the set pixels: the same numbers."""
    h, w = mask8.shape[:2]
    lt = cv2.CV_16U if ((h + 1) // 2) * ((w + 1) // 2) < 65535 else cv2.CV_32S
    if cv2.countNonZero(mask8) > (h * w) // 64:
        n, lab, st, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask8, 8, lt, cv2.CCL_BBDT)
        return n, lab, st, None
    n, lab = cv2.connectedComponentsWithAlgorithm(mask8, 8, lt, cv2.CCL_BBDT)
    st = np.zeros((n, 5), np.int32)
    if n > 1:
        idx = np.flatnonzero(mask8.view(bool))  # (of a bool view: ~7x faster than cv2.findNonZero)
        lp = lab.ravel()[idx]
        o = np.argsort(lp, kind="stable")
        lp, (ys, xs) = lp[o], np.divmod(idx[o], w)
        start = np.flatnonzero(np.r_[True, lp[1:] != lp[:-1]])  # labels 1..n-1, each with pixels
        x0, y0 = np.minimum.reduceat(xs, start), np.minimum.reduceat(ys, start)
        st[1:, 0], st[1:, 1] = x0, y0
        st[1:, 2] = np.maximum.reduceat(xs, start) - x0 + 1
        st[1:, 3] = np.maximum.reduceat(ys, start) - y0 + 1
        st[1:, 4] = np.diff(np.r_[start, lp.size])
    return n, lab, st, None


def _crop_box(mask8: np.ndarray, margin: int = 0):
    """(rows, cols) slices of the bounding box of ``mask8``'s set pixels grown by ``margin`` (clipped
    to the mask), its top-left corner on even coordinates; None when nothing is set. An opening or
    dilation of radius <= ``margin``, and the connected components (:func:`_cc_stats_in`), worked out
    on this crop are those of the whole mask: outside the box there is nothing, the margin holds all
    that the erosion and dilation reach (OpenCV's default border counts as set for an erosion and as
    empty for a dilation, on the crop as on the whole), and even offsets keep BBDT's 2×2 blocks, so
    its label order, the same. Cheaper where the image does not fill the frame (a letterboxed
    capture's black bars). The crop is made a whole number of 16 px wide where the mask allows:
    OpenCV's erosion and dilation by a disc do the last ``width % 16`` pixels of each line one by one
    (at ~1/16 the speed: a 330 px wide crop costs more than the whole 400 px copy)."""
    x, y, w, h = cv2.boundingRect(mask8)
    if w == 0:
        return None
    H, W = mask8.shape[:2]
    y0 = max(0, y - margin) & ~1
    return slice(y0, min(H, y + h + margin)), _cols16(max(0, x - margin) & ~1, min(W, x + w + margin), W)


def _cols16(x0: int, x1: int, W: int) -> slice:
    """Columns x0..x1 of a W px wide image widened to a whole number of 16 px where W allows (see
    :func:`_crop_box`), the start still even (shifted left where the widened crop would run past W);
    always covers x0..x1."""
    wd = -(-(x1 - x0) // 16) * 16
    if wd > W:
        return slice(0, W)
    if x0 + wd > W:
        # shifted left to end at W; on an odd W the even start makes it one column wider than wd
        # (it must reach W: a crop one column short loses the mask's last column)
        return slice((W - wd) & ~1, W)
    return slice(x0, x0 + wd)


def _cc_stats_in(crop8: np.ndarray, box, shape):
    """(n, labels, stats) of :func:`_cc_stats` of a mask of ``shape`` that is empty outside ``box``
    (from :func:`_crop_box`), worked out on its crop ``crop8``: labels padded back to ``shape``,
    stats in the whole mask's coordinates (row 0, the background, is not meaningful)."""
    n, lab_c, st, _ = _cc_stats(crop8)
    lab = np.zeros(shape[:2], lab_c.dtype)
    lab[box] = lab_c
    st[:, 0] += box[1].start
    st[:, 1] += box[0].start
    return n, lab, st


_DISCS: dict[int, np.ndarray] = {}


def _disc(k: int) -> np.ndarray:
    """OpenCV's k×k elliptic structuring element (made once per size)."""
    d = _DISCS.get(k)
    if d is None:
        d = _DISCS[k] = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return d


_RECTS: dict[int, list[tuple[np.ndarray, tuple[int, int]]]] = {}


def _disc_rects(k: int) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """(all-ones kernel, anchor) rectangles whose union is :func:`_disc` ``(k)`` about its anchor
    (the centre, as cv2 takes it): per distinct row run of the disc, those columns over the rows
    whose run holds them (5 rectangles for k = 15). Checked against the disc when made."""
    rs = _RECTS.get(k)
    if rs is None:
        e, c = _disc(k), k // 2  # cv2's default anchor
        runs = {}
        for y in range(k):
            xs = np.flatnonzero(e[y])
            runs.setdefault((int(xs[0]), int(xs[-1])), []).append(y)
        rs, u = [], np.zeros_like(e)
        for (x0, x1), _ in runs.items():
            ys = [y for y in range(k) if e[y, x0:x1 + 1].all()]
            y0, y1 = ys[0], ys[-1]
            rs.append((np.ones((y1 - y0 + 1, x1 - x0 + 1), np.uint8), (c - x0, c - y0)))
            u[y0:y1 + 1, x0:x1 + 1] = 1
            assert len(ys) == y1 - y0 + 1 and x0 <= c <= x1 and y0 <= c <= y1, k
        assert np.array_equal(u, e), k
        _RECTS[k] = rs
    return rs


def _morph_disc(op: int, img: np.ndarray, k: int) -> np.ndarray:
    """Erosion, dilation or opening (cv2.MORPH_ERODE / MORPH_DILATE / MORPH_OPEN) by :func:`_disc`
    ``(k)``, the same pixels as cv2's. From k = 13 up as the min (erosion) or max (dilation) over
    the disc's rectangles (:func:`_disc_rects`: an erosion by a union of sets is the intersection of
    the erosions, a dilation the union of the dilations; the default borders agree): OpenCV does a
    rectangle in two 1-D passes, a disc point by point, so 5 rectangles cost ~2/3 of a 15 px disc."""
    if k < 13:
        return cv2.morphologyEx(img, op, _disc(k))
    if op == cv2.MORPH_OPEN:
        return _morph_disc(cv2.MORPH_DILATE, _morph_disc(cv2.MORPH_ERODE, img, k), k)
    f, comb = (cv2.erode, cv2.min) if op == cv2.MORPH_ERODE else (cv2.dilate, cv2.max)
    (R, a), *rest = _disc_rects(k)
    out = f(img, R, anchor=a)
    for R, a in rest:
        comb(out, f(img, R, anchor=a), dst=out)
    return out


def _pick(lab: np.ndarray, n: int, ids) -> np.ndarray:
    """uint8 mask of the labels ``ids`` in a label image with ``n`` labels (a look-up, not np.isin)."""
    ids = np.asarray(ids, dtype=np.intp).ravel()
    if ids.size <= 3:  # a compare or three beat a look-up over the whole image
        m = np.zeros(lab.shape, bool)
        for i in ids:
            m |= lab == int(i)
        return m.view(np.uint8)
    lut = np.zeros(max(1, int(n)), np.uint8)
    lut[ids] = 1
    return np.take(lut, lab)


def _median5_binary(m01: np.ndarray) -> np.ndarray:
    """medianBlur(·, 5) of a 0/1 uint8 mask (border replicated, as medianBlur does): a pixel is set
    when at least 13 of its 25 neighbours are. A box count, ~5× faster than the median filter."""
    n = cv2.boxFilter(m01, -1, (5, 5), normalize=False, borderType=cv2.BORDER_REPLICATE)
    return (n >= 13).view(np.uint8)


def _signal_mask(area: np.ndarray, near: np.ndarray | None = None) -> np.ndarray:
    """Pixels bright enough to be image (median-filtered, so speckle pin-holes and 1–2 px strokes go)
    and, given ``near``, not exactly flat: a filled header or app bar, a button or a logo box is one
    grey level over its 3×3 neighbourhood, speckle never is. So a bar a few pixels above the image
    is not joined to it by the shrinking; big smooth panels at the frame's border (a noisy or
    JPEG-compressed bar is not flat) are left out with a margin."""
    m = _median5_binary((area > THRESHOLD).view(np.uint8))  # == medianBlur(area, 5) > THRESHOLD
    if near is not None:
        k3 = np.ones((3, 3), np.uint8)
        m &= (cv2.dilate(near, k3) != cv2.erode(near, k3)).view(np.uint8)
        bars = _edge_panels(near)
        if bars is not None:
            m &= (cv2.dilate(bars, np.ones((5, 5), np.uint8)) == 0).view(np.uint8)
    return m


def _edge_panels(near: np.ndarray) -> np.ndarray | None:
    """Big smooth blobs of one grey level that touch the frame's border: header and app bars, side
    panels, logo boxes in a corner (uint8 mask, or None when there are none). Dark, smooth tissue at
    the border of an image that fills the frame varies in level across the blob, so it stays."""
    h, w = near.shape
    if h > 12 and w > 12 and not (_smooth_map(near[:6])[:2].any() or _smooth_map(near[-6:])[-2:].any() or
                                  _smooth_map(near[:, :6])[:, :2].any() or _smooth_map(near[:, -6:])[:, -2:].any()):
        # nothing smooth within 1 px of the border (the 5×5 sums there need 4 lines: exact on a
        # 6-line strip), so no blob can touch it: a letterboxed capture's black border
        return None
    s8 = _smooth_map(near).view(np.uint8)
    if cv2.countNonZero(s8) < 0.005 * h * w:
        return None
    # only the blobs with a pixel within 2 px of the border count: each is flood-filled (8-connected,
    # the same pixels as a connected-components pass) from its first such pixel into one mask (label
    # 1 + its index; at most 254 blobs, else the components pass), not the whole map labelled
    ys, xs = _RING[(h, w)] if (h, w) in _RING else _ring(h, w)
    on = s8[ys, xs] > 0
    ys, xs = ys[on], xs[on]
    fill = np.zeros((h + 2, w + 2), np.uint8)
    keep, n_blobs = [], 0
    while ys.size:
        if n_blobs == 254:
            return _edge_panels_cc(near, s8)
        n_blobs += 1
        a, _, _, (x, y, bw, bh) = cv2.floodFill(s8, fill, (int(xs[0]), int(ys[0])), 0, 0, 0,
                                               8 | (n_blobs << 8) | cv2.FLOODFILL_MASK_ONLY)
        left = fill[ys + 1, xs + 1] == 0  # the border pixels of blobs not filled yet
        ys, xs = ys[left], xs[left]
        if a >= 0.005 * h * w:
            vals = near[y:y + bh, x:x + bw][fill[y + 1:y + 1 + bh, x + 1:x + 1 + bw] == n_blobs]
            if float(vals.std()) < SMOOTH_STD:
                keep.append(n_blobs)
    if not keep:
        return None
    return _pick(fill[1:-1, 1:-1], 1 + n_blobs, keep)


_RING: dict = {}


def _ring(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the pixels within 2 px of an H×W image's border, in raster order (made once
    per size)."""
    r = np.zeros((h, w), bool)
    r[:2], r[-2:], r[:, :2], r[:, -2:] = True, True, True, True
    _RING[(h, w)] = rc = np.nonzero(r)
    return rc


def _edge_panels_cc(near: np.ndarray, s8: np.ndarray) -> np.ndarray | None:
    """:func:`_edge_panels`'s blobs from a connected-components pass (a map with more than 254 border blobs)."""
    h, w = near.shape
    n, lab, st, _ = _cc_stats(s8)
    x, y, bw, bh, a = (st[1:, j] for j in range(5))
    big = (a >= 0.005 * h * w) & ((x <= 1) | (y <= 1) | (x + bw >= w - 1) | (y + bh >= h - 1))
    keep = []
    for i in np.flatnonzero(big) + 1:
        x, y, bw, bh = (int(v) for v in st[i, :4])
        vals = near[y:y + bh, x:x + bw][lab[y:y + bh, x:x + bw] == i]
        if float(vals.std()) < SMOOTH_STD:
            keep.append(i)
    if not keep:
        return None
    return _pick(lab, n, keep)


def _smooth_map(near: np.ndarray) -> np.ndarray:
    """Bright but smooth pixels: speckle's local spread grows with its brightness (Rayleigh: std about
    half the mean), whereas a filled bar, button or logo box varies by capture noise only. Mean
    ``mu`` and spread ``sd`` over 5×5: mu > THRESHOLD and sd < max(SMOOTH_STD, 0.08 mu), tested on the
    box sums S1, S2 (exact in float32) as 25 S2 - S1² < max(625 SMOOTH_STD², 0.0064 S1²)."""
    s1 = cv2.boxFilter(near, cv2.CV_32F, (5, 5), normalize=False)
    s2 = cv2.sqrBoxFilter(near, cv2.CV_32F, (5, 5), normalize=False)
    s1sq = s1 * s1
    s2 *= 25.0  # in place, the same float32 steps: 25 S2 - S1² < max(625 SMOOTH_STD², 0.0064 S1²)
    s2 -= s1sq
    s1sq *= 0.0064
    np.maximum(s1sq, 625.0 * SMOOTH_STD ** 2, out=s1sq)
    out = s2 < s1sq
    out &= s1 > 25 * THRESHOLD
    return out


def _faint_mask(area: np.ndarray, near: np.ndarray, scale: float) -> np.ndarray | None:
    """Faint speckle: rough pixels away from anything bright. It marks the dark parts of a fan,
    whereas screen background is flat and JPEG ringing hugs bright text and edges (within one 8×8
    block, which the halo covers). None where the whole frame is rough (analogue noise: roughness
    says nothing there)."""
    # any variation in 5×5 (flat background has exactly none): max != min over the window
    k5 = np.ones((5, 5), np.uint8)
    faint = cv2.dilate(near, k5) != cv2.erode(near, k5)
    r = 2 * max(2, int(round(8 * scale))) + 1
    halo = cv2.dilate((area > 40).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (r, r)))
    away = halo == 0
    faint &= away
    faint = _median5_binary(faint.view(np.uint8))
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
