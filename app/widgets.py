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
    """Band of a score *as shown*: rounded to a whole number first (a shown "60" is never red)."""
    if score is None or not np.isfinite(score):
        return "none"
    s = round(float(score))
    return "good" if s >= good else ("acceptable" if s >= acceptable else "poor")


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
        self.frozen = False
        self.setMinimumSize(180, 140)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)

    def sizeHint(self):
        return QSize(260, 230)

    def set_thresholds(self, good: float, acceptable: float) -> None:
        self.good, self.acceptable = good, acceptable
        self.update()

    def set_target(self, score: float | None) -> None:
        self.target = None if score is None else float(np.clip(score, 0, 100))
        if self.value is None and self.target is not None:
            self.value = 0.0

    def step(self, dt: float) -> None:
        if self.target is None or self.value is None or self.frozen:
            return
        a = 1.0 if self.smoothing_s <= 0 else 1.0 - math.exp(-dt / self.smoothing_s)
        new = self.value + a * (self.target - self.value)
        if abs(new - self.value) > 1e-3:
            self.value = new
            self.update()

    def _angle(self, v: float) -> float:  # 0 -> 180 deg (left), 100 -> 0 deg (right)
        return math.radians(180.0 - 1.8 * v)

    def geometry_(self) -> dict:
        """Where things are drawn: the dial is the upper half-circle around the pivot, so the needle is
        always above ``cy + pivot_r``; the number and the band sit below it (never under the needle)."""
        w, h = self.width(), self.height()
        r = max(20.0, min(w / 2 - 26, (h - 20) / 1.9, (h - 36) / 1.68))  # number + band fit below
        cx, cy = w / 2, 16 + r
        pivot = r * 0.06
        num_px = max(18, int(r * 0.62))  # 2.3x the old r/5 pt (≈ 0.27 r px) number
        num = QRectF(0, cy + pivot + 2, w, num_px * 1.0)
        band = QRectF(0, num.bottom() - 2, w, max(18.0, r * 0.2))
        return {"r": r, "cx": cx, "cy": cy, "pivot_r": pivot, "number": num, "number_px": num_px, "band": band,
                "tick_px": max(9, int(r / 10))}

    def shown(self) -> float | None:
        """The number on the dial: it follows the smoothed needle (a per-frame value would flicker)."""
        return self.value if self.value is not None else self.target

    def texts(self) -> tuple[str, str]:
        """(number, band words) as drawn; the band comes from the number shown (rounded)."""
        v = self.shown()
        num = "—" if v is None else f"{v:.0f}"
        if self.stale:
            return num, "NO SIGNAL"
        band = band_label(v, self.good, self.acceptable)
        return num, (f"FROZEN · {band}" if self.frozen else band)

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        g = self.geometry_()
        r, cx, cy = g["r"], g["cx"], g["cy"]
        rect = QRectF(cx - r, cy - r, 2 * r, 2 * r)
        thick = max(10.0, r * 0.16)
        for lo, hi, col in ((0, self.acceptable, POOR), (self.acceptable, self.good, OK), (self.good, 100, GOOD)):
            pen = QPen(col.darker(160) if (self.stale or self.frozen) else col, thick)
            pen.setCapStyle(Qt.FlatCap)
            p.setPen(pen)
            p.drawArc(rect.adjusted(thick / 2, thick / 2, -thick / 2, -thick / 2), int((180 - 1.8 * lo) * 16),
                      int(-1.8 * (hi - lo) * 16))
        text_col = self.palette().windowText().color()
        p.setPen(QPen(text_col, 1))
        f = QFont(self.font())
        f.setPixelSize(g["tick_px"])
        p.setFont(f)
        for v in (0, 20, 40, 60, 80, 100):
            a = self._angle(v)
            x, y = cx + (r + 2) * math.cos(a), cy - (r + 2) * math.sin(a)
            p.drawText(QRectF(x - 16, y - 16, 32, 14), Qt.AlignCenter, str(v))
        val = self.value
        dark = self.palette().window().color().lightness() < 128
        if val is not None:
            a = self._angle(val)
            col = QColor(110, 110, 110) if self.stale else (QColor(235, 235, 235) if dark else QColor(20, 20, 20))
            p.setPen(QPen(col, max(3.0, r / 28), Qt.SolidLine, Qt.RoundCap))
            p.drawLine(QPointF(cx, cy), QPointF(cx + 0.86 * r * math.cos(a), cy - 0.86 * r * math.sin(a)))
            p.setBrush(col)
            p.drawEllipse(QPointF(cx, cy), g["pivot_r"], g["pivot_r"])
        num, band = self.texts()
        shown = self.shown()
        colr = QColor(120, 120, 120) if self.stale else band_color(shown, self.good, self.acceptable)
        big = QFont(self.font())
        big.setPixelSize(g["number_px"])
        big.setBold(True)
        p.setFont(big)
        p.setPen(colr)
        p.drawText(g["number"], Qt.AlignCenter, num)
        f2 = QFont(self.font())
        f2.setPixelSize(max(11, int(g["band"].height() * 0.7)))
        f2.setBold(True)
        p.setFont(f2)
        p.setPen(QColor(120, 170, 255) if self.frozen else colr)
        p.drawText(g["band"], Qt.AlignCenter, band)
        p.end()


