"""An exam: one scanning session's plane coverage.

Per assessed plane (head, abdomen, femur) the exam keeps the best captured frame with its score and
checklist. Frames are captured by the "capture and next plane" key (any widget focused; a USB foot
pedal is a keyboard sending that key) or automatically when a standard plane (≥ 80 as shown) has held
for a moment (:class:`HoldDetector`). Nothing is written until the exam ends: then one folder per exam
(``exam_YYYYmmdd_HHMMSS``, no patient data — only the imaging region) gets the final best frame per
plane and the one-page report (app/report.py). A model without a plane head files a capture under the
plane the strip asks for.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.result import ASSESSED_PLANES, band_of

PLANE_SHORT = {"head": "Head", "abdomen": "Abdomen", "femur": "Femur"}


@dataclass
class Capture:
    plane: str
    result: object  # engine.result.FrameResult
    crop: np.ndarray  # the ROI of the frame (BGR/gray uint8): no burned-in text
    loss: np.ndarray  # points-lost patch over the ROI (0-100)
    roi: tuple
    auto: bool = False
    t: float = field(default_factory=time.time)

    @property
    def score(self) -> float:
        return float(self.result.score)


class HoldDetector:
    """True once when the shown score is standard for ``hold_s`` on one plane; re-arms when it drops."""

    def __init__(self, hold_s: float = 1.0, standard: float = 80.0):
        self.hold_s, self.standard = hold_s, standard
        self._since: float | None = None
        self._plane = None
        self._fired = False

    def reset(self):
        self._since, self._plane, self._fired = None, None, False

    def update(self, t: float, score: float, plane: str | None) -> bool:
        ok = plane is not None and round(float(score)) >= self.standard
        if not ok or plane != self._plane:
            self._plane = plane if ok else None
            self._since = t if ok else None
            self._fired = False
            return False
        if not self._fired and t - self._since >= self.hold_s:
            self._fired = True
            return True
        return False

    def progress(self, t: float) -> float:
        """0–1: how far the current standard stretch is towards a capture."""
        if self._since is None or self._fired:
            return 0.0
        return float(np.clip((t - self._since) / max(1e-6, self.hold_s), 0, 1))


class Exam:
    def __init__(self, root: Path, planes=ASSESSED_PLANES):
        self.root = Path(root)
        self.started = time.time()
        self.id = "exam_" + time.strftime("%Y%m%d_%H%M%S", time.localtime(self.started))
        self.planes = tuple(planes)
        self.best: dict[str, Capture] = {}
        self.target = self.planes[0]
        self.ended: float | None = None

    @property
    def folder(self) -> Path:
        return self.root / self.id

    def plane_for(self, result) -> str | None:
        """Which plane a frame counts for: the model's, or (no plane head) the one being asked for."""
        p = getattr(result, "plane", None)
        if p is None:
            return self.target
        return p if p in self.planes else None

    def offer(self, result, frame: np.ndarray, roi, loss_patch: np.ndarray, auto: bool) -> Capture | None:
        """Capture a frame; an automatic capture only replaces a worse one. Returns the capture kept."""
        plane = self.plane_for(result)
        if plane is None:
            return None
        old = self.best.get(plane)
        if auto and old is not None and old.score >= result.score:
            return None
        x, y, w, h = (int(v) for v in roi)
        cap = Capture(plane, result, np.ascontiguousarray(frame[y : y + h, x : x + w]).copy(),
                      np.asarray(loss_patch, np.float32).copy(), (x, y, w, h), auto)
        self.best[plane] = cap
        return cap

    def next_plane(self) -> str | None:
        """Move the target to the next plane still to do (cyclic); None when all are captured."""
        todo = [p for p in self.planes if p not in self.best]
        if not todo:
            return None
        i = self.planes.index(self.target)
        for k in range(1, len(self.planes) + 1):
            p = self.planes[(i + k) % len(self.planes)]
            if p in todo:
                self.target = p
                return p
        return None

    def coverage(self) -> dict[str, float | None]:
        return {p: (self.best[p].score if p in self.best else None) for p in self.planes}

    def finish(self, header: dict) -> list[Path]:
        """Write the exam folder: the final best frame per plane (+ heatmap) and report.png/.pdf."""
        from engine.modelpack import atomic_write_bytes

        from .heat import blend
        from .report import exam_report_image, save_report

        self.ended = time.time()
        self.folder.mkdir(parents=True, exist_ok=True)
        out = []
        for p, c in self.best.items():
            crop = c.crop
            heat = blend(crop, c.loss, (0, 0, crop.shape[1], crop.shape[0]))
            for suffix, img in (("", crop), ("_heatmap", heat)):
                path = self.folder / f"{p}_q{c.score:.0f}{suffix}.png"
                ok, buf = cv2.imencode(".png", img)
                atomic_write_bytes(path, buf.tobytes())
                out.append(path)
        out += save_report(exam_report_image(self, header), self.folder / "report.png", "FUIQA exam report")
        return out


