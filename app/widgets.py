"""Small painted widgets: the quality gauge, the warning banner, the cine quality timeline."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

GOOD = QColor(46, 160, 67)
OK = QColor(230, 170, 30)
POOR = QColor(210, 60, 50)


def band_of(score: float | None, good: float = 80.0, acceptable: float = 60.0) -> str:
    if score is None or not np.isfinite(score):
        return "none"
    return "good" if score >= good else ("acceptable" if score >= acceptable else "poor")


def band_color(score, good=80.0, acceptable=60.0) -> QColor:
    return {"good": GOOD, "acceptable": OK, "poor": POOR}.get(band_of(score, good, acceptable), QColor(120, 120, 120))


def band_label(score, good=80.0, acceptable=60.0) -> str:
    return {"good": "STANDARD", "acceptable": "ACCEPTABLE", "poor": "NON-STANDARD"}.get(band_of(score, good, acceptable), "—")


class Gauge(QWidget):
    """0–100 dial with coloured bands and a needle smoothed towards the target score.

    ``set_target`` sets where the needle goes; ``step(dt)`` moves it (exponential smoothing with time
    constant ``smoothing_s``); the GUI's display timer calls ``step``.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.target: float | None = None
        self.value: float | None = None
        self.smoothing_s = 0.4
        self.good, self.acceptable = 80.0, 60.0
        self.stale = False
        self.setMinimumSize(200, 150)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)

    def sizeHint(self):
        return QSize(260, 190)

    def set_thresholds(self, good: float, acceptable: float) -> None:
        self.good, self.acceptable = good, acceptable
        self.update()

    def set_target(self, score: float | None) -> None:
        self.target = None if score is None else float(np.clip(score, 0, 100))
        if self.value is None and self.target is not None:
            self.value = 0.0

    def step(self, dt: float) -> None:
        if self.target is None or self.value is None:
            return
        a = 1.0 if self.smoothing_s <= 0 else 1.0 - math.exp(-dt / self.smoothing_s)
        new = self.value + a * (self.target - self.value)
        if abs(new - self.value) > 1e-3:
            self.value = new
            self.update()

    def _angle(self, v: float) -> float:  # 0 -> 180 deg (left), 100 -> 0 deg (right)
        return math.radians(180.0 - 1.8 * v)

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        w, h = self.width(), self.height()
        r = min(w / 2 - 28, h - 52)
        cx, cy = w / 2, 12 + r
        rect = QRectF(cx - r, cy - r, 2 * r, 2 * r)
        thick = max(10.0, r * 0.16)
        for lo, hi, col in ((0, self.acceptable, POOR), (self.acceptable, self.good, OK), (self.good, 100, GOOD)):
            pen = QPen(col, thick)
            pen.setCapStyle(Qt.FlatCap)
            p.setPen(pen)
            start = 180 - 1.8 * lo
            span = -1.8 * (hi - lo)
            p.drawArc(rect.adjusted(thick / 2, thick / 2, -thick / 2, -thick / 2), int(start * 16), int(span * 16))
        p.setPen(QPen(self.palette().text().color(), 1))
        f = QFont(self.font())
        f.setPointSizeF(max(7.0, r / 14))
        p.setFont(f)
        for v in (0, 20, 40, 60, 80, 100):
            a = self._angle(v)
            x, y = cx + (r + 2) * math.cos(a), cy - (r + 2) * math.sin(a)
            p.drawText(QRectF(x - 14, y - 16, 28, 14), Qt.AlignCenter, str(v))
        val = self.value
        if val is not None:
            a = self._angle(val)
            col = QColor(90, 90, 90) if self.stale else QColor(20, 20, 20) if self.palette().window().color().lightness() > 128 else QColor(235, 235, 235)
            p.setPen(QPen(col, max(3.0, r / 30), Qt.SolidLine, Qt.RoundCap))
            p.drawLine(QPointF(cx, cy), QPointF(cx + 0.82 * r * math.cos(a), cy - 0.82 * r * math.sin(a)))
            p.setBrush(col)
            p.drawEllipse(QPointF(cx, cy), r * 0.06, r * 0.06)
        big = QFont(self.font())
        big.setPointSizeF(max(10.0, r / 5))
        big.setBold(True)
        p.setFont(big)
        # the number and band follow the smoothed needle: a per-frame value flickers at 25 fps and would
        # disagree with the needle at a glance
        shown = self.value if self.value is not None else self.target
        txt = "—" if shown is None else f"{shown:.0f}"
        p.setPen(band_color(shown, self.good, self.acceptable) if not self.stale else QColor(120, 120, 120))
        p.drawText(QRectF(0, cy - r * 0.55, w, r * 0.4), Qt.AlignCenter, txt)
        f2 = QFont(self.font())
        f2.setPointSizeF(max(8.0, r / 11))
        f2.setBold(True)
        p.setFont(f2)
        p.drawText(QRectF(0, cy + 4, w, 28), Qt.AlignCenter,
                   "NO SIGNAL" if self.stale else band_label(shown, self.good, self.acceptable))
        p.end()


