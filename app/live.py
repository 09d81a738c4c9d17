"""The live scanning view: image + heatmap + ROI box, gauge, 30 s trend, best frame of the sweep.

The GUI thread only draws. Frames and results come from the worker threads' 1-slot mailboxes
(app/workers.py); ``frame_ready`` pokes are coalesced so events never pile up.
"""
from __future__ import annotations

import collections
import time
from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy,
                               QSlider, QSplitter, QVBoxLayout, QWidget)

from engine import sources
from .recorder import Recorder, save_png_async, stamp
from .settings import Settings
from .widgets import Banner, Gauge, band_color, blend_heat, to_qimage
from .workers import CaptureWorker, Pipeline, RoiPolicy, ScoringWorker, WorkerSignals, clock

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

COLORMAPS = ["viridis", "inferno", "plasma", "magma", "turbo", "CET-D1"]


class FrameItem(pg.GraphicsObject):
    """The live frame, drawn straight from a BGRA buffer as a Format_RGB32 QImage.

    pyqtgraph's ImageItem rescales levels and hands Qt an RGB888 image that must be converted on
    every paint (≈ 8 ms a 800×600 frame on the bench PC); RGB32 is Qt's native raster format, so a
    paint here is one scaled blit. Records grab→drawn latency when it actually paints a frame.
    """

    def __init__(self):
        super().__init__()
        self.image: np.ndarray | None = None  # BGRA uint8 (what is on screen)
        self._qimage: QImage | None = None
        self._w = self._h = 0
        self.t_grab: float | None = None
        self.latencies: collections.deque = collections.deque(maxlen=2000)

    def set_frame(self, img: np.ndarray) -> None:
        if img.ndim == 2:
            bgra = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
        elif img.shape[2] == 3:
            bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
        else:
            bgra = np.ascontiguousarray(img)
        h, w = bgra.shape[:2]
        if (w, h) != (self._w, self._h):
            self.prepareGeometryChange()
            self._w, self._h = w, h
        self.image = bgra  # keeps the buffer alive for the QImage below
        self._qimage = QImage(bgra.data, w, h, bgra.strides[0], QImage.Format_RGB32)
        self.update()

    def boundingRect(self):
        return QRectF(0, 0, self._w, self._h)

    def paint(self, p, *args):
        if self._qimage is None:
            return
        p.drawImage(QRectF(0, 0, self._w, self._h), self._qimage)
        if self.t_grab is not None:
            self.latencies.append((clock() - self.t_grab) * 1000.0)
            self.t_grab = None


