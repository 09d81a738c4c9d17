"""Cine review: open a video or DICOM cine, score every frame in the background, review and export.

Exports carry no patient data: only the ROI (the imaging region, not the burned-in text around it) is
written, DICOM tags are never copied, and the report names the cine by a short hash, not its path.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QProgressBar, QPushButton, QSpinBox, QSplitter, QStyle, QToolButton, QVBoxLayout,
                               QWidget)

from engine import sources
from . import dialogs, heat
from .cine_best import best_passes
from .cine_export import CineExports
from .cine_job import CACHE_LIMIT_BYTES, CineJob, looks_synthetic  # noqa: F401 - re-exported
from .plane_panel import PlanePanel
from .settings import Settings
from .widgets import Banner, QualityTimeline, band_color, band_label, to_qimage

class CineReview(CineExports, QWidget):
    message = Signal(str)
    opened = Signal(str)
    scoring_done = Signal(bool)

    def __init__(self, settings: Settings, scorer_provider, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.scorer_provider = scorer_provider
        self.path: str | None = None
        self.frames: list = []
        self.scores = np.zeros(0, np.float32)
        self.heatmaps = None
        self.results: list = []  # engine.result.FrameResult per frame (None until scored)
        self.roi = None
        self.roi_kind = None
        self.n = 0
        self.current = 0
        self.synthetic = False
        self.fps = 25.0
        self._thread: QThread | None = None
        self._job: CineJob | None = None
        self.done = False
        self._display_src = None
        self._build()
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._play_step)

    def _build(self):
        self.banner = Banner()
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground("k")
        self.vb = self.view.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.vb.setMouseEnabled(False, False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.vb.addItem(self.image_item)
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item.setOpacity(0.6)
        self.heat_item.setZValue(5)
        self.vb.addItem(self.heat_item)
        self.roi_box = pg.ROI([0, 0], [1, 1], pen=pg.mkPen((80, 200, 255), width=2), movable=False, resizable=False,
                              rotatable=False)
        self.roi_box.setVisible(False)
        self.vb.addItem(self.roi_box)
        self.placeholder = QLabel("Open a video or DICOM cine (File ▸ Open cine…, Ctrl+O) or drop it here.")
        self.placeholder.setAlignment(Qt.AlignCenter)

        self.timeline = QualityTimeline()
        self.timeline.seek.connect(self.seek)
        self.progress = QProgressBar()
        self.progress.setFormat("scoring %v / %m frames")
        self.progress.setVisible(False)
        self.frame_label = QLabel("")
        self.heat_check = QCheckBox("Heatmap")
        self.heat_check.setChecked(True)
        self.heat_check.toggled.connect(lambda on: (self.heat_item.setVisible(on), self.legend.setVisible(on)))
        self.legend = heat.HeatLegend()
        self.panel = PlanePanel(compact=True)

        st = self.style()

        def btn(icon, slot, tip):
            b = QToolButton()
            b.setIcon(st.standardIcon(icon))
            b.setToolTip(tip)
            b.clicked.connect(slot)
            return b

        self.first_btn = btn(QStyle.SP_MediaSkipBackward, lambda: self.seek(0), "first frame (Home)")
        self.prev_btn = btn(QStyle.SP_MediaSeekBackward, lambda: self.step(-1), "previous frame (←)")
        self.play_btn = btn(QStyle.SP_MediaPlay, self.toggle_play, "play / pause (P)")
        self.next_btn = btn(QStyle.SP_MediaSeekForward, lambda: self.step(1), "next frame (→)")
        self.last_btn = btn(QStyle.SP_MediaSkipForward, lambda: self.seek(self.n - 1), "last frame (End)")
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setChecked(True)
        ctl = QHBoxLayout()
        for w in (self.first_btn, self.prev_btn, self.play_btn, self.next_btn, self.last_btn, self.loop_check, self.heat_check):
            ctl.addWidget(w)
        ctl.addWidget(self.frame_label, 1)

        self.best_n = QSpinBox()
        self.best_n.setRange(1, 50)
        self.best_n.setValue(6)
        self.best_n.valueChanged.connect(self._refresh_best)
        self.best_list = QListWidget()
        self.best_list.setIconSize(QSize(96, 72))
        self.best_list.setSelectionMode(QListWidget.ExtendedSelection)
        self.best_list.itemClicked.connect(lambda it: self.seek(it.data(Qt.UserRole)))
        # the review keys work whichever child has focus (the best-frames list would eat Home/End)
        for key, fn in ((Qt.Key_Home, lambda: self.seek(0)), (Qt.Key_End, lambda: self.seek(self.n - 1)),
                        (Qt.Key_Left, lambda: self.step(-1)), (Qt.Key_Right, lambda: self.step(1)),
                        (Qt.Key_P, self.toggle_play), (Qt.Key_L, self.loop_check.toggle)):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.WidgetWithChildrenShortcut)
            sc.activated.connect(fn)
        self.export_csv_btn = QPushButton("Export CSV…")
        self.export_csv_btn.clicked.connect(lambda: self.export_csv())
        self.export_png_btn = QPushButton("Export PNGs of chosen frames…")
        self.export_png_btn.clicked.connect(lambda: self.export_pngs())
        self.report_btn = QPushButton("Report (PNG + PDF)…")
        self.report_btn.clicked.connect(lambda: self.export_report())
        for b in (self.export_csv_btn, self.export_png_btn, self.report_btn):
            b.setEnabled(False)

        side = QWidget()
        sl = QVBoxLayout(side)
        sl.addWidget(self.panel)
        row = QHBoxLayout()
        row.addWidget(QLabel("Best frames (one per pass):"))
        row.addWidget(self.best_n)
        sl.addLayout(row)
        sl.addWidget(self.best_list, 1)
        sl.addWidget(self.export_csv_btn)
        sl.addWidget(self.export_png_btn)
        sl.addWidget(self.report_btn)
        side.setMinimumWidth(220)
        side.setMaximumWidth(340)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.placeholder)
        ll.addWidget(self.view, 1)
        ll.addWidget(self.timeline)
        ll.addWidget(self.legend)
        ll.addWidget(self.progress)
        ll.addLayout(ctl)
        self.view.setVisible(False)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.banner)
        lay.addWidget(split, 1)

    # ------------------------------------------------------------------ open / score
    def open(self, path: str) -> bool:
        """Open a cine; a bad file gives a dialog (and returns False), never a crash."""
        path = str(path)
        try:
            src = sources.open_source(path)
            first = src.read()
            if first is None:
                raise sources.SourceError("it holds no frames")
            info = (getattr(src, "frame_count", None), getattr(src, "fps", None), bool(getattr(src, "synthetic", False)))
            src.close()
        except Exception as e:  # noqa: BLE001
            why = str(e).splitlines()[0] if isinstance(e, sources.SourceError) and str(e) else "it is not a readable video or DICOM cine"
            dialogs.problem(self, "Cannot open cine", f"{Path(path).name} cannot be opened: {why}.", e,
                            icon=dialogs.QMessageBox.Critical)
            self.message.emit(f"cannot open {Path(path).name}")
            return False
        self.stop()
        self.path = path
        self.frames = []
        n_est, fps, self.synthetic = info
        self.synthetic = self.synthetic or looks_synthetic(path)
        self.fps = float(fps or 25.0)
        self.n = int(n_est or 0)
        self.scores = np.full(self.n, np.nan, np.float32)
        self.heatmaps = None
        self.results = [None] * self.n
        self.roi = None
        self.current = 0
        self.done = False
        self.timeline.set_length(self.n)
        self.best_list.clear()
        self.placeholder.setVisible(False)
        self.view.setVisible(True)
        self.banner.set_part("synthetic", "SYNTHETIC cine — not patient data" if self.synthetic else None)
        self.heat_item.setVisible(False)
        self.roi_box.setVisible(False)
        self._show_image(first.image)
        self.fit_view(first.image.shape)
        self.progress.setRange(0, max(1, self.n))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self._job = CineJob(path, self.scorer_provider(), self.frames)
        self._thread = QThread(self)
        self._job.moveToThread(self._thread)
        self._thread.started.connect(self._job.run)
        self._job.progress.connect(self._on_progress)
        self._job.batch.connect(self._on_batch)
        self._job.roi_found.connect(self._on_roi)
        self._job.finished.connect(self._on_finished)
        self._job.finished.connect(self._thread.quit)
        self._thread.start()
        self.opened.emit(path)
        self.message.emit(f"scoring {Path(path).name} …")
        return True

    def stop(self):
        self.play_timer.stop()
        if self._job is not None:
            self._job.cancel()
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait(5000)
        self._job = None
        self._thread = None

    def _ensure_len(self, n):
        if n > len(self.scores):
            s = np.full(n, np.nan, np.float32)
            s[: len(self.scores)] = self.scores
            self.scores = s
            v = self.timeline.valid
            sc = self.timeline.scores
            pl = self.timeline.planes
            self.timeline.set_length(n)
            self.timeline.scores[: len(sc)] = sc
            self.timeline.valid[: len(v)] = v
            self.timeline.planes[: len(pl)] = pl
            self.results += [None] * (n - len(self.results))
            self.n = n

    def _on_batch(self, start, res):
        scores = np.asarray(res.scores, np.float32)
        heat = np.asarray(res.heatmaps, np.float32)
        self._ensure_len(start + len(scores))
        for k in range(len(scores)):
            fr = res[k]
            self.results[start + k] = fr
            self.timeline.planes[start + k] = fr.plane
        self.scores[start : start + len(scores)] = scores
        if self.heatmaps is None or len(self.heatmaps) < self.n:
            hm = np.zeros((self.n,) + heat.shape[1:], np.float32)
            if self.heatmaps is not None:
                hm[: len(self.heatmaps)] = self.heatmaps
            self.heatmaps = hm
        self.heatmaps[start : start + len(scores)] = heat
        self.timeline.set_scores(start, scores)
        if start <= self.current < start + len(scores):
            self.seek(self.current)

    def _on_progress(self, done, total):
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _on_roi(self, t):
        self.roi = tuple(t[:4])
        self.roi_kind = t[4]
        x, y, w, h = self.roi
        self.roi_box.setPos((x, y))
        self.roi_box.setSize((w, h))
        self.roi_box.setVisible(True)

    def _on_finished(self, ok, msg):
        if ok:
            n = len(self.frames)
            self.n = n
            self.scores = self.scores[:n]
            self.results = self.results[:n]
            if self.heatmaps is not None:
                self.heatmaps = self.heatmaps[:n]
            if len(self.timeline.scores) != n:
                sc, v, pl = self.timeline.scores[:n].copy(), self.timeline.valid[:n].copy(), self.timeline.planes[:n]
                self.timeline.set_length(n)
                self.timeline.scores[:], self.timeline.valid[:], self.timeline.planes[:] = sc, v, pl
            self.done = True
            self.progress.setVisible(False)
            self._refresh_best()
            for b in (self.export_csv_btn, self.export_png_btn, self.report_btn):
                b.setEnabled(True)
            self.seek(self.current)
        elif msg != "cancelled":
            self.progress.setVisible(False)
            dialogs.problem(self, "Cine review", msg.split(": ")[0] + " — the frames scored so far stay on screen.", msg)
        self.message.emit(msg)
        self.scoring_done.emit(ok)

    # ------------------------------------------------------------------ navigation
    def frame(self, i: int):
        if 0 <= i < len(self.frames) and self.frames[i] is not None:
            return self.frames[i]
        if self.path and 0 <= i < self.n:
            try:
                if self._display_src is None:
                    self._display_src = sources.open_source(self.path)
                self._display_src.seek(i)
                f = self._display_src.read()
                return f.image if f is not None else None
            except Exception:  # noqa: BLE001
                return None
        return None

    def result_at(self, i: int):
        return self.results[i] if 0 <= i < len(self.results) else None

    def loss_patch(self, i: int, shape):
        """(points-lost patch over the ROI, roi) of frame i (app/heat.py)."""
        from engine.preprocess import heatmap_to_frame

        return heatmap_to_frame(heat.loss_map(self.results[i]), self.roi, shape, self.scorer_provider().input_size)

    def seek(self, i: int) -> None:
        if self.n <= 0:
            return
        i = int(np.clip(i, 0, self.n - 1))
        self.current = i
        self.timeline.set_current(i)
        img = self.frame(i)
        if img is not None:
            self._show_image(img)
        fr = self.result_at(i)
        if fr is not None and self.roi is not None and img is not None:
            patch, roi = self.loss_patch(i, img.shape)
            self.heat_item.setImage(heat.overlay_rgba(img, patch, roi), autoLevels=False, levels=None, lut=None)
            self.heat_item.setRect(QRectF(*roi))
            self.heat_item.setVisible(self.heat_check.isChecked())
        else:
            self.heat_item.setVisible(False)
        self.panel.set_result(fr)
        stxt = f"score {fr.score:.0f} ({band_label(fr.score)})" if fr is not None else "not scored yet"
        self.frame_label.setText(f"frame {i} of 0–{self.n - 1}   {i / self.fps:.2f} s   {stxt}")

    def fit_view(self, shape) -> None:
        """Fit the image (not the items of a larger previous cine) into the view."""
        self.vb.setRange(xRange=(0, shape[1]), yRange=(0, shape[0]), padding=0)

    def _show_image(self, img):
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        self.image_item.setImage(img, autoLevels=False, levels=(0, 255))

    def step(self, d: int):
        if self.n:
            j = self.current + d
            if j >= self.n:
                j = 0 if self.loop_check.isChecked() else self.n - 1
            self.seek(j % self.n if j < 0 else j)

    def toggle_play(self):
        if self.play_timer.isActive():
            self.play_timer.stop()
            self.play_btn.setIcon(self.style().standardIcon(QStyle.SP_MediaPlay))
        elif self.n:
            self.play_timer.start(int(1000 / max(1.0, self.fps)))
            self.play_btn.setIcon(self.style().standardIcon(QStyle.SP_MediaPause))

    def _play_step(self):
        if self.current >= self.n - 1 and not self.loop_check.isChecked():
            self.toggle_play()
            return
        self.step(1)

    # ------------------------------------------------------------------ best frames
    def best_indices(self, k: int | None = None, prominence: float = 10.0) -> list[int]:
        """The best frame of each pass, best first (:func:`app.cine_best.best_passes`)."""
        return best_passes(self.scores, self.results, k or self.best_n.value(), prominence)

    def _refresh_best(self):
        self.best_list.clear()
        self.timeline.marks = self.best_indices()
        self.timeline.update()
        for i in self.timeline.marks:
            img = self.frame(i)
            fr = self.result_at(i)
            pl = f" · {fr.plane_label}" if fr is not None and fr.plane is not None else ""
            it = QListWidgetItem(f"frame {i}  ({i / self.fps:.1f} s){pl}\n{self.scores[i]:.0f} {band_label(self.scores[i]).lower()}")
            it.setData(Qt.UserRole, i)
            it.setForeground(band_color(self.scores[i]))
            if img is not None and self.roi is not None:
                x, y, w, h = self.roi
                it.setIcon(QIcon(QPixmap.fromImage(to_qimage(img[y : y + h, x : x + w]).scaled(96, 72, Qt.KeepAspectRatio))))
            self.best_list.addItem(it)

    # ------------------------------------------------------------------ exports
    def status_text(self) -> str:
        if not self.path:
            return "cine review: no file open"
        s = self.scores[np.isfinite(self.scores)]
        return f"cine {Path(self.path).name}: {self.n} frames, {len(s)} scored" + (f", best {s.max():.0f}" if len(s) else "")
