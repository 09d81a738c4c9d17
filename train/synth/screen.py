"""A scanner-screen-like frame around the fan (SYNTHETIC): burned-in text, a grey-scale bar, a depth
scale and parameters outside the imaging region, as a capture card would grab a scanner's output.
This exercises the ROI finder. :func:`vendor_screen` draws whole screens laid out like real
vendors' (header rows, logo box, parameter column, zoomed images, fluid, dual view, POCUS app) with the
image region known exactly, for the ROI tests and bench."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX


def screen_layout(width: int, height: int) -> tuple[int, int, int, int]:
    """Box (x, y, w, h) of the imaging area on a ``width x height`` screen."""
    top = max(18, int(0.09 * height))
    bottom = max(12, int(0.07 * height))
    left = int(0.16 * width)
    right = int(0.14 * width)
    return left, top, width - left - right, height - top - bottom


def draw_screen(fan: np.ndarray, mask: np.ndarray, *, depth_mm: float, mm_per_px: float, box, plane: str,
                frame_no: int | None = None, gain_db: float = 0.0, dr_db: float = 60.0,
                probe: str = "C5-1") -> np.ndarray:
    """BGR screen: the fan image (gray, already drawn into the full canvas) plus overlays outside it."""
    h, w = fan.shape
    img = cv2.cvtColor(fan, cv2.COLOR_GRAY2BGR)
    s = h / 480.0
    fs, th = 0.45 * s, max(1, int(round(s)))
    yellow, white, grey, cyan = (0, 220, 255), (235, 235, 235), (150, 150, 150), (230, 200, 60)

    def put(text, x, y, color=white, scale=fs):
        cv2.putText(img, text, (int(x), int(y)), FONT, scale, color, th, cv2.LINE_AA)

    put("SYNTHETIC", 8 * s, 22 * s, yellow, 0.6 * s)
    put("FUIQA-SIM  OB", 0.36 * w, 22 * s, white)
    put(f"{probe}  {plane.upper()}", 0.62 * w, 22 * s, grey)
    put("not a patient", 8 * s, 40 * s, grey, 0.38 * s)
    x0 = 8 * s
    for i, t in enumerate([f"Gn {50 + gain_db:4.0f}", f"DR {dr_db:4.0f}", f"D {depth_mm / 10:4.1f}cm",
                           "FR 25Hz", "THI"]):
        put(t, x0, (90 + 20 * i) * s, cyan, 0.4 * s)
    if frame_no is not None:
        put(f"F {frame_no:04d}", x0, h - 14 * s, grey, 0.4 * s)
    put("SYNTHETIC", w - 110 * s, h - 14 * s, yellow, 0.45 * s)
    # grey-scale bar
    bx, by, bw, bh = int(w - 26 * s), int(60 * s), max(4, int(10 * s)), int(0.45 * h)
    ramp = np.linspace(255, 0, bh).astype(np.uint8)[:, None].repeat(bw, 1)
    img[by:by + bh, bx:bx + bw] = ramp[:, :, None]
    cv2.rectangle(img, (bx - 1, by - 1), (bx + bw, by + bh), grey, 1)
    # depth scale: a tick every 1 cm, right of the imaging box
    x_sc = int(box[0] + box[2] + 6 * s)
    ys, xs = np.nonzero(mask)
    y_top = int(ys.min()) if ys.size else box[1]
    for k in range(0, int(depth_mm // 10) + 1):
        y = int(round(y_top + k * 10.0 / mm_per_px))
        if y >= h - 2:
            break
        L = int(8 * s) if k % 5 == 0 else int(4 * s)
        cv2.line(img, (x_sc, y), (x_sc + L, y), white, 1)
        if k % 5 == 0 and k > 0:
            put(str(k), x_sc + L + 2, y + 4 * s, white, 0.35 * s)
    # focus marker
    return img


# ------------------------------------------------------------------------------- vendor-like screens
# Layouts drawn like real scanners' screens (SYNTHETIC, no vendor's artwork): the image region is
# known exactly, so tests can assert that the ROI finder keeps it whole and leaves the rest out.
# Each returns a VendorScreen; ``inside`` boxes lie in the image (tissue *and* fluid), ``outside``
# boxes cover the text, logos, bars and buttons around it.

VENDOR_LAYOUTS = ("obstetric_zoom", "obstetric_sector", "pocus_linear", "eye_linear", "dual_view",
                  "pocus_portrait")


@dataclass
class VendorScreen:
    image: np.ndarray  # BGR uint8 H×W×3
    mask: np.ndarray  # bool H×W: the imaging region (the truth)
    kind: str  # "sector" | "linear"
    inside: list = field(default_factory=list)  # boxes (x, y, w, h) that must be in the ROI
    outside: list = field(default_factory=list)  # boxes (x, y, w, h) that must be out of it
    header_bottom: int = 0  # last row of header text/logo above the image (the box must start below)

    @property
    def box(self) -> tuple[int, int, int, int]:
        ys, xs = np.nonzero(self.mask)
        return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def _tissue(shape, rng, mean=70.0) -> np.ndarray:
    """Speckled tissue (float32): Rayleigh speckle under a smooth, blotchy echogenicity."""
    h, w = shape
    lo = cv2.resize(rng.uniform(0.5, 1.4, (max(2, h // 60), max(2, w // 60))).astype(np.float32), (w, h),
                    interpolation=cv2.INTER_CUBIC)
    sp = rng.rayleigh(1.0, (h, w)).astype(np.float32)
    sp = cv2.GaussianBlur(sp, (0, 0), 1.0) * 1.1
    return mean * lo * sp


def _fluid(img: np.ndarray, region: np.ndarray, rng, floor: int = 4) -> None:
    """Anechoic fluid in ``region``: a noise floor of 0..floor grey levels (0 where floor is 0)."""
    n = int(region.sum())
    img[region] = rng.integers(0, floor + 1, n).astype(np.float32) * (rng.random(n) < 0.6) if floor else 0


def _sector_mask(shape, apex, r0, r1, half_deg) -> np.ndarray:
    h, w = shape
    dx = np.arange(w, dtype=np.float32)[None, :] - np.float32(apex[0])
    dy = np.arange(h, dtype=np.float32)[:, None] - np.float32(apex[1])
    r = np.hypot(dx, dy)
    ang = np.degrees(np.arctan2(dx, dy))
    return (r >= r0) & (r <= r1) & (np.abs(ang) <= half_deg)


def _text_box(img, text, org, scale, color, thick=2):
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    cv2.putText(img, text, org, FONT, scale, color, thick, cv2.LINE_AA)
    return (org[0], org[1] - th, tw, th + base)


def _header_rows(img, s, x0, x1, rows, rng):
    """Two rows of header text (patient, hospital, date, probe, preset) from x0 to x1; their boxes."""
    out = []
    texts = [["FUIQA HOSPITAL", "PATIENT  SYNTHETIC^TEST", "ID 000000", "01/12/2026  10:42:17"],
             ["RAB6-D  OB/GYN", "2nd Trim", "MI 0.9  TIb 0.3", "FR 31Hz"]]
    for r in range(rows):
        y = int((30 + 34 * r) * s)
        x = x0
        for t in texts[r % 2]:
            b = _text_box(img, t, (x, y), 0.75 * s, (235, 235, 235), max(1, int(round(2 * s))))
            out.append(b)
            x += b[2] + int(rng.integers(40, 90) * s)
            if x > x1 - 200 * s:
                break
    return out


def _param_column(img, s, x, y0, y1):
    out = []
    lines = ["2D", "Gn 4", "C 8", "FF 2", "Q Max", "D 14.5", "P 100%", "", "CRI 3", "SRI 2", "THI"]
    y = y0 + int(24 * s)
    for t in lines:
        if y > y1:
            break
        if t:
            out.append(_text_box(img, t, (x, y), 0.7 * s, (200, 230, 255), max(1, int(round(2 * s)))))
        y += int(36 * s)
    return out


def _logo(img, s, x, y, w, h):
    cv2.rectangle(img, (x, y), (x + w, y + h), (70, 60, 40), -1)
    cv2.circle(img, (x + h // 2 + 6, y + h // 2), int(0.38 * h), (255, 255, 255), max(2, int(3 * s)))
    _text_box(img, "SIM", (x + h + 6, y + int(0.62 * h)), 0.9 * s, (255, 255, 255), max(1, int(2 * s)))
    return (x, y, w + 1, h + 1)


def _depth_scale(img, s, x, y0, y1, every, right=True):
    out = []
    for k, y in enumerate(range(y0, y1, every)):
        L = int((12 if k % 5 == 0 else 6) * s)
        cv2.line(img, (x, y), (x + L if right else x - L, y), (230, 230, 230), max(1, int(2 * s)))
        if k % 5 == 0 and k:
            out.append(_text_box(img, str(k), (x + L + 4 if right else x - L - 28, y + int(8 * s)), 0.6 * s,
                                 (230, 230, 230), max(1, int(2 * s))))
    out.append((x if right else x - int(12 * s), y0, int(13 * s), y1 - y0))  # the ticks
    return out


def capture_noise(img: np.ndarray, rng, sigma: float = 1.2, jpeg: int = 85) -> np.ndarray:
    """What a capture card does to a screen: analogue noise over everything (black is not flat any
    more), then JPEG compression (ringing around text)."""
    noisy = np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape).astype(np.float32), 0, 255)
    ok, buf = cv2.imencode(".jpg", noisy.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, jpeg])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def vendor_screen(layout: str, width: int = 1920, height: int = 1080, seed: int = 0,
                  capture: bool = False) -> VendorScreen:
    """A SYNTHETIC scanner screen drawn like ``layout`` (one of :data:`VENDOR_LAYOUTS`);
    ``capture=True`` adds a capture card's noise and JPEG compression."""
    if layout not in VENDOR_LAYOUTS:
        raise ValueError(f"unknown screen layout {layout!r}; choose one of {', '.join(VENDOR_LAYOUTS)}")
    rng = np.random.default_rng(seed)
    W, H = width, height
    s = min(W, H) / 1080.0
    g = np.zeros((H, W), np.float32)
    yy, xx = np.arange(H)[:, None], np.arange(W)[None, :]
    inside, outside, kind, hb = [], [], "linear", 0
    if layout in ("obstetric_zoom", "obstetric_sector"):
        # header: logo box top left, two rows of text; parameter column at the right
        top = int(84 * s)  # 8-10 px under the second row of header text
        xl, xr = int(250 * s), W - int(270 * s)
        if layout == "obstetric_zoom":  # zoomed: the apex is far above the screen, the image fills it
            cx = (xl + xr) // 2
            R = (xr - xl) / 2 / np.sin(np.radians(34))
            apex = (cx, top - R * np.cos(np.radians(34)) + 4)
            mask = _sector_mask((H, W), apex, 0, 1e9, 34) & (yy >= top) & (xx >= xl) & (xx < xr)
        else:  # whole fan under the header, apex at its top
            apex = (W // 2 - int(10 * s), top)
            mask = _sector_mask((H, W), apex, int(8 * s), H - top - int(30 * s), 37)
        kind = "linear" if layout == "obstetric_zoom" else "sector"
        g = _tissue((H, W), rng, 75)
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
        # amniotic fluid: a band right across the image below the near field, and a pocket at the side
        ih = y1 - y0
        band = mask & (yy > y0 + 0.12 * ih) & (yy < y0 + 0.34 * ih + 12 * np.sin(xx / (90 * s)))
        pocket = mask & (((xx - (x0 + 0.2 * (x1 - x0))) / (0.22 * (x1 - x0))) ** 2
                         + ((yy - (y0 + 0.7 * ih)) / (0.25 * ih)) ** 2 < 1)
        head_c = (int(x0 + 0.58 * (x1 - x0)), int(y0 + 0.62 * ih))
        head = ((xx - head_c[0]) / (0.24 * (x1 - x0))) ** 2 + ((yy - head_c[1]) / (0.26 * ih)) ** 2
        _fluid(g, band | pocket, rng, floor=3)
        g[mask & (np.abs(head - 1) < 0.06)] = 230 * rng.uniform(0.8, 1.0, int((mask & (np.abs(head - 1) < 0.06)).sum()))
        g[~mask] = 0
        img = cv2.cvtColor(np.clip(g, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        outside.append(_logo(img, s, int(8 * s), int(6 * s), int(220 * s), int(70 * s)))
        outside += _header_rows(img, s, int(250 * s), W - int(20 * s), 2, rng)
        hb = max(b[1] + b[3] for b in outside)
        outside += _param_column(img, s, W - int(250 * s), top + int(20 * s), H - int(80 * s))
        outside += _depth_scale(img, s, x1 + int(10 * s), y0 + 2, y1, int(38 * s))

        def in_rows(y, hgt, a, b):  # a box on rows y..y+hgt, from a to b of the image's width there
            row = np.flatnonzero(mask[y])
            rw = int(row[-1] - row[0])
            return (int(row[0] + a * rw), y, int((b - a) * rw), hgt)

        inside += [in_rows(int(y0 + 0.22 * ih), int(0.05 * ih), 0.2, 0.8),  # in the fluid band
                   (head_c[0] - int(0.1 * (x1 - x0)), head_c[1] - int(0.1 * ih), int(0.2 * (x1 - x0)), int(0.2 * ih)),
                   in_rows(int(y0 + 0.05 * ih), int(0.05 * ih), 0.3, 0.7)]  # the near field above the fluid
    elif layout in ("pocus_linear", "pocus_portrait", "eye_linear"):
        portrait = layout == "pocus_portrait"
        if portrait:
            W, H = min(width, height), max(width, height)
            s = W / 1080.0
            g = np.zeros((H, W), np.float32)
            yy, xx = np.arange(H)[:, None], np.arange(W)[None, :]
        bar_h = int(110 * s)
        x0, x1 = (int(40 * s), W - int(120 * s)) if portrait else (int(420 * s), W - int(420 * s))
        y0, y1 = bar_h + int(16 * s), (H - int(420 * s)) if portrait else (H - int(150 * s))
        mask = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
        ih, iw = y1 - y0, x1 - x0
        g = _tissue((H, W), rng, 80)
        g *= np.clip(1.2 - 0.9 * (yy - y0) / ih, 0.25, 1.2)  # attenuation with depth
        if layout == "eye_linear":  # the eye: a round anechoic globe touching the image's bottom
            globe = mask & (((xx - (x0 + iw / 2)) / (0.36 * iw)) ** 2 + ((yy - (y0 + 0.78 * ih)) / (0.62 * ih)) ** 2 < 1)
            _fluid(g, globe, rng, floor=2)
            inside += [(int(x0 + 0.4 * iw), int(y0 + 0.6 * ih), int(0.2 * iw), int(0.3 * ih))]
        else:  # a vessel/bladder: a dark band right across the image at a third of its depth
            band = mask & (yy > y0 + 0.3 * ih) & (yy < y0 + 0.52 * ih)
            _fluid(g, band, rng, floor=3)
            inside += [(int(x0 + 0.3 * iw), int(y0 + 0.36 * ih), int(0.4 * iw), int(0.1 * ih))]
        g[~mask] = 0
        img = cv2.cvtColor(np.clip(g, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        cv2.rectangle(img, (0, 0), (W, bar_h), (48, 44, 40), -1)  # app bar: flat dark grey
        outside.append((0, 0, W, bar_h))
        _text_box(img, "Lung  |  L", (int(30 * s), int(70 * s)), 1.1 * s, (255, 255, 255), max(1, int(2 * s)))
        _text_box(img, "10:42", (W - int(160 * s), int(70 * s)), 1.0 * s, (255, 255, 255), max(1, int(2 * s)))
        hb = bar_h
        outside += _depth_scale(img, s, x1 + int(14 * s), y0, y1, int(40 * s))
        # tool bar: round flat buttons and a capture button; a gain slider
        ty = (H - int(220 * s)) if portrait else (H - int(70 * s))
        for k in range(5):
            cx = int(W * (k + 1) / 6)
            r = int((60 if k == 2 else 38) * s)
            cv2.circle(img, (cx, ty), r, (90, 170, 250) if k == 2 else (120, 120, 120), -1)
            cv2.circle(img, (cx, ty), int(r * 0.45), (255, 255, 255), max(2, int(3 * s)))
            outside.append((cx - r, ty - r, 2 * r, 2 * r))
        if not portrait:
            gx = int(150 * s)
            cv2.rectangle(img, (gx, y0 + int(40 * s)), (gx + int(16 * s), y1 - int(40 * s)), (110, 110, 110), -1)
            cv2.circle(img, (gx + int(8 * s), (y0 + y1) // 2), int(26 * s), (240, 240, 240), -1)
            outside.append((gx - int(26 * s), y0 + int(40 * s), int(70 * s), y1 - y0 - int(80 * s)))
            outside.append(_text_box(img, "Gain 55%", (int(40 * s), y0 + int(20 * s)), 0.8 * s, (255, 255, 255)))
        inside += [(int(x0 + 0.1 * iw), int(y0 + 0.03 * ih), int(0.8 * iw), int(0.2 * ih))]
    else:  # dual_view: two linear images side by side, text between and above, a fluid gap in one
        top = int(120 * s)
        w1 = int(0.36 * W)
        xa, xb = int(0.1 * W), int(0.1 * W) + w1 + int(24 * s)
        y0, y1 = top, H - int(110 * s)
        ma = (xx >= xa) & (xx < xa + w1) & (yy >= y0) & (yy < y1)
        mb = (xx >= xb) & (xx < xb + w1) & (yy >= y0) & (yy < y1)
        mask = ma | mb
        g = _tissue((H, W), rng, 70)
        ih = y1 - y0
        _fluid(g, ma & (yy > y0 + 0.25 * ih) & (yy < y0 + 0.45 * ih), rng, floor=3)
        _fluid(g, mb & (((xx - (xb + w1 / 2)) / (0.3 * w1)) ** 2 + ((yy - (y0 + 0.6 * ih)) / (0.25 * ih)) ** 2 < 1),
               rng, floor=3)
        g[~mask] = 0
        img = cv2.cvtColor(np.clip(g, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        outside.append(_logo(img, s, int(8 * s), int(6 * s), int(200 * s), int(70 * s)))
        outside += _header_rows(img, s, int(240 * s), W - int(20 * s), 2, rng)
        hb = max(b[1] + b[3] for b in outside)
        outside += _param_column(img, s, W - int(200 * s), top, H - int(60 * s))
        outside.append(_text_box(img, "L  R", (xa, H - int(50 * s)), 0.8 * s, (255, 255, 255)))
        inside += [(xa + int(0.2 * w1), int(y0 + 0.3 * ih), int(0.6 * w1), int(0.1 * ih)),
                   (xb + int(0.2 * w1), int(y0 + 0.1 * ih), int(0.6 * w1), int(0.1 * ih)),
                   (xb + int(0.4 * w1), int(y0 + 0.55 * ih), int(0.2 * w1), int(0.1 * ih))]
    img = capture_noise(img, rng) if capture else np.ascontiguousarray(img)
    return VendorScreen(img, mask.astype(bool), kind, inside, outside, int(hb))


def vendor_sweep(v: VendorScreen, n: int, start: int = 0):
    """Frames of one sweep on screen ``v``: the layout stays, the picture inside the image changes
    (tissue slides sideways, the speckle changes, fluid stays dark), as when a probe moves over the
    belly. Yields BGR frames."""
    rng = np.random.default_rng(start)
    tissue = np.clip(_tissue(v.image.shape[:2], np.random.default_rng(99), 75), 0, 255).astype(np.uint8)
    sel = v.mask & (v.image.max(2) >= 8)  # tissue, not fluid
    for k in range(start, start + n):
        f = v.image.copy()
        moved = np.roll(tissue, 9 * k, axis=1)
        new = np.clip(moved.astype(np.int16) + rng.integers(-12, 13, moved.shape), 0, 255).astype(np.uint8)
        f[sel] = new[sel][:, None]
        yield f

