"""A scanner-screen-like frame around the fan (SYNTHETIC): burned-in text, a grey-scale bar, a depth
scale and parameters outside the imaging region, as a capture card would grab a scanner's output.
This exercises the ROI finder."""
from __future__ import annotations

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