class Banner(QLabel):
    """Loud strip across the top: SYNTHETIC DEMO / UNTRAINED MODEL / SIGNAL LOST."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAlignment(Qt.AlignCenter)
        self.setWordWrap(True)
        self._parts: dict[str, str] = {}
        self.setVisible(False)

    def set_part(self, key: str, text: str | None) -> None:
        if text:
            self._parts[key] = text
        else:
            self._parts.pop(key, None)
        self._refresh()

    def parts(self) -> dict[str, str]:
        return dict(self._parts)

    def _refresh(self):
        if not self._parts:
            self.setVisible(False)
            self.setText("")
            return
        red = "signal" in self._parts or "model" in self._parts
        bg = "#b3261e" if red else "#c77700"
        self.setStyleSheet(f"QLabel {{ background: {bg}; color: white; font-weight: bold; padding: 4px; font-size: 13px; }}")
        self.setText("   •   ".join(self._parts[k] for k in sorted(self._parts, key=_order)))
        self.setVisible(True)


def _order(k: str) -> int:
    return {"signal": 0, "model": 1, "untrained": 2, "synthetic": 3}.get(k, 9)


class QualityTimeline(QWidget):
    """Per-frame scores as a bar strip coloured by band; click/drag to seek; current frame marked."""

    seek = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scores = np.zeros(0, np.float32)
        self.valid = np.zeros(0, bool)
        self.current = 0
        self.marks: list[int] = []
        self.good, self.acceptable = 80.0, 60.0
        self.setMinimumHeight(70)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setCursor(Qt.PointingHandCursor)

    def sizeHint(self):
        return QSize(600, 80)

    def set_length(self, n: int) -> None:
        self.scores = np.zeros(n, np.float32)
        self.valid = np.zeros(n, bool)
        self.current = 0
        self.marks = []
        self.update()

    def set_scores(self, start: int, scores) -> None:
        s = np.asarray(scores, np.float32)
        self.scores[start : start + len(s)] = s
        self.valid[start : start + len(s)] = True
        self.update()

    def set_current(self, i: int) -> None:
        self.current = int(i)
        self.update()

    def x_to_index(self, x: float) -> int:
        n = len(self.scores)
        if n == 0:
            return 0
        return int(np.clip(x / max(1, self.width()) * n, 0, n - 1))

    def index_to_x(self, i: int) -> float:
        n = max(1, len(self.scores))
        return (i + 0.5) / n * self.width()

    def mousePressEvent(self, e):
        if len(self.scores):
            self.seek.emit(self.x_to_index(e.position().x()))

    def mouseMoveEvent(self, e):
        if e.buttons() & Qt.LeftButton and len(self.scores):
            self.seek.emit(self.x_to_index(e.position().x()))

    def paintEvent(self, e):
        p = QPainter(self)
        self.paint_to(p, QRectF(0, 0, self.width(), self.height()))
        p.end()

    def paint_to(self, p: QPainter, rect: QRectF, marker: bool = True) -> None:
        p.fillRect(rect, QColor(30, 30, 34))
        n = len(self.scores)
        h = rect.height()
        for v, col in ((self.good, GOOD), (self.acceptable, OK)):
            y = rect.top() + h * (1 - v / 100)
            p.setPen(QPen(col.darker(130), 1, Qt.DashLine))
            p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
        if n:
            bw = rect.width() / n
            for i in np.flatnonzero(self.valid):
                s = float(self.scores[i])
                top = rect.top() + h * (1 - s / 100)
                p.fillRect(QRectF(rect.left() + i * bw, top, max(1.0, bw), rect.bottom() - top),
                           band_color(s, self.good, self.acceptable))
            for m in self.marks:
                x = rect.left() + (m + 0.5) * bw
                p.setPen(QPen(QColor(80, 170, 255), 2))
                p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.top() + 8))
            if marker:
                x = rect.left() + (self.current + 0.5) * bw
                p.setPen(QPen(QColor(255, 255, 255), 2))
                p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))


def to_qimage(img: np.ndarray) -> QImage:
    """uint8 gray or BGR numpy -> QImage (a deep copy)."""
    a = np.ascontiguousarray(img)
    if a.ndim == 2:
        return QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format_Grayscale8).copy()
    if a.shape[2] == 4:
        a = np.ascontiguousarray(a[:, :, :3])
    return QImage(a.data, a.shape[1], a.shape[0], a.strides[0], QImage.Format_BGR888).copy()


def colorize(patch: np.ndarray, cmap_name: str = "viridis", opacity: float = 0.45) -> np.ndarray:
    """0–100 heatmap -> RGBA uint8 (for blending/export)."""
    import pyqtgraph as pg

    cmap = pg.colormap.get(cmap_name)
    lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=False)
    idx = np.clip(np.nan_to_num(patch) * 2.55, 0, 255).astype(np.uint8)
    rgb = lut[idx]
    a = np.full(idx.shape + (1,), int(opacity * 255), np.uint8)
    return np.concatenate([rgb[..., :3].astype(np.uint8), a], axis=2)


def blend_heat(img_bgr: np.ndarray, patch: np.ndarray, roi, cmap_name="viridis", opacity=0.45) -> np.ndarray:
    """Frame (BGR/gray) with the heatmap patch blended inside ``roi``; returns BGR uint8."""
    import cv2

    out = img_bgr if img_bgr.ndim == 3 else cv2.cvtColor(img_bgr, cv2.COLOR_GRAY2BGR)
    out = out[:, :, :3].copy()
    x, y, w, h = roi
    rgba = colorize(patch, cmap_name, 1.0)
    bgr = rgba[..., 2::-1].astype(np.float32)
    region = out[y : y + h, x : x + w].astype(np.float32)
    out[y : y + h, x : x + w] = np.clip((1 - opacity) * region + opacity * bgr[: region.shape[0], : region.shape[1]], 0, 255).astype(np.uint8)
    return out


def draw_path_note(p: QPainter, rect: QRectF, text: str, color=QColor(255, 255, 255)):
    path = QPainterPath()
    path.addRect(rect)
    p.fillPath(path, QColor(0, 0, 0, 150))
    p.setPen(color)
    p.drawText(rect, Qt.AlignCenter, text)
