"""The live scanning view: image + heatmap + ROI box, gauge, plane and checklist, exam coverage, 30 s trend.

The GUI thread only draws. Frames and results come from the worker threads' 1-slot mailboxes
(app/workers.py); ``frame_ready`` pokes are coalesced so events never pile up.
"""
from __future__ import annotations

import collections
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QPixmap
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from engine import sources
from . import heat
from .exam import LiveExam
from .frame_item import FrameItem
from .live_capture import LiveCaptures
from .live_side import LiveSide
from .live_source import SourceStates
from .recorder import Recorder
from .settings import Settings
from .widgets import Banner, band_color, to_qimage
from .scoring import Pipeline, RoiPolicy, ScoringWorker
from .workers import CaptureWorker, WorkerSignals, clock

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


class LiveView(SourceStates, LiveCaptures, QWidget):
    status_changed = Signal(str)
    message = Signal(str)  # transient status-bar messages (saved files ...)
    source_started = Signal(str)  # the spec that is now giving frames (only then is it "last used")
    exam_written = Signal(object)  # list[Path] of an ended exam

    def __init__(self, settings: Settings, scorer_provider, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.scorer_provider = scorer_provider  # () -> Scorer (shared, created by the main window)
        self.pipeline: Pipeline | None = None
        self.spec = ""
        self.frozen = False
        self.frozen_result = None
        self.paused = False
        self.recorder: Recorder | None = None
        self.last_frame = None
        self.last_result = None
        self.last_error = ""
        self._drawn_seq = -1
        self._heat_seq = -1
        self._trend = collections.deque()
        self._trend_n = 0
        self.best = None  # LiveResult of the best frame in the current sweep
        self.saved_files: list[Path] = []
        self.frames_drawn = 0
        self.signal_lost = False
        self.source_state = "stopped"  # opening | live | lost | missing | failed | ended | stopped
        self._src_synthetic = False
        self._last_t = clock()
        self.gui_stalls = 0
        self._build()
        self.exam = LiveExam(self.settings.output_dir, self.strip, self.panel, self.settings)
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(33)
        self._tick_timer.timeout.connect(self._tick)
        self._tick_timer.start()
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(500)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start()

    # ------------------------------------------------------------------ layout
    def _text_item(self, text, fill, anchor, px=16, color=(255, 255, 255)):
        t = pg.TextItem(text, color=color, anchor=anchor, fill=pg.mkBrush(*fill) if fill else None)
        t.setZValue(20)
        t.setVisible(False)
        f = QFont()
        f.setPixelSize(px)
        f.setBold(True)
        t.setFont(f)
        self.vb.addItem(t)
        return t

    def _build(self):
        self.banner = Banner()
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("k")
        self.vb = self.view.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.vb.setMouseEnabled(False, False)
        self.image_item = FrameItem()
        self.vb.addItem(self.image_item)
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item.setZValue(5)
        self.vb.addItem(self.heat_item)
        self.roi_item = pg.RectROI([0, 0], [10, 10], pen=pg.mkPen((80, 200, 255), width=2), movable=True,
                                   removable=False, rotatable=False)
        self.roi_item.setZValue(10)
        self.roi_item.sigRegionChangeFinished.connect(self._roi_dragged)
        self.vb.addItem(self.roi_item)
        self._roi_updating = False
        self.overlay_text = self._text_item("", (180, 30, 30, 210), (0.5, 0.5), 18)
        self.freeze_text = self._text_item("FROZEN", (30, 90, 200, 220), (0, 0), 22)
        self.rec_text = self._text_item("● REC", None, (1, 0), 16, (255, 60, 60))

        side = self.side = LiveSide(self.settings, self)
        self.gauge, self.panel, self.strip, self.trend = side.gauge, side.panel, side.strip, side.trend
        self.trend_curve, self._bands = side.trend_curve, side.bands
        self.best_label, self.best_caption = side.best_label, side.best_caption
        self.heat_check, self.opacity, self.legend = side.heat_check, side.opacity, side.legend
        self.heat_check.toggled.connect(self.set_heatmap_visible)
        self.opacity.valueChanged.connect(self._opacity_changed)
        self._opacity_changed(self.opacity.value())
        self.set_heatmap_visible(self.heat_check.isChecked())

        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.banner)
        lay.addWidget(split, 1)

    def apply_thresholds(self, good: float, acceptable: float) -> None:
        self.gauge.set_thresholds(good, acceptable)
        for r, reg in zip(self._bands, ((0, acceptable), (acceptable, good), (good, 100))):
            r.setRegion(reg)

    # ------------------------------------------------------------------ source / pipeline
    def start(self, spec: str = "demo", opener=None, name: str | None = None) -> None:
        """Start live scanning on ``spec`` (or a custom ``opener`` returning a FrameSource)."""
        self.stop()
        self.spec = spec
        backend = self.settings.get("source/device_backend")
        if opener is None:
            def opener(spec=spec, backend=backend):
                if spec.startswith("device:"):
                    # "device:N:backend" (from the source menu) names its backend; plain "device:N" uses the setting
                    return sources.open_source(spec) if spec.count(":") >= 2 else sources.open_source(spec, backend=backend)
                return sources.open_source(spec)
        signals = WorkerSignals()
        cap = CaptureWorker(opener, signals, retry_open=spec.startswith("device:"))
        pol = RoiPolicy(user_box=self.settings.user_box() if self.settings.get("roi/mode") == "user" else None,
                        auto_every_s=self.settings.get("roi/auto_every_s"),
                        enabled=self.settings.get("roi/mode") != "full")
        sc = ScoringWorker(self.scorer_provider(), cap, signals, pol)
        if self.paused:
            sc.paused.set()
        self.pipeline = Pipeline(cap, sc, signals, spec)
        signals.frame_ready.connect(self._on_frame_ready)
        signals.started.connect(self._on_started)
        signals.signal_lost.connect(self._on_signal_lost)
        signals.device_missing.connect(self._on_device_missing)
        signals.signal_regained.connect(self._on_signal_regained)
        signals.health_changed.connect(self._on_health)
        signals.errored.connect(self._on_error)
        signals.roi_changed.connect(self._on_auto_roi)
        signals.ended.connect(self._on_ended)
        self._trend.clear()
        self.new_sweep()
        self.signal_lost = False
        self.source_state = "opening"
        self.banner.set_part("signal", None)
        self.overlay_text.setVisible(False)
        self.pipeline.start()
        self.status_changed.emit(f"opening {name or spec} …")

    def stop(self) -> None:
        if self.recorder is not None:
            self.toggle_record()
        if self.pipeline is not None:
            p = self.pipeline
            self.pipeline = None
            try:
                p.signals.frame_ready.disconnect()
            except (RuntimeError, TypeError):
                pass
            p.stop()

    def set_scorer(self, scorer) -> None:
        if self.pipeline is not None:
            self.pipeline.scoring.set_scorer(scorer)

    def set_paused(self, on: bool) -> None:
        """Pause live scoring (cine review in front): no frames are scored, nothing is captured."""
        self.paused = bool(on)
        if self.pipeline is not None:
            (self.pipeline.scoring.paused.set if on else self.pipeline.scoring.paused.clear)()

    # ------------------------------------------------------------------ worker signals
    def _on_started(self, name: str):
        cap = self.pipeline.capture if self.pipeline else None
        self._src_synthetic = bool(cap and cap.synthetic)
        self.source_state = "live"
        self.banner.set_part("synthetic", "SYNTHETIC DEMO — not patient data" if self._src_synthetic else None)
        self.status_changed.emit(f"source: {name}")
        self.source_started.emit(self.spec)

    def _on_auto_roi(self, t):
        if self.pipeline and self.pipeline.scoring.roi_policy.user_box is None:
            self._set_roi_item(t[:4])

    def _set_roi_item(self, box):
        x, y, w, h = box
        self._roi_updating = True
        self.roi_item.setPos((x, y), update=False, finish=False)
        self.roi_item.setSize((w, h), update=True, finish=False)
        self._roi_updating = False

    def _roi_dragged(self):
        if self._roi_updating or self.pipeline is None:
            return
        pos, size = self.roi_item.pos(), self.roi_item.size()
        self.set_user_roi((int(pos.x()), int(pos.y()), int(size.x()), int(size.y())))

    def set_user_roi(self, box) -> None:
        """The user's box wins over auto-detection (kept in settings)."""
        if self.pipeline:
            self.pipeline.scoring.roi_policy.user_box = box
        self.settings.set("roi/mode", "user")
        self.settings.set("roi/user_box", ",".join(str(int(v)) for v in box))
        self.message.emit(f"ROI set by hand: {box}")

    def auto_roi(self) -> None:
        self.settings.set("roi/mode", "auto")
        if self.pipeline:
            self.pipeline.scoring.roi_policy.user_box = None
            self.pipeline.scoring.roi_policy.enabled = True
            self.pipeline.scoring.redetect_roi()
        self.message.emit("ROI: automatic")

    # ------------------------------------------------------------------ drawing (GUI thread)
    def _on_frame_ready(self):
        p = self.pipeline
        if p is None:
            return
        p.capture.poke.clear()
        lf = p.capture.display_slot.take_nowait()
        res = p.scoring.result_slot.take_nowait()
        if self.frozen:  # everything stays as it was: image, heatmap, gauge, trend, panel
            return
        if lf is not None:
            self.last_frame = lf
        if res is not None:
            self._on_result(res)
        if lf is None:
            return
        img = lf.image
        resized = self.image_item.image is None or self.image_item.image.shape[:2] != img.shape[:2]
        self.image_item.set_frame(img)
        self.image_item.t_grab = lf.t_grab
        self._drawn_seq = lf.seq
        self.frames_drawn += 1
        if resized:
            self.fit_view()
        self._draw_heat()

    def fit_view(self) -> None:
        """Fit the image (not the stale heatmap/ROI items of a larger one) into the view."""
        img = self.image_item.image
        if img is None:
            return
        H, W = img.shape[:2]
        self.vb.setRange(xRange=(0, W), yRange=(0, H), padding=0)
        self.roi_item.setVisible(True)
        self._place_overlay()

    def _on_result(self, res):
        self.last_result = res
        self.banner.set_part("scoring", None)
        if self.signal_lost:
            return
        self.gauge.set_target(res.score)
        self.panel.set_result(res.result)
        self._trend.append((res.t_scored, res.score))
        self.exam.on_result(res, res.t_scored)
        flagged = res.result is not None and bool(res.result.ood)  # never offer a flagged frame as the best
        if not flagged and (self.best is None or res.score > self.best.score):
            self.best = res
            self._show_best()

    def _draw_heat(self):
        res = self.last_result
        if res is None or res.heat_patch is None or res.seq == self._heat_seq:
            return
        self._heat_seq = res.seq
        x, y, w, h = res.roi
        rgba = res.heat_rgb if res.heat_rgb is not None else heat.overlay_rgba(res.frame.image, res.heat_patch, res.roi)
        self.heat_item.setImage(rgba, autoLevels=False, levels=None, lut=None)
        self.heat_item.setRect(QRectF(x, y, w, h))
        self.heat_item.setVisible(self.heat_check.isChecked())

    def _place_overlay(self):
        img = self.image_item.image
        if img is None:
            return
        H, W = img.shape[:2]
        self.overlay_text.setPos(W / 2, H / 2)
        self.freeze_text.setPos(8, 8)
        self.rec_text.setPos(W - 8, 8)

    def _tick(self):
        now = clock()
        dt = now - self._last_t
        if dt > 0.05:
            self.gui_stalls += 1
        self._last_t = now
        if self.frozen:
            return
        self.gauge.step(min(dt, 0.2))
        if self._trend:
            while self._trend and self._trend[0][0] < now - 30:
                self._trend.popleft()
            if self._trend and self._trend_n % 3 == 0:
                a = np.fromiter((t - now for t, _ in self._trend), np.float64, len(self._trend))
                b = np.fromiter((s for _, s in self._trend), np.float64, len(self._trend))
                self.trend_curve.setData(a, b)
            self._trend_n += 1

    def _update_status(self):
        p = self.pipeline
        if p is None:
            self.status_changed.emit("stopped")
            return
        lat = list(self.image_item.latencies)[-120:]
        name = p.capture.source_name
        parts = [f"source: {Path(name).name if ('/' in name or chr(92) in name) else name}"
                 + (" (synthetic)" if p.capture.synthetic else ""),
                 f"backend: {getattr(p.scoring.scorer, 'backend', '?')}",
                 f"{p.capture.fps_meter.rate():.0f} captured/s, {p.scoring.fps_meter.rate():.0f} scored/s",
                 f"grab→drawn p95 {np.percentile(lat, 95):.0f} ms" if lat else "grab→drawn —",
                 f"dropped {p.dropped}"]
        if self.recorder is not None:
            parts.append(f"REC {self.recorder.frames}")
        if self.paused:
            parts.insert(0, "live scoring paused (cine review)")
        if self.frozen:
            parts.insert(0, "FROZEN")
        if self.source_state in ("lost", "missing", "failed"):
            parts.insert(0, {"lost": "SIGNAL LOST", "missing": "DEVICE NOT FOUND", "failed": "NO SOURCE"}[self.source_state])
        self.status_changed.emit("  |  ".join(parts))

    # ------------------------------------------------------------------ actions
    def toggle_freeze(self) -> bool:
        """Freeze image, heatmap, gauge, trend and panel together (a clear FROZEN state)."""
        self.frozen = not self.frozen
        self.frozen_result = self.last_result if self.frozen else None
        self.gauge.frozen = self.frozen
        self.gauge.update()
        self.panel.set_frozen(self.frozen)
        self.freeze_text.setVisible(self.frozen)
        self._place_overlay()
        return self.frozen

    def set_heatmap_visible(self, on: bool) -> None:
        self.heat_item.setVisible(bool(on))
        self.legend.setVisible(bool(on))
        if self.heat_check.isChecked() != bool(on):
            self.heat_check.setChecked(bool(on))
        self.settings.set("overlay/show", bool(on))

    def toggle_heatmap(self) -> bool:
        self.set_heatmap_visible(not self.heat_item.isVisible())
        return self.heat_item.isVisible()

    def _opacity_changed(self, v: int):
        self.heat_item.setOpacity(v / 100.0)
        self.settings.set("overlay/opacity", v / 100.0)

    def new_sweep(self) -> None:
        self.best = None
        self.best_label.setPixmap(QPixmap())
        self.best_label.setText("best of\nthis sweep")
        self.best_caption.setText("")

    def _show_best(self):
        b = self.best
        x, y, w, h = b.roi
        qi = to_qimage(b.frame.image[y : y + h, x : x + w])
        pm = QPixmap.fromImage(qi).scaled(self.best_label.width() - 4, self.best_label.height() - 4,
                                          Qt.KeepAspectRatio, Qt.FastTransformation)
        self.best_label.setPixmap(pm)
        col = band_color(b.score, self.gauge.good, self.gauge.acceptable).name()
        self.best_caption.setText(f"<b style='color:{col}'>best {b.score:.0f}</b> at {time.strftime('%H:%M:%S')}")

    def closeEvent(self, e):
        self.stop()
        super().closeEvent(e)
