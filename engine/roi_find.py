"""ROI finder, part 2: regions from the masks, the fan/rectangle hull, the result (see engine/roi.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .roi_fan import complete_fan, mirror_sector
from .roi_signal import (STACK_GAP, THRESHOLD, _cc_stats_in, _cols16, _crop_box, _disc, _faint_mask, _morph_disc,
                         _pick, _signal_mask, _to_uint8, roi_signal)


@dataclass
class RoiResult:
    box: tuple[int, int, int, int]  # x, y, w, h in full-frame pixels
    mask: np.ndarray  # bool H×W, True inside the imaging region (fan or rectangle)
    kind: str  # "sector" | "linear" | "full" (fallback: whole frame)
    confidence: float  # 0..1
    polygon: np.ndarray | None = field(default=None, repr=False)  # hull (N,2) in full-frame pixels
    reason: str = ""  # short note on what was found / why it fell back

    def as_dict(self) -> dict:
        x, y, w, h = self.box
        return {"x": int(x), "y": int(y), "w": int(w), "h": int(h)}


def _full(shape, reason: str, confidence: float = 0.05) -> RoiResult:
    H, W = shape[:2]
    return RoiResult((0, 0, W, H), np.ones((H, W), bool), "full", float(confidence),
                     np.array([[0, 0], [W - 1, 0], [W - 1, H - 1], [0, H - 1]]), reason)


def _classify(hull_mask: np.ndarray) -> tuple[str, float]:
    """'sector' or 'linear' from the hull's row widths; also returns the hull's fill of its box."""
    m8 = hull_mask.astype(np.uint8)
    x0, y0, bw, h = cv2.boundingRect(m8)
    widths = cv2.reduce(m8[y0:y0 + h], 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.float32)
    top = np.sort(widths[: max(1, h // 10)])  # their median (whole numbers: the middle two's mean is
    k = top.size // 2  # exact) without np.median's overhead
    top = float(top[k]) if top.size % 2 else (float(top[k - 1]) + float(top[k])) / 2
    wmax = float(widths.max())
    fill = float(widths.sum()) / float(h * bw)
    if top < 0.6 * wmax and fill < 0.85:
        return "sector", fill
    return "linear", fill


def _labels_under(lab: np.ndarray, n: int, where: np.ndarray) -> np.ndarray:
    """The labels (> 0) of ``lab`` at the pixels where ``where`` is set (np.unique without a sort)."""
    seen = np.zeros(max(1, int(n)), bool)
    seen[lab[where.view(bool)]] = True
    seen[0] = False
    return np.flatnonzero(seen)


def _core(area: np.ndarray, near: np.ndarray, binm: np.ndarray,
          faint: np.ndarray | None = None, scale: float = 1.0) -> tuple[np.ndarray | None, dict]:
    """Find the region on the working copy from its signal mask ``binm``; ``faint`` (optional)
    marks faint speckle the region may extend into. Returns (hull polygon in work px or None, info)."""
    h, w = area.shape
    long_side = max(h, w)
    info: dict = {}
    if cv2.countNonZero(binm) < 0.01 * h * w:
        info["reason"] = "no signal (blank frame)"
        return None, info
    k1 = max(3, int(round(0.016 * long_side)) | 1)
    k2 = max(5, int(round(0.035 * long_side)) | 1)
    # the openings, the components and the texture on the signal's box plus the openings' reach:
    # the same as over the whole copy (_crop_box), in less time where black bars surround the image
    box = _crop_box(binm, k2 // 2)
    small = np.zeros_like(binm)
    small[box] = cv2.morphologyEx(binm[box], cv2.MORPH_OPEN, _disc(k1))
    # a bigger opening cuts the thin bridges by which text or tick marks touch the image
    big = _morph_disc(cv2.MORPH_OPEN, small[box], k2)
    n, lab, stats = _cc_stats_in(big, box, binm.shape)
    if n <= 1:
        info["reason"] = "nothing but thin marks (text, lines)"
        return None, info
    # texture: share of rough pixels (speckle is rough; filled header bars and logos are flat); the
    # 3×3 mean of whole grey levels is exact, so the crop's values are the whole copy's (its outer
    # line, where the border differs, lies in the margin, outside every region)
    f = near[box].astype(np.float32)
    rough = cv2.absdiff(f, cv2.blur(f, (3, 3))) > 1.0
    oy, ox = box[0].start, box[1].start
    frame_area = float(h * w)
    cands = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < 0.002 * frame_area:
            continue
        aspect = max(bw, bh) / max(1, min(bw, bh))
        touches_lr = x <= 1 or x + bw >= w - 1
        touches_tb = y <= 1 or y + bh >= h - 1
        # share of the region's pixels that are rough (a count of a bitwise and: no gather)
        m = lab[y:y + bh, x:x + bw] == i
        tex = np.count_nonzero(m & rough[y - oy:y - oy + bh, x - ox:x - ox + bw]) / area
        fill = area / float(bw * bh)
        rec = dict(i=i, box=(x, y, bw, bh), area=area, tex=round(tex, 3), fill=round(fill, 3))
        # header/footer/tool bars and grey-scale bars: thin along an edge or very elongated
        if area < 0.01 * frame_area:
            rec["rejected"] = "small"  # may join only as a piece of the image in its columns
        elif aspect > 6 and min(bw, bh) < 0.2 * min(h, w):
            rec["rejected"] = "bar"
        elif (touches_tb and bh < 0.12 * h and bw > 0.5 * w) or (touches_lr and bw < 0.12 * w and bh > 0.5 * h):
            rec["rejected"] = "edge bar"  # may join only as a strip of the image (textured, in its columns)
        rec["score"] = area * min(1.0, tex / 0.5) ** 2 * (0.5 + 0.5 * min(1.0, fill / 0.5))
        info.setdefault("all", []).append(rec)
        if "rejected" not in rec:
            cands.append(rec)
    if not cands:
        info["reason"] = "only bars/text-like regions"
        return None, info
    cands.sort(key=lambda c: -c["score"])
    best = cands[0]
    if best["tex"] < 0.15:
        info["reason"] = f"largest region is flat (texture {best['tex']:.2f}), not an ultrasound image"
        return None, info
    keep = [best]
    ux0, uy0, bw_, bh_ = best["box"]
    ux1, uy1 = ux0 + bw_, uy0 + bh_
    # textured bars that lie within the image's columns (or rows) may be a strip of the image cut off
    # by fluid (the near field above a bladder or amniotic fluid): they may join; flat ones never do
    pool = cands[1:] + [c for c in info.get("all", []) if c.get("rejected") in ("bar", "edge bar", "small")]
    pool.sort(key=lambda c: -c["score"])
    changed = True
    while changed:  # a piece may line up only with the region grown so far
        changed = False
        for c in pool:
            if any(c is k for k in keep):
                continue
            x, y, cw, ch = c["box"]
            if c["tex"] < 0.6 * best["tex"] or (c["score"] < 0.05 * best["score"] and "rejected" not in c):
                continue
            ov_y = min(uy1, y + ch) - max(uy0, y)
            ov_x = min(ux1, x + cw) - max(ux0, x)
            gx = max(ux0 - (x + cw), x - ux1, 0)
            gy = max(uy0 - (y + ch), y - uy1, 0)
            if c.get("rejected") == "small":
                # a fan's apex above fluid: centred above the region
                ok = (y + ch <= uy0 and gy <= STACK_GAP * long_side and cw >= 0.08 * (ux1 - ux0)
                      and abs(x + cw / 2 - (ux0 + ux1) / 2) < 0.2 * (ux1 - ux0) and c["fill"] >= 0.4)
            elif "rejected" in c:  # a strip: wholly within the region's columns/rows, across a gap
                ok = (ov_x >= 0.8 * cw and gx == 0 and gy <= STACK_GAP * long_side and cw >= 0.8 * (ux1 - ux0)) or \
                     (ov_y >= 0.8 * ch and gy == 0 and gx <= STACK_GAP * long_side and ch >= 0.8 * (uy1 - uy0))
            else:
                # side by side (dual view) and close, or stacked in the same columns (a fan or
                # rectangle split by a dark band of fluid: the gap may be wide)
                side = ov_y > 0.3 * min(ch, uy1 - uy0) and max(gx, gy) <= 0.1 * long_side
                stack = ov_x > 0.6 * min(cw, ux1 - ux0) and gx == 0 and gy <= STACK_GAP * long_side
                ok = side or stack
            if ok:
                keep.append(c)
                ux0, uy0, ux1, uy1 = min(ux0, x), min(uy0, y), max(ux1, x + cw), max(uy1, y + ch)
                changed = True
    sel = _pick(lab, n, [c["i"] for c in keep])
    # give back what the big opening shaved off (fan apex, corners) but no more than its radius
    kg = ((k1 + k2) // 2) | 1
    gb = _crop_box(sel, kg // 2)  # the dilation's reach: the same pixels (_crop_box)
    grow = cv2.dilate(sel[gb], _disc(kg))
    # ... only what the opening shaved (not a neighbouring header bar or button that survived it)
    # the pieces of ``small`` under the kept regions: the opening lies within ``small``, so each kept
    # (connected) region lies within one piece, the one under its first pixel: flood-filled from there
    pieces = small.copy()
    for c in keep:
        x, y, cw, _ = c["box"]
        x += int(np.argmax(lab[y, x:x + cw] == c["i"]))
        if pieces[y, x] == 1:
            cv2.floodFill(pieces, None, (x, y), 2, flags=8)
    sel[gb] |= grow & (pieces[gb] == 2).view(np.uint8) & (lab[gb] == 0).view(np.uint8)
    fb = _crop_box(faint, k1 // 2) if faint is not None else None
    if fb is not None:
        # extend into faint speckle next to the region (the dark flanks of a fan)
        nf, flab, fstats = _cc_stats_in(cv2.morphologyEx(faint[fb], cv2.MORPH_OPEN, _disc(k1)), fb, faint.shape)
        big_f = np.flatnonzero(fstats[1:, cv2.CC_STAT_AREA] >= 0.003 * h * w) + 1
        if big_f.size:
            # those within reach of the region: the region grown by an ellipse of size r, worked
            # out only over the faint pieces' box (plus the ellipse's radius: the same pixels)
            r = 2 * max(2, int(round(8 * scale))) + 1 + kg
            fs = fstats[big_f]
            bx, by = int(fs[:, 0].min()), int(fs[:, 1].min())
            bw, bh = int((fs[:, 0] + fs[:, 2]).max()) - bx, int((fs[:, 1] + fs[:, 3]).max()) - by
            rr = r // 2 + 1
            cx = _cols16(max(0, bx - rr), min(w, bx + bw + rr), w)  # (whole 16 px: _crop_box)
            cx0, cy0 = cx.start, max(0, by - rr)
            near_sel = _morph_disc(cv2.MORPH_DILATE, sel[cy0:min(h, by + bh + rr), cx], r)
            near_sel = near_sel[by - cy0:by - cy0 + bh, bx - cx0:bx - cx0 + bw]
            hit = _labels_under(flab[by:by + bh, bx:bx + bw], nf, near_sel)
            hit = hit[fstats[hit, cv2.CC_STAT_AREA] >= 0.003 * h * w]
            if hit.size:
                sel = sel | _pick(flab, nf, hit)
                info["faint"] = len(hit)
    contours, _ = cv2.findContours(sel, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.vstack(contours)).reshape(-1, 2)
    work_mask = np.zeros_like(sel)
    cv2.fillPoly(work_mask, [hull.astype(np.int32)], 1)
    mirrored = mirror_sector(work_mask)
    if mirrored is not None:
        # a fan is symmetric about its apex: a flank lost in fluid (dark to the fan's edge) comes back
        hull = cv2.convexHull(np.vstack([hull, mirrored]).astype(np.int32)).reshape(-1, 2)
        work_mask[:] = 0
        cv2.fillPoly(work_mask, [hull.astype(np.int32)], 1)
        info["mirrored"] = True
    lost = complete_fan(work_mask)
    if lost is not None:
        # a fan's sides are straight to its arc: flanks dark to the fan's edge (a curved probe's
        # too, whose apex is off screen) come back where the region stops short of them
        # ... where there is something (faint speckle), not on black screen beside the fan
        grown = cv2.convexHull(np.vstack([hull, lost]).astype(np.int32)).reshape(-1, 2)
        gm = np.zeros_like(work_mask)
        cv2.fillPoly(gm, [grown], 1)
        added = (gm > work_mask).view(bool)
        n_add = int(added.sum())
        if n_add > 0.01 * work_mask.sum() and (near[added] > 0).mean() >= 0.5:
            hull, work_mask = grown, gm
            info["completed"] = n_add
    info["work_mask"] = work_mask
    info.update(best=best, kept=len(keep), n_cands=len(cands), kernels=(k1, k2))
    return hull, info


def _snap_edges(mask8: np.ndarray, frames, scale: float, box) -> tuple[int, int, int, int]:
    """Trim (in place) the lines along each side of the mask, up to ~3 working pixels deep, on which
    few (< 12 %) full-resolution pixels inside the mask have signal: the shrunk copy blurs the image's
    edge outwards by a pixel or two (more where JPEG ringing bridges to a depth scale), which at 1080p
    is 5-15 px of black border or tick marks. Only strips along the mask's bounding ``box`` are read
    at full resolution. Returns the bounding box of what is left."""
    x0, y0, bw, bh = box
    if bw == 0 or bh == 0:
        return box
    x1, y1 = x0 + bw, y0 + bh
    m_lead = int(np.ceil(3.0 / scale)) + 1  # lines of (almost) nothing at the edge: ~3 working px
    m = int(np.ceil(6.0 / scale)) + 1  # a clear gap with marks beyond it (a depth scale): ~6 working px
    level = THRESHOLD // 2

    frames = [_to_uint8(f) for f in frames]  # once, not per strip (a no-op for uint8)

    def counts(ys, xs, axis):  # per line across ``axis``: (mask pixels, mask pixels with signal)
        dark = None  # every channel of every frame <= ``level`` (cv2 reads the strip in place)
        for f in frames:
            a = f[ys, xs]
            d = cv2.inRange(a, (0, 0, 0), (level,) * 3) if a.ndim == 3 else cv2.inRange(a, 0, level)
            dark = d if dark is None else cv2.bitwise_and(dark, d)
        msk = mask8[ys, xs]
        sig = cv2.bitwise_and(msk, cv2.compare(dark, 0, cv2.CMP_EQ))
        return (cv2.reduce(msk, axis, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel(),
                cv2.reduce(sig, axis, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel())

    def trim(n_sig):  # how many lines of the strip (outermost first) to cut
        n, sig = n_sig
        frac = sig / np.maximum(1, n)
        n = 0
        while n < min(m_lead, frac.size) and frac[n] < 0.12:
            n += 1
        gaps = np.flatnonzero(frac < 0.05)
        if gaps.size and gaps[-1] + 1 > n and (frac[: gaps[-1]] >= 0.05).any():
            # marks, then a clear gap, then the image: the marks were joined across the gap
            n = int(gaps[-1]) + 1
        return n

    def rev(n_sig):  # the strip's lines from the far side
        return n_sig[0][::-1], n_sig[1][::-1]

    sl, sc = slice(y0, y1), slice(x0, x1)
    nl = trim(counts(sl, slice(x0, x0 + m), 0))
    nr = trim(rev(counts(sl, slice(max(x0, x1 - m), x1), 0)))
    nt = trim(counts(slice(y0, y0 + m), sc, 1))
    nb = trim(rev(counts(slice(max(y0, y1 - m), y1), sc, 1)))
    if (nl or nr or nt or nb) and nl + nr < x1 - x0 and nt + nb < y1 - y0:
        mask8[y0:y1, x0:x0 + nl] = 0  # the mask is empty outside its box
        mask8[y0:y1, x1 - nr:x1] = 0
        mask8[y0:y0 + nt, x0:x1] = 0
        mask8[y1 - nb:y1, x0:x1] = 0
        cx, cy = x0 + nl, y0 + nt
        x, y, w, h = cv2.boundingRect(mask8[cy:y1 - nb, cx:x1 - nr])
        return x + cx, y + cy, w, h
    return box


def _finish(frame_shape, hull_w: np.ndarray | None, info: dict, scale: float, frames=None) -> RoiResult:
    H, W = frame_shape[:2]
    if hull_w is None:
        return _full(frame_shape, info.get("reason", "nothing found"), 0.05)
    # hull in full-frame pixels: pixel centres of the working copy -> frame
    inv = 1.0 / scale
    poly = np.round((hull_w.astype(np.float64) + 0.5) * inv - 0.5).astype(np.int32)
    poly[:, 0] = np.clip(poly[:, 0], 0, W - 1)
    poly[:, 1] = np.clip(poly[:, 1], 0, H - 1)
    mask8 = np.zeros((H, W), np.uint8)
    cv2.fillPoly(mask8, [poly], 1)
    x, y, w, h = cv2.boundingRect(poly)  # the filled polygon's box: it covers its vertices
    if frames is not None:
        x, y, w, h = _snap_edges(mask8, frames, scale, (x, y, w, h))
    poly[:, 0] = np.clip(poly[:, 0], x, x + w - 1)
    poly[:, 1] = np.clip(poly[:, 1], y, y + h - 1)
    area_frac = cv2.countNonZero(mask8[y:y + h, x:x + w]) / float(H * W)  # empty outside its box
    if area_frac > 0.9:
        return _full(frame_shape, "signal fills the frame (already cropped, or noise)", 0.2)
    kind, fill = _classify(info["work_mask"])
    best = info["best"]
    # confidence: texture, a plausible size, and solidity of what was kept
    c_tex = min(1.0, best["tex"] / 0.5)
    c_size = 1.0 if 0.08 <= area_frac <= 0.8 else 0.5
    c_solid = min(1.0, best["area"] / max(1.0, float(cv2.contourArea(hull_w.astype(np.float32)))) / 0.4)
    conf = float(np.clip(0.3 + 0.7 * c_tex * c_size * c_solid, 0.0, 0.99))
    return RoiResult((int(x), int(y), int(w), int(h)), mask8.view(bool), kind, conf, poly,
                     f"{kind}: {info['kept']} region(s) of {info['n_cands']} candidates")


def find_roi(frame: np.ndarray) -> RoiResult:
    """The imaging region of one frame (gray or BGR, uint8/uint16/float). See the module notes."""
    area, near, s = roi_signal(frame)
    hull, info = _core(area, near, _signal_mask(area, near), _faint_mask(area, near, s), s)
    return _finish(np.shape(frame), hull, info, s, [frame])


def find_roi_stack(frames, min_change: int = 2) -> RoiResult:
    """The imaging region from several frames of one loop (same size). Pixels whose value changes
    between frames (speckle, moving anatomy, even faint speckle in the dark flanks of a fan) mark
    the image; burned-in text and bars never change and are left out. Falls back to the one-frame
    method on the temporal maximum when (almost) nothing moves: a frozen image, identical frames."""
    frames = list(frames)
    if not frames:
        raise ValueError("find_roi_stack: no frames")
    shape = np.shape(frames[0])
    if any(np.shape(f)[:2] != shape[:2] for f in frames):
        raise ValueError("find_roi_stack: frames differ in size")
    areas, nears = [], []
    s = 1.0
    for f in frames:
        a, n_, s = roi_signal(f)
        areas.append(a)
        nears.append(n_)
    amax = np.max(areas, axis=0)
    nst = np.stack(nears)
    nmax = nst.max(0)
    single = _signal_mask(amax, nmax)
    if len(frames) >= 2:
        change = (nmax.astype(np.int16) - nst.min(0).astype(np.int16)) > min_change
        moving = cv2.medianBlur(change.astype(np.uint8), 5)
        if moving.mean() >= 0.02:
            # close the motion map so still, dark parts inside the fan stay in
            k = max(3, int(round(0.03 * max(amax.shape))) | 1)
            moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
            hull, info = _core(amax, nmax, moving)
            if hull is not None:
                return _finish(shape, hull, info, s, frames)
    return _finish(shape, *_core(amax, nmax, single, _faint_mask(amax, nmax, s), s), s, frames)