class Banner(QLabel):
    """Loud strip across the top: SYNTHETIC DEMO / UNTRAINED MODEL / SIGNAL LOST."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAlignment(Qt.AlignCenter)
        self.setWordWrap(False)  # one line at any width: elided, the full text in the tooltip
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self._parts: dict[str, str] = {}
        self._full = ""
        self.setVisible(False)

    def set_part(self, key: str, text: str | None) -> None:
        if (self._parts.get(key) or None) == (text or None):
            return  # the live view clears "scoring" on every result: no style, tooltip or elision work per frame
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
        self.setStyleSheet(f"QLabel {{ background: {bg}; color: white; font-weight: bold; padding: 3px; font-size: 13px; }}")
        self._full = "  •  ".join(self._parts[k] for k in sorted(self._parts, key=_order))
        self.setToolTip(self._full)
        self._elide()
        self.setVisible(True)

    def full_text(self) -> str:
        return self._full

    def _elide(self):
        """The full text where it fits; else every part's head (the words before its " — "), so that a
        narrow window still names each warning (at 800 px the SYNTHETIC DEMO part was elided away
        behind the model's note); elided only if even that does not fit."""
        w = max(50, self.width() - 10)
        fm = self.fontMetrics()
        text = self._full
        if fm.horizontalAdvance(text) > w:
            text = "  •  ".join(self._parts[k].split(" — ")[0] for k in sorted(self._parts, key=_order))
        self.setText(fm.elidedText(text, Qt.ElideRight, w))

    def resizeEvent(self, e):
        super().resizeEvent(e)
        if self._full:
            self._elide()


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
        self.planes: list = []
        self.fps = 25.0
        self.good, self.acceptable = 80.0, 60.0
        self.setMinimumHeight(96)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setCursor(Qt.PointingHandCursor)

    def sizeHint(self):
        return QSize(600, 104)

    def set_length(self, n: int) -> None:
        self.scores = np.zeros(n, np.float32)
        self.valid = np.zeros(n, bool)
        self.planes = [None] * n
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
        pr = self.plot_rect(QRectF(0, 0, self.width(), self.height()))
        return int(np.clip((x - pr.left()) / max(1.0, pr.width()) * n, 0, n - 1))

    def index_to_x(self, i: int) -> float:
        n = max(1, len(self.scores))
        pr = self.plot_rect(QRectF(0, 0, self.width(), self.height()))
        return pr.left() + (i + 0.5) / n * pr.width()

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

    def plot_rect(self, rect: QRectF) -> QRectF:
        """The bars' area inside ``rect`` (left: score axis, bottom: time axis and the plane strip)."""
        return QRectF(rect.left() + 30, rect.top() + 4, rect.width() - 36, rect.height() - 4 - 30)

    def paint_to(self, p: QPainter, rect: QRectF, marker: bool = True) -> None:
        p.fillRect(rect, QColor(24, 26, 30))
        pr = self.plot_rect(rect)
        n = len(self.scores)
        h = pr.height()
        f = QFont(p.font())
        f.setPixelSize(10)
        p.setFont(f)
        p.setPen(QColor(170, 170, 170))
        for v in (0, 60, 80, 100):
            y = pr.top() + h * (1 - v / 100)
            p.drawText(QRectF(rect.left(), y - 7, 27, 14), Qt.AlignRight | Qt.AlignVCenter, str(v))
        for v, col in ((self.good, GOOD), (self.acceptable, OK)):
            y = pr.top() + h * (1 - v / 100)
            p.setPen(QPen(col.darker(130), 1, Qt.DashLine))
            p.drawLine(QPointF(pr.left(), y), QPointF(pr.right(), y))
        if not n:
            return
        bw = pr.width() / n
        for i in np.flatnonzero(self.valid):
            s = float(self.scores[i])
            top = pr.top() + h * (1 - s / 100)
            p.fillRect(QRectF(pr.left() + i * bw, top, max(1.0, bw), pr.bottom() - top), band_color(s, self.good, self.acceptable))
        # plane strip under the bars
        strip = QRectF(pr.left(), pr.bottom() + 2, pr.width(), 8)
        for i, pl in enumerate(self.planes[:n]):
            if pl is not None:
                p.fillRect(QRectF(strip.left() + i * bw, strip.top(), max(1.0, bw), strip.height()),
                           PLANE_COLORS.get(pl, QColor(90, 90, 90)))
        # time axis (seconds)
        dur = n / max(1e-6, self.fps)
        step = next((s for s in (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300) if dur / s <= 8), 600)
        p.setPen(QColor(170, 170, 170))
        t = 0.0
        while t <= dur + 1e-9:
            x = pr.left() + t / dur * pr.width() if dur else pr.left()
            p.drawLine(QPointF(x, strip.bottom()), QPointF(x, strip.bottom() + 3))
            p.drawText(QRectF(x - 24, strip.bottom() + 3, 48, 13), Qt.AlignCenter, f"{t:g} s")
            t += step
        for m in self.marks:
            x = pr.left() + (m + 0.5) * bw
            p.setPen(QPen(QColor(80, 170, 255), 2))
            p.drawLine(QPointF(x, pr.top()), QPointF(x, pr.top() + 8))
        if marker:
            x = pr.left() + (self.current + 0.5) * bw
            p.setPen(QPen(QColor(255, 255, 255), 2))
            p.drawLine(QPointF(x, pr.top()), QPointF(x, pr.bottom()))


#: the timeline's plane colours
PLANE_COLORS = {"head": QColor(80, 160, 255), "abdomen": QColor(190, 120, 255), "femur": QColor(80, 210, 200),
                "4CH": QColor(150, 150, 150), "other": QColor(110, 110, 110), "none": QColor(60, 60, 60)}


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


class ElideLabel(QLabel):
    """A one-line label that elides its text to its width (the status bar at 800 px: nothing cut mid-word)."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

    def minimumSizeHint(self):
        return QSize(10, super().minimumSizeHint().height())

    def paintEvent(self, e):
        p = QPainter(self)
        p.setPen(self.palette().windowText().color())
        t = self.fontMetrics().elidedText(self.text(), Qt.ElideRight, max(10, self.width() - 2))
        p.drawText(self.rect(), Qt.AlignLeft | Qt.AlignVCenter, t)
        p.end()