class CoverageStrip(QWidget):
    """Head / abdomen / femur: captured (with score) or still to do; the plane asked for is outlined."""

    plane_clicked = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.coverage: dict[str, float | None] = {p: None for p in ASSESSED_PLANES}
        self.target = ASSESSED_PLANES[0]
        self.setMinimumHeight(46)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setToolTip("Planes of this exam: captured (score) or still to do. Click one to scan it next.")

    def sizeHint(self):
        return QSize(300, 48)

    def set_state(self, coverage: dict, target: str | None) -> None:
        if coverage != self.coverage or target != self.target:
            self.coverage, self.target = dict(coverage), target
            self.update()

    def texts(self) -> list[str]:
        return [f"{PLANE_SHORT.get(p, p)} {'✓ %.0f' % s if s is not None else '· to do'}" for p, s in self.coverage.items()]

    def mousePressEvent(self, e):
        n = max(1, len(self.coverage))
        k = int(e.position().x() / max(1, self.width()) * n)
        planes = list(self.coverage)
        if 0 <= k < len(planes):
            self.plane_clicked.emit(planes[k])

    def paintEvent(self, e):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        self.paint_to(p, QRectF(0, 0, self.width(), self.height()))
        p.end()

    def paint_to(self, p: QPainter, rect: QRectF) -> None:
        n = max(1, len(self.coverage))
        w = rect.width() / n
        f = QFont(p.font())
        f.setBold(True)
        f.setPixelSize(max(10, min(int(rect.height() * 0.3), int(w / 8))))
        p.setFont(f)
        colors = {"standard": QColor(46, 160, 67), "acceptable": QColor(200, 140, 20), "non-standard": QColor(190, 55, 45)}
        for k, (plane, s) in enumerate(self.coverage.items()):
            r = QRectF(rect.left() + k * w + 2, rect.top() + 2, w - 4, rect.height() - 4)
            fill = colors[band_of(s)] if s is not None else QColor(60, 64, 72)
            p.setBrush(fill)
            p.setPen(QPen(QColor(120, 180, 255), 3) if plane == self.target else QPen(QColor(90, 94, 100), 1))
            p.drawRoundedRect(r, 5, 5)
            p.setPen(QColor(255, 255, 255) if s is not None else QColor(200, 200, 200))
            # two lines (the plane, then ✓ score or "to do"), so the words fit a box at 800 px
            p.drawText(r, Qt.AlignCenter, f"{PLANE_SHORT.get(plane, plane)}\n{'✓ %.0f' % s if s is not None else 'to do'}")


class LiveExam:
    """Wires an :class:`Exam` to the live view: auto capture on a held standard plane, the key, the strip."""

    def __init__(self, root_provider, strip: CoverageStrip, panel, settings):
        self.root_provider = root_provider  # () -> Path (the captures folder)
        self.strip, self.panel, self.settings = strip, panel, settings
        self.exam = Exam(root_provider())
        self.hold = HoldDetector(settings.get("exam/hold_s"), settings.get("thresholds/good"))
        self.captures = 0
        self.last_written: list[Path] = []
        strip.plane_clicked.connect(self.set_target)
        self._refresh()

    def _refresh(self):
        self.strip.set_state(self.exam.coverage(), self.exam.target)

    def set_target(self, plane: str) -> None:
        self.exam.target = plane
        self.hold.reset()
        self._refresh()

    def _take(self, res, auto: bool) -> Capture | None:
        if res is None or res.result is None or res.frame is None:
            return None
        cap = self.exam.offer(res.result, res.frame.image, res.roi, res.heat_patch, auto)
        if cap is None:
            return None
        self.captures += 1
        self.panel.flash()
        if self.settings.get("exam/sound"):
            from PySide6.QtWidgets import QApplication

            QApplication.beep()
        if cap.plane == self.exam.target:
            self.exam.next_plane()
        self._refresh()
        return cap

    def on_result(self, res, now: float) -> Capture | None:
        """Every live result: an automatic capture when a standard plane has held for a moment."""
        if not self.settings.get("exam/auto_capture") or res.result is None:
            return None
        self.hold.standard = self.settings.get("thresholds/good")
        self.hold.hold_s = self.settings.get("exam/hold_s")
        # a frame flagged "unlike the training data" (or not a B-mode image) breaks the hold: the exam
        # keeps only frames the model can vouch for without a person's say (the capture key still can)
        plane = None if res.result.ood else self.exam.plane_for(res.result)
        if self.hold.update(now, res.score, plane):
            return self._take(res, auto=True)
        return None

    def capture_and_next(self, res) -> Capture | None:
        """The "capture and next plane" key: keep this frame for its plane, ask for the next one."""
        cap = self._take(res, auto=False)
        if cap is None:
            self.exam.next_plane()
            self._refresh()
        return cap

    def finish(self, header: dict) -> list[Path]:
        """End the exam: write its folder (if anything was captured) and start a new one."""
        out = self.exam.finish(header) if self.exam.best else []
        self.last_written = out
        self.exam = Exam(self.root_provider())
        self.hold.reset()
        self._refresh()
        return out
