"""The heatmap as the gauge means it: red = points lost, drawn only inside the imaging region.

The model's quality map ``q`` (0–100 per cell) and attention ``a`` give the points each cell costs the
score, ``a·(100 − q)`` (:attr:`engine.result.FrameResult.deficit`, summing to 100 − score). For display
that is scaled by the number of cells, so a uniform map reads as ``100 − q`` ("points lost here, per
100"), clipped to 0–100, and coloured transparent → amber → red. Pixels outside the fan (black on the
scanner's screen) stay uncoloured. No torch here; numpy + OpenCV only (this runs in the scoring thread).
"""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

#: below this gray level a pixel is the black around the fan, not image
FAN_BLACK = 12
#: loss (0-100) at which the overlay is fully opaque
_FULL_ALPHA_AT = 45.0


def loss_map(result) -> np.ndarray:
    """Per-cell points lost, 0–100, from a FrameResult (or anything with heatmap/attention)."""
    q = np.asarray(result.heatmap, np.float32)
    att = getattr(result, "attention", None)
    if att is None:
        return np.clip(100.0 - q, 0, 100)
    a = np.asarray(att, np.float32)
    return np.clip(a * (100.0 - q) * a.size, 0, 100)


def _make_lut() -> np.ndarray:
    """(256, 4) uint8 RGBA: 0 → transparent, then amber, then red (the gauge's poor colour)."""
    v = np.arange(256, dtype=np.float32) / 255.0 * 100.0
    t = np.clip(v / 100.0, 0, 1)
    r = np.full(256, 230.0)
    g = 190.0 * (1 - t) + 40.0 * t  # amber (230,190,40) -> red (220,40,30)
    b = 40.0 * (1 - t) + 30.0 * t
    r = 230.0 * (1 - t) + 220.0 * t
    a = np.clip(v / _FULL_ALPHA_AT, 0, 1) * 255.0
    return np.stack([r, g, b, a], axis=1).astype(np.uint8)


LUT = _make_lut()


def fan_mask(crop: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """True inside the imaging region of the ROI crop: the convex hull of its largest non-black part
    (a fan or a rectangle is convex, so dark fluid or an acoustic shadow inside it still counts),
    resized to ``shape`` (h, w)."""
    if shape is not None and crop.shape[:2] != tuple(shape):  # small first, then gray: cheap per frame
        crop = cv2.resize(np.ascontiguousarray(crop), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    g = crop if crop.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(crop[..., :3]), cv2.COLOR_BGR2GRAY)
    m = (g > FAN_BLACK).astype(np.uint8)
    k = max(3, (min(m.shape) // 30) | 1)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))  # join the speckle
    cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not cs:
        return m.astype(bool)
    big = max(cs, key=cv2.contourArea)
    out = np.zeros_like(m)
    cv2.fillPoly(out, [cv2.convexHull(big)], 1)
    return out.astype(bool)


def colourise(loss_patch: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """0–100 loss patch -> RGBA uint8, alpha 0 outside ``mask``."""
    idx = np.clip(np.nan_to_num(loss_patch) * 2.55, 0, 255).astype(np.uint8)
    rgba = LUT[idx]
    if mask is not None:
        rgba[..., 3] = np.where(mask, rgba[..., 3], 0)
    return rgba


class MaskCache:
    """The fan mask of the live stream, found again every ``every_s`` or when the ROI or size changes
    (the fan does not move from frame to frame; this keeps the scoring thread's cost per frame low)."""

    def __init__(self, every_s: float = 0.5):
        self.every_s = every_s
        self._key = None
        self._t = -1e9
        self._mask = None

    def get(self, frame, roi, shape, now: float):
        key = (tuple(roi), tuple(shape), frame.shape)
        if key != self._key or now - self._t > self.every_s:
            x, y, w, h = roi
            self._mask, self._key, self._t = fan_mask(frame[y : y + h, x : x + w], shape), key, now
        return self._mask


def overlay_rgba(frame: np.ndarray, loss_patch: np.ndarray, roi, max_side: int | None = 192,
                 cache: MaskCache | None = None, now: float = 0.0) -> np.ndarray:
    """Small RGBA overlay for the ROI of ``frame`` (drawn stretched over the ROI)."""
    x, y, w, h = roi
    h0, w0 = loss_patch.shape[:2]
    if max_side and max(h0, w0) > max_side:
        k = max_side / max(h0, w0)
        loss_patch = cv2.resize(loss_patch, (max(1, int(w0 * k)), max(1, int(h0 * k))), interpolation=cv2.INTER_AREA)
    shape = loss_patch.shape[:2]
    mask = cache.get(frame, roi, shape, now) if cache is not None else fan_mask(frame[y : y + h, x : x + w], shape)
    return colourise(loss_patch, mask)


def blend(img: np.ndarray, loss_patch: np.ndarray, roi, opacity: float = 0.6) -> np.ndarray:
    """Frame (BGR or gray) with the loss overlay blended inside ``roi`` (and the fan); BGR uint8."""
    out = img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    out = np.ascontiguousarray(out[:, :, :3]).copy()
    x, y, w, h = roi
    region = out[y : y + h, x : x + w].astype(np.float32)
    rgba = colourise(loss_patch[: region.shape[0], : region.shape[1]], fan_mask(out[y : y + h, x : x + w]))
    a = rgba[..., 3:4].astype(np.float32) / 255.0 * opacity
    bgr = rgba[..., 2::-1].astype(np.float32)
    out[y : y + h, x : x + w] = np.clip((1 - a) * region + a * bgr, 0, 255).astype(np.uint8)
    return out


class HeatLegend(QWidget):
    """Colour bar: what the heatmap's colours mean."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMinimumHeight(34)
        self.setToolTip("Each cell's share of the points the score lost (a·(100 − q)), "
                        "scaled to 0–100; uncoloured = nothing lost there. Drawn only inside the imaging region.")

    def sizeHint(self):
        return QSize(220, 34)

    def paintEvent(self, e):
        p = QPainter(self)
        self.paint_to(p, QRectF(0, 0, self.width(), self.height()), self.palette().windowText().color())
        p.end()

    @staticmethod
    def paint_to(p: QPainter, rect: QRectF, text: QColor) -> None:
        f = QFont(p.font())
        f.setPixelSize(max(10, int(rect.height() * 0.36)))
        p.setFont(f)
        bar = QRectF(rect.left() + 2, rect.top() + 2, rect.width() - 4, rect.height() * 0.38)
        g = QLinearGradient(bar.topLeft(), bar.topRight())
        for k in range(0, 256, 32):
            c = LUT[k]
            g.setColorAt(k / 255.0, QColor(int(c[0]), int(c[1]), int(c[2]), max(40, int(c[3]))))
        c = LUT[255]
        g.setColorAt(1.0, QColor(int(c[0]), int(c[1]), int(c[2])))
        p.fillRect(bar, g)
        p.setPen(text)
        lab = QRectF(rect.left() + 2, bar.bottom() + 1, rect.width() - 4, rect.height() - bar.height() - 3)
        fm = p.fontMetrics()
        left, mid, right = "no loss", "red = points lost", "100"
        p.drawText(lab, Qt.AlignLeft | Qt.AlignVCenter, left)
        p.drawText(lab, Qt.AlignRight | Qt.AlignVCenter, right)
        room = lab.width() - 2 * max(fm.horizontalAdvance(left), fm.horizontalAdvance(right)) - 16
        if fm.horizontalAdvance(mid) <= room:  # the middle words only where they fit between the ends
            p.drawText(lab, Qt.AlignHCenter | Qt.AlignVCenter, mid)