class LiveView(QWidget):
    status_changed = Signal(str)
    message = Signal(str)  # transient status-bar messages (saved files ...)

    def __init__(self, settings: Settings, scorer_provider, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.scorer_provider = scorer_provider  # () -> Scorer (shared, created by the main window)
        self.pipeline: Pipeline | None = None
        self.spec = ""
        self.frozen = False
        self.recorder: Recorder | None = None
        self.last_frame = None
        self.last_result = None
        self._drawn_seq = -1
        self._heat_seq = -1
        self._trend = collections.deque()
        self.best = None  # LiveResult of the best frame in the current sweep
        self._best_saved_score = -1.0
        self._last_autosave_t = 0.0
        self.saved_files: list[Path] = []
        self.frames_drawn = 0
        self.signal_lost = False
        self._src_synthetic = False
        self._last_t = clock()
        self.gui_stalls = 0
        self._build()
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(33)
        self._tick_timer.timeout.connect(self._tick)
        self._tick_timer.start()
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(500)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start()

    # ------------------------------------------------------------------ layout
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
        self.overlay_text = pg.TextItem("", color=(255, 255, 255), anchor=(0.5, 0.5), fill=pg.mkBrush(180, 30, 30, 200))
        self.overlay_text.setZValue(20)
        self.overlay_text.setVisible(False)
        self.vb.addItem(self.overlay_text)
        f = QFont()
        f.setPointSize(16)
        f.setBold(True)
        self.overlay_text.setFont(f)
        self.freeze_text = pg.TextItem("FROZEN", color=(255, 255, 255), anchor=(0, 0), fill=pg.mkBrush(30, 90, 200, 200))
        self.freeze_text.setZValue(20)
        self.freeze_text.setVisible(False)
        self.vb.addItem(self.freeze_text)
        self.rec_text = pg.TextItem("● REC", color=(255, 60, 60), anchor=(1, 0))
        self.rec_text.setZValue(20)
        self.rec_text.setVisible(False)
        self.vb.addItem(self.rec_text)

        # right-hand panel
        self.gauge = Gauge()
        self.gauge.smoothing_s = self.settings.get("gauge/smoothing_s")
        self.gauge.set_thresholds(self.settings.get("thresholds/good"), self.settings.get("thresholds/acceptable"))
        self.trend = pg.PlotWidget()
        self.trend.setMinimumHeight(130)
        self.trend.setYRange(0, 100, padding=0)
        self.trend.setXRange(-30, 0, padding=0)
        self.trend.setMouseEnabled(False, False)
        self.trend.hideButtons()
        self.trend.setMenuEnabled(False)
        self.trend.setLabel("bottom", "seconds")
        self.trend.setTitle("Quality, last 30 s", size="9pt")
        good, acc = self.settings.get("thresholds/good"), self.settings.get("thresholds/acceptable")
        self._bands = []
        for lo, hi, col in ((0, acc, (210, 60, 50, 40)), (acc, good, (230, 170, 30, 40)), (good, 100, (46, 160, 67, 40))):
            r = pg.LinearRegionItem((lo, hi), orientation="horizontal", movable=False, brush=pg.mkBrush(*col), pen=pg.mkPen(None))
            self.trend.addItem(r)
            self._bands.append(r)
        self.trend_curve = self.trend.plot([], [], pen=pg.mkPen((240, 240, 240), width=2))

        self.best_label = QLabel("Best frame of this sweep\n(none yet)")
        self.best_label.setAlignment(Qt.AlignCenter)
        self.best_label.setMinimumSize(200, 150)
        self.best_label.setStyleSheet("QLabel { background: #202024; color: #ddd; border: 1px solid #444; }")
        self.best_caption = QLabel("")
        self.best_caption.setAlignment(Qt.AlignCenter)
        self.save_best_btn = QPushButton("Save best")
        self.save_best_btn.setFocusPolicy(Qt.NoFocus)
        self.save_best_btn.clicked.connect(self.save_best)
        self.new_sweep_btn = QPushButton("New sweep (N)")
        self.new_sweep_btn.setFocusPolicy(Qt.NoFocus)
        self.new_sweep_btn.clicked.connect(self.new_sweep)

        self.heat_check = QCheckBox("Heatmap (H)")
        self.heat_check.setFocusPolicy(Qt.NoFocus)
        self.heat_check.setChecked(self.settings.get("overlay/show"))
        self.heat_check.toggled.connect(self.set_heatmap_visible)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setFocusPolicy(Qt.NoFocus)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(self.settings.get("overlay/opacity") * 100))
        self.opacity.valueChanged.connect(self._opacity_changed)
        self.cmap = QComboBox()
        self.cmap.setFocusPolicy(Qt.NoFocus)
        self.cmap.addItems(COLORMAPS)
        cm = self.settings.get("overlay/colormap")
        self.cmap.setCurrentText(cm if cm in COLORMAPS else "viridis")
        self.cmap.currentTextChanged.connect(self._cmap_changed)
        self._cmap_changed(self.cmap.currentText())
        self._opacity_changed(self.opacity.value())
        self.set_heatmap_visible(self.heat_check.isChecked())

        ov = QGroupBox("Overlay")
        ol = QVBoxLayout(ov)
        row = QHBoxLayout()
        row.addWidget(self.heat_check)
        row.addWidget(self.cmap)
        ol.addLayout(row)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("Opacity"))
        row2.addWidget(self.opacity)
        ol.addLayout(row2)

        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(4, 0, 0, 0)
        sl.addWidget(self.gauge, 3)
        sl.addWidget(self.trend, 2)
        sl.addWidget(self.best_label, 2)
        sl.addWidget(self.best_caption)
        br = QHBoxLayout()
        br.addWidget(self.save_best_btn)
        br.addWidget(self.new_sweep_btn)
        sl.addLayout(br)
        sl.addWidget(ov)
        side.setMinimumWidth(280)
        side.setMaximumWidth(380)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
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
        sc.heat_lut = self._lut
        self.pipeline = Pipeline(cap, sc, signals, spec)
        signals.frame_ready.connect(self._on_frame_ready)
        signals.started.connect(self._on_started)
        signals.signal_lost.connect(self._on_signal_lost)
        signals.signal_regained.connect(self._on_signal_regained)
        signals.health_changed.connect(self._on_health)
        signals.errored.connect(self._on_error)
        signals.roi_changed.connect(self._on_auto_roi)
        signals.ended.connect(self._on_ended)
        self._trend.clear()
        self.new_sweep()
        self.signal_lost = False
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

    # ------------------------------------------------------------------ worker signals
    def _on_started(self, name: str):
        cap = self.pipeline.capture if self.pipeline else None
        self._src_synthetic = bool(cap and cap.synthetic)
        self.banner.set_part("synthetic", "SYNTHETIC DEMO — not patient data" if self._src_synthetic else None)
        self.status_changed.emit(f"source: {name}")

    def _on_signal_lost(self, why: str):
        self.signal_lost = True
        self.banner.set_part("signal", "SIGNAL LOST — check the scanner's video cable; retrying every second")
        self.overlay_text.setText("SIGNAL LOST — retrying…")
        self._place_overlay()
        self.overlay_text.setVisible(True)
        self.gauge.stale = True
        self.gauge.update()

    def _on_health(self, state: str, message: str):
        """Stale frames ("no new frames") or a card's no-signal frames: grey the gauge and say so."""
        bad = state != "ok"
        self.banner.set_part("health", message.upper() if bad else None)
        if not self.signal_lost:
            self.gauge.stale = bad
            self.gauge.update()

    def _on_signal_regained(self):
        self.signal_lost = False
        self.banner.set_part("signal", None)
        self.overlay_text.setVisible(False)
        self.gauge.stale = False
        self.gauge.update()
        self.message.emit("signal back")

    def _on_error(self, text: str):
        self.message.emit(text.splitlines()[0] if text else "error")
        self.last_error = text
        if text.startswith("scoring failed") and self.pipeline is not None and self.pipeline.scoring.scored == 0:
            # a model that loads but fails on every frame: say so instead of an empty gauge
            self.banner.set_part("scoring", f"SCORING FAILS ON EVERY FRAME — {text.splitlines()[0]}")
        if self.pipeline is not None and self.pipeline.capture.captured == 0 and text.startswith("cannot open"):
            self.banner.set_part("signal", f"NO SOURCE — {text.splitlines()[0]} (File ▸ Live source)")

    def _on_ended(self):
        self.message.emit("source ended")

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
        box = (int(pos.x()), int(pos.y()), int(size.x()), int(size.y()))
        self.set_user_roi(box)

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
        if lf is not None:
            self.last_frame = lf
        res = p.scoring.result_slot.take_nowait()
        if res is not None:
            self._on_result(res)
        if self.frozen or lf is None:
            return
        img = lf.image
        first = self.image_item.image is None or self.image_item.image.shape[:2] != img.shape[:2]
        self.image_item.set_frame(img)
        self.image_item.t_grab = lf.t_grab
        self._drawn_seq = lf.seq
        self.frames_drawn += 1
        if first:
            self.vb.autoRange(padding=0)
            self._place_overlay()
        self._draw_heat()

    def _on_result(self, res):
        self.last_result = res
        self.banner.set_part("scoring", None)
        if self.signal_lost:
            return
        self.gauge.set_target(res.score)
        self._trend.append((res.t_scored, res.score))
        if self.best is None or res.score > self.best.score:
            self.best = res
            self._show_best()
            self._maybe_autosave()

    def _draw_heat(self):
        res = self.last_result
        if res is None or res.heat_patch is None or res.seq == self._heat_seq:
            return
        self._heat_seq = res.seq
        x, y, w, h = res.roi
        if res.heat_rgb is not None:  # colourised off the GUI thread
            self.heat_item.setImage(res.heat_rgb, autoLevels=False, levels=None, lut=None)
        else:
            self.heat_item.setImage(res.heat_patch, autoLevels=False, levels=(0, 100), lut=self._lut)
        self.heat_item.setRect(QRectF(x, y, w, h))

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
        self.gauge.step(min(dt, 0.2))
        if self._trend:
            while self._trend and self._trend[0][0] < now - 30:
                self._trend.popleft()
            if self._trend and getattr(self, "_trend_n", 0) % 3 == 0:
                a = np.fromiter((t - now for t, _ in self._trend), np.float64, len(self._trend))
                b = np.fromiter((s for _, s in self._trend), np.float64, len(self._trend))
                self.trend_curve.setData(a, b)
            self._trend_n = getattr(self, "_trend_n", 0) + 1

    def _update_status(self):
        p = self.pipeline
        if p is None:
            self.status_changed.emit("stopped")
            return
        lat = list(self.image_item.latencies)[-120:]
        l50 = np.percentile(lat, 50) if lat else float("nan")
        l95 = np.percentile(lat, 95) if lat else float("nan")
        sc = p.scoring.scorer
        parts = [
            f"source: {Path(p.capture.source_name).name if '/' in p.capture.source_name or chr(92) in p.capture.source_name else p.capture.source_name}"
            + (" (synthetic)" if p.capture.synthetic else ""),
            f"backend: {getattr(sc, 'backend', '?')}",
            f"captured {p.capture.fps_meter.rate():.1f}/s",
            f"scored {p.scoring.fps_meter.rate():.1f}/s",
            f"grab→drawn p50 {l50:.0f} ms, p95 {l95:.0f} ms" if lat else "grab→drawn —",
            f"dropped {p.dropped}",
        ]
        if self.recorder is not None:
            parts.append(f"REC {self.recorder.frames} frames")
        if self.signal_lost:
            parts.insert(0, "SIGNAL LOST")
        self.status_changed.emit("  |  ".join(parts))

    # ------------------------------------------------------------------ actions
    def toggle_freeze(self) -> bool:
        self.frozen = not self.frozen
        self.freeze_text.setVisible(self.frozen)
        self._place_overlay()
        return self.frozen

    def set_heatmap_visible(self, on: bool) -> None:
        self.heat_item.setVisible(bool(on))
        if self.heat_check.isChecked() != bool(on):
            self.heat_check.setChecked(bool(on))
        self.settings.set("overlay/show", bool(on))

    def toggle_heatmap(self) -> bool:
        self.set_heatmap_visible(not self.heat_item.isVisible())
        return self.heat_item.isVisible()

    def _opacity_changed(self, v: int):
        self.heat_item.setOpacity(v / 100.0)
        self.settings.set("overlay/opacity", v / 100.0)

    def _cmap_changed(self, name: str):
        try:
            cmap = pg.colormap.get(name)
        except Exception:  # noqa: BLE001
            cmap = pg.colormap.get("viridis")
        self._lut = np.ascontiguousarray(cmap.getLookupTable(0.0, 1.0, 256, alpha=False)[:, :3]).astype(np.uint8)
        if self.pipeline is not None:
            self.pipeline.scoring.heat_lut = self._lut
        self._heat_seq = -1
        self.settings.set("overlay/colormap", name)

    def _export_images(self, res, prefix: str) -> list[Path]:
        """Save the ROI crop (no burned-in text) with and without heatmap; returns the paths.

        The crop and blend run in the saver thread, not here (the GUI thread only draws)."""
        if res is None or res.frame is None:
            return []
        out = self.settings.output_dir()
        name = f"{prefix}_{stamp()}_q{res.score:.0f}"
        paths = [out / f"{name}.png", out / f"{name}_heatmap.png"]
        cmap, opacity = self.cmap.currentText(), max(0.3, self.opacity.value() / 100)
        img, roi, patch = res.frame.image, res.roi, res.heat_patch
        x, y, w, h = roi

        def crop():
            return img[y : y + h, x : x + w]

        def heat():
            return blend_heat(img, patch, roi, cmap, opacity)[y : y + h, x : x + w]

        save_png_async(paths[0], crop)
        save_png_async(paths[1], heat)
        self.saved_files += paths
        return paths

    def snapshot(self) -> list[Path]:
        """Save the frame on screen (with its score) as PNGs."""
        res = self.last_result
        if self.frozen and res is not None and self.last_frame is not None and res.seq != self._drawn_seq:
            pass  # the last score belongs to a frame at most one frame older than the one on screen
        paths = self._export_images(res, "snapshot")
        self.message.emit(f"snapshot saved: {paths[0].name}" if paths else "nothing to save yet")
        return paths

    def save_best(self) -> list[Path]:
        paths = self._export_images(self.best, "best")
        if paths:
            self._best_saved_score = self.best.score
        self.message.emit(f"best frame saved: {paths[0].name}" if paths else "no best frame yet")
        return paths

    def _maybe_autosave(self):
        if not self.settings.get("best/autosave") or self.best is None:
            return
        thr = self.settings.get("best/autosave_threshold")
        now = time.monotonic()
        if self.best.score >= thr and self.best.score > self._best_saved_score + 1 and now - self._last_autosave_t > 2.0:
            self._last_autosave_t = now
            self.save_best()

    def new_sweep(self) -> None:
        self.best = None
        self._best_saved_score = -1.0
        self.best_label.setPixmap(QPixmap())
        self.best_label.setText("Best frame of this sweep\n(none yet)")
        self.best_caption.setText("")

    def _show_best(self):
        b = self.best
        x, y, w, h = b.roi
        crop = b.frame.image[y : y + h, x : x + w]
        qi = to_qimage(crop)
        pm = QPixmap.fromImage(qi).scaled(self.best_label.width() - 4, self.best_label.height() - 4,
                                          Qt.KeepAspectRatio, Qt.FastTransformation)
        self.best_label.setPixmap(pm)
        col = band_color(b.score, self.gauge.good, self.gauge.acceptable).name()
        self.best_caption.setText(f"<b style='color:{col}'>best {b.score:.0f}</b> at frame {b.index} "
                                  f"({time.strftime('%H:%M:%S')})")

    def toggle_record(self) -> bool:
        if self.recorder is None:
            if self.pipeline is None:
                return False
            fps = self.pipeline.capture.fps or self.pipeline.capture.fps_meter.rate() or 30.0
            self.recorder = Recorder(self.settings.output_dir(), fps=fps)
            self.pipeline.capture.recorder = self.recorder
            self.pipeline.scoring.sink = self.recorder.add_score
            self.rec_text.setVisible(True)
            self._place_overlay()
            self.message.emit(f"recording to {self.recorder.video_path.name}")
            return True
        rec = self.recorder
        self.recorder = None
        if self.pipeline is not None:
            self.pipeline.capture.recorder = None
            self.pipeline.scoring.sink = None
        video, csv_path = rec.stop()
        self.rec_text.setVisible(False)
        self.last_recording = (video, csv_path)
        self.message.emit(f"recording saved: {video.name if video else '(no frames)'} + {csv_path.name}")
        return False

    def counts(self) -> dict:
        p = self.pipeline
        if p is None:
            return {"captured": 0, "scored": 0, "dropped": 0, "drawn": self.frames_drawn}
        lat = list(self.image_item.latencies)
        return {
            "captured": p.capture.captured,
            "scored": p.scoring.scored,
            "dropped": p.dropped,
            "drawn": self.frames_drawn,
            "latency_p50_ms": float(np.percentile(lat, 50)) if lat else None,
            "latency_p95_ms": float(np.percentile(lat, 95)) if lat else None,
        }

    def closeEvent(self, e):
        self.stop()
        super().closeEvent(e)
