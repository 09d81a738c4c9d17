"""Cine review: open a video or DICOM cine, score every frame in the background, review and export.

Exports carry no patient data: only the ROI (the imaging region, not the burned-in text around it) is
written, DICOM tags are never copied, and the report names the cine by a short hash, not its path.
"""
from __future__ import annotations

import csv
import hashlib
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, QSize, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPageSize, QPainter, QPdfWriter, QPixmap
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QMessageBox, QProgressBar, QPushButton, QSpinBox, QSplitter, QStyle, QToolButton,
                               QVBoxLayout, QWidget)

from engine import sources
from engine.roi import find_roi_stack
from .settings import Settings
from .widgets import Banner, QualityTimeline, band_color, band_label, blend_heat, to_qimage

CACHE_LIMIT_BYTES = 1_500_000_000


def looks_synthetic(path: str) -> bool:
    """The demo sweep, a file named synthetic, or one inside a `fuiqa synth` output (SYNTHETIC.txt)."""
    p = Path(path).resolve()
    try:
        if p == sources.demo_path().resolve():
            return True
    except OSError:
        pass
    if "synthetic" in p.name.lower():
        return True
    return any((d / "SYNTHETIC.txt").exists() for d in (p.parent, p.parent.parent))


class CineJob(QObject):
    """Reads and scores a whole cine in a QThread, in batches; cancellable."""

    progress = Signal(int, int)  # done, total
    batch = Signal(int, object, object)  # start index, scores (n,), heatmaps (n,h,w)
    roi_found = Signal(object)  # (x, y, w, h, kind)
    finished = Signal(bool, str)  # ok, message

    def __init__(self, path: str, scorer, frames: list, batch_size: int = 16, roi=None):
        super().__init__()
        self.path = path
        self.scorer = scorer
        self.frames = frames  # shared cache, appended here (GUI reads it)
        self.batch_size = batch_size
        self.roi = roi
        self._cancel = threading.Event()
        self.total = 0

    def cancel(self):
        self._cancel.set()

    def run(self):
        try:
            src = sources.open_source(self.path)
        except Exception as e:  # noqa: BLE001
            self.finished.emit(False, f"cannot open {Path(self.path).name}: {e}")
            return
        try:
            n = src.frame_count or 0
            self.total = n
            cached_bytes = 0
            buf, start, i = [], 0, 0
            roi = self.roi
            while not self._cancel.is_set():
                f = src.read()
                if f is None:
                    break
                img = f.image
                cached_bytes += img.nbytes
                self.frames.append(img if cached_bytes < CACHE_LIMIT_BYTES else None)
                buf.append(img)
                i += 1
                if len(buf) == self.batch_size:
                    if roi is None:
                        roi = self._find_roi(buf)
                    self._score(start, buf, roi)
                    start, buf = i, []
                    self.progress.emit(i, max(n, i))
            if buf and not self._cancel.is_set():
                if roi is None:
                    roi = self._find_roi(buf)
                self._score(start, buf, roi)
                self.progress.emit(i, i)
            if self._cancel.is_set():
                self.finished.emit(False, "cancelled")
            elif i == 0:
                self.finished.emit(False, f"{Path(self.path).name} holds no frames")
            else:
                self.total = i
                self.finished.emit(True, f"{i} frames scored")
        except Exception as e:  # noqa: BLE001
            self.finished.emit(False, f"reading {Path(self.path).name} failed: {e}")
        finally:
            try:
                src.close()
            except Exception:  # noqa: BLE001
                pass

    def _find_roi(self, frames):
        """The imaging region from the pixelwise maximum of the first frames (a dim first frame or a
        probe lifted for a moment does not hide the fan)."""
        same = [f for f in frames if f.shape == frames[0].shape]
        stack = np.max(np.stack(same), axis=0)
        try:
            r = find_roi_stack(same)
            roi, kind = tuple(int(v) for v in r.box), r.kind
        except Exception:  # noqa: BLE001
            roi, kind = (0, 0, stack.shape[1], stack.shape[0]), "full"
        self.roi = roi
        self.roi_found.emit((*roi, kind))
        return roi

    def _score(self, start, frames, roi):
        res = self.scorer.score(frames, [roi] * len(frames))
        self.batch.emit(start, np.asarray(res.scores, np.float32).copy(), np.asarray(res.heatmaps, np.float32).copy())


class CineReview(QWidget):
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
        self.heat_item.setOpacity(0.45)
        self.heat_item.setLookupTable(pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256))
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
        self.heat_check.toggled.connect(lambda on: (self.heat_item.setVisible(on)))

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
        row = QHBoxLayout()
        row.addWidget(QLabel("Best frames:"))
        row.addWidget(self.best_n)
        sl.addLayout(row)
        sl.addWidget(self.best_list, 1)
        sl.addWidget(self.export_csv_btn)
        sl.addWidget(self.export_png_btn)
        sl.addWidget(self.report_btn)
        side.setMaximumWidth(320)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.placeholder)
        ll.addWidget(self.view, 1)
        ll.addWidget(self.timeline)
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
            QMessageBox.critical(self, "Cannot open cine", f"{Path(path).name} cannot be opened:\n\n{e}")
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
        self.roi = None
        self.current = 0
        self.done = False
        self.timeline.set_length(self.n)
        self.best_list.clear()
        self.placeholder.setVisible(False)
        self.view.setVisible(True)
        self.banner.set_part("synthetic", "SYNTHETIC cine — not patient data" if self.synthetic else None)
        self._show_image(first.image)
        self.vb.autoRange(padding=0)
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
            self.timeline.set_length(n)
            self.timeline.scores[: len(sc)] = sc
            self.timeline.valid[: len(v)] = v
            self.n = n

    def _on_batch(self, start, scores, heat):
        self._ensure_len(start + len(scores))
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
            if self.heatmaps is not None:
                self.heatmaps = self.heatmaps[:n]
            if len(self.timeline.scores) != n:
                sc, v = self.timeline.scores[:n].copy(), self.timeline.valid[:n].copy()
                self.timeline.set_length(n)
                self.timeline.scores[:], self.timeline.valid[:] = sc, v
            self.done = True
            self.progress.setVisible(False)
            self._refresh_best()
            for b in (self.export_csv_btn, self.export_png_btn, self.report_btn):
                b.setEnabled(True)
            self.seek(self.current)
        elif msg != "cancelled":
            self.progress.setVisible(False)
            QMessageBox.critical(self, "Cine review", msg)
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

    def seek(self, i: int) -> None:
        if self.n <= 0:
            return
        i = int(np.clip(i, 0, self.n - 1))
        self.current = i
        self.timeline.set_current(i)
        img = self.frame(i)
        if img is not None:
            self._show_image(img)
        s = self.scores[i] if i < len(self.scores) else np.nan
        if np.isfinite(s) and self.heatmaps is not None and self.roi is not None and img is not None:
            from engine.preprocess import heatmap_to_frame

            patch, roi = heatmap_to_frame(self.heatmaps[i], self.roi, img.shape, self.scorer_provider().input_size)
            self.heat_item.setImage(patch, autoLevels=False, levels=(0, 100))
            self.heat_item.setRect(QRectF(*roi))
            self.heat_item.setVisible(self.heat_check.isChecked())
        else:
            self.heat_item.setVisible(False)
        stxt = f"score {s:.0f} ({band_label(s)})" if np.isfinite(s) else "not scored yet"
        self.frame_label.setText(f"frame {i + 1} / {self.n}   {i / self.fps:.2f} s   {stxt}")

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

    def keyPressEvent(self, e):
        k = e.key()
        if k == Qt.Key_Left:
            self.step(-1)
        elif k == Qt.Key_Right:
            self.step(1)
        elif k == Qt.Key_P:
            self.toggle_play()
        elif k == Qt.Key_L:
            self.loop_check.toggle()
        elif k == Qt.Key_Home:
            self.seek(0)
        elif k == Qt.Key_End:
            self.seek(self.n - 1)
        else:
            super().keyPressEvent(e)

    # ------------------------------------------------------------------ best frames
    def best_indices(self, k: int | None = None, min_gap: int | None = None) -> list[int]:
        """Top-k frames by score, at least ``min_gap`` frames apart (so not k neighbours)."""
        k = k or self.best_n.value()
        s = np.nan_to_num(self.scores, nan=-1.0)
        gap = max(1, len(s) // (4 * k)) if min_gap is None else min_gap
        out: list[int] = []
        for i in np.argsort(-s, kind="stable"):
            if s[i] < 0:
                break
            if all(abs(int(i) - j) >= gap for j in out):
                out.append(int(i))
            if len(out) == k:
                break
        return out

    def _refresh_best(self):
        self.best_list.clear()
        self.timeline.marks = self.best_indices()
        self.timeline.update()
        for i in self.timeline.marks:
            img = self.frame(i)
            it = QListWidgetItem(f"frame {i + 1}\n{self.scores[i]:.0f} {band_label(self.scores[i]).lower()}")
            it.setData(Qt.UserRole, i)
            it.setForeground(band_color(self.scores[i]))
            if img is not None and self.roi is not None:
                x, y, w, h = self.roi
                it.setIcon(QIcon(QPixmap.fromImage(to_qimage(img[y : y + h, x : x + w]).scaled(96, 72, Qt.KeepAspectRatio))))
            self.best_list.addItem(it)

    # ------------------------------------------------------------------ exports
    def _ask_dir(self, title):
        d = QFileDialog.getExistingDirectory(self, title, str(self.settings.output_dir()))
        return Path(d) if d else None

    def cine_id(self) -> str:
        return hashlib.sha1(str(Path(self.path).resolve()).encode()).hexdigest()[:8] if self.path else "none"

    def export_csv(self, path: Path | None = None) -> Path | None:
        if path is None:
            p, _ = QFileDialog.getSaveFileName(self, "Export scores", str(self.settings.output_dir() / f"cine_{self.cine_id()}_scores.csv"), "CSV (*.csv)")
            if not p:
                return None
            path = Path(p)
        import io

        from engine.modelpack import atomic_write_bytes

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["frame", "time_s", "score", "band", "roi_x", "roi_y", "roi_w", "roi_h"])
        x, y, ww, hh = self.roi or ("", "", "", "")
        for i, s in enumerate(self.scores):
            w.writerow([i, f"{i / self.fps:.3f}", f"{s:.2f}" if np.isfinite(s) else "", band_label(s).lower(), x, y, ww, hh])
        atomic_write_bytes(path, buf.getvalue().encode())
        self.message.emit(f"scores written to {path}")
        return path

    def frame_images(self, i: int):
        """(ROI crop, ROI crop with heatmap) for frame i — no burned-in text outside the ROI."""
        from engine.preprocess import heatmap_to_frame

        img = self.frame(i)
        x, y, w, h = self.roi
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        patch, roi = heatmap_to_frame(self.heatmaps[i], self.roi, img.shape, self.scorer_provider().input_size)
        heat = blend_heat(img, patch, roi)
        x, y, w, h = roi
        return img[y : y + h, x : x + w].copy(), heat[y : y + h, x : x + w].copy()

    def chosen_frames(self) -> list[int]:
        sel = [it.data(Qt.UserRole) for it in self.best_list.selectedItems()]
        return sel or [self.current]

    def export_pngs(self, out_dir: Path | None = None, frames: list[int] | None = None) -> list[Path]:
        out_dir = out_dir or self._ask_dir("Export PNGs to")
        if out_dir is None:
            return []
        from engine.modelpack import atomic_write_bytes

        paths = []
        for i in frames if frames is not None else self.chosen_frames():
            plain, heat = self.frame_images(i)
            for suffix, img in (("", plain), ("_heatmap", heat)):
                p = Path(out_dir) / f"cine_{self.cine_id()}_frame{i:05d}_q{self.scores[i]:.0f}{suffix}.png"
                ok, buf = cv2.imencode(".png", img)
                atomic_write_bytes(p, buf.tobytes())
                paths.append(p)
        self.message.emit(f"{len(paths)} PNGs written to {out_dir}")
        return paths

    def report_image(self, width: int = 1240) -> QImage:
        """One page (A4 proportions): summary, quality timeline, best frames with heatmaps."""
        H = int(width * 297 / 210)
        img = QImage(width, H, QImage.Format_RGB32)
        img.fill(QColor(255, 255, 255))
        p = QPainter(img)
        p.setRenderHint(QPainter.Antialiasing)
        m = 60
        f = QFont("Sans")
        f.setPixelSize(34)
        f.setBold(True)
        p.setFont(f)
        p.setPen(QColor(20, 20, 20))
        p.drawText(QRectF(m, m, width - 2 * m, 50), Qt.AlignLeft, "FUIQA cine quality report")
        f.setPixelSize(18)
        f.setBold(False)
        p.setFont(f)
        s = self.scores[np.isfinite(self.scores)]
        good = float(np.mean(s >= 80) * 100) if len(s) else 0
        acc = float(np.mean((s >= 60) & (s < 80)) * 100) if len(s) else 0
        pkg = getattr(self.scorer_provider(), "package", None)
        lines = [
            f"Cine {self.cine_id()} · {self.n} frames at {self.fps:.0f} fps · generated {time.strftime('%Y-%m-%d %H:%M')}",
            f"Mean score {np.mean(s):.1f}, best {np.max(s):.1f} · standard (≥80) {good:.0f}% · acceptable (60–79) {acc:.0f}% · "
            f"non-standard {100 - good - acc:.0f}%" if len(s) else "no scores",
            f"Model: {pkg.describe() if pkg else '?'}",
            "No patient data: only the imaging region is shown; no DICOM tags are copied.",
        ]
        y = m + 60
        for t in lines:
            p.drawText(QRectF(m, y, width - 2 * m, 28), Qt.AlignLeft, t)
            y += 28
        warn = [w for w in (getattr(self.scorer_provider(), "warning", None),
                            "SYNTHETIC cine — not patient data" if self.synthetic else None) if w]
        if pkg is not None and pkg.synthetic:
            warn.append("MODEL TRAINED ON SYNTHETIC DATA")
        if warn:
            f.setBold(True)
            p.setFont(f)
            p.fillRect(QRectF(m, y + 6, width - 2 * m, 34), QColor(199, 119, 0))
            p.setPen(QColor(255, 255, 255))
            p.drawText(QRectF(m, y + 6, width - 2 * m, 34), Qt.AlignCenter, " • ".join(warn))
            p.setPen(QColor(20, 20, 20))
            f.setBold(False)
            p.setFont(f)
            y += 50
        y += 16
        p.drawText(QRectF(m, y, width, 26), Qt.AlignLeft, "Quality timeline (per frame; dashed lines at 60 and 80; blue ticks: best frames)")
        y += 30
        self.timeline.paint_to(p, QRectF(m, y, width - 2 * m, 160), marker=False)
        y += 180
        p.setPen(QColor(20, 20, 20))
        best = self.best_indices(6)
        p.drawText(QRectF(m, y, width, 26), Qt.AlignLeft, f"Best {len(best)} frames (imaging region only; right: with quality heatmap)")
        y += 34
        cols, cw = 2, (width - 2 * m - 20) / 2
        ch = (H - y - m - 40) / 3
        for k, i in enumerate(best):
            plain, heat = self.frame_images(i)
            r, c = divmod(k, cols)
            x0, y0 = m + c * (cw + 20), y + r * ch
            both = np.concatenate([plain, np.full((plain.shape[0], 8, 3), 255, np.uint8), heat], axis=1)
            qi = to_qimage(both).scaled(int(cw), int(ch - 34), Qt.KeepAspectRatio, Qt.SmoothTransformation)
            p.drawImage(int(x0), int(y0), qi)
            p.setPen(band_color(self.scores[i]))
            p.drawText(QRectF(x0, y0 + qi.height() + 2, cw, 26), Qt.AlignLeft,
                       f"frame {i + 1} ({i / self.fps:.2f} s): {self.scores[i]:.0f} — {band_label(self.scores[i])}")
            p.setPen(QColor(20, 20, 20))
        f.setPixelSize(14)
        p.setFont(f)
        p.drawText(QRectF(m, H - m, width - 2 * m, 24), Qt.AlignLeft,
                   "Decision support only. Scores 0–100: ≥ 80 standard, 60–79 acceptable, < 60 non-standard.")
        p.end()
        return img

    def export_report(self, path: Path | None = None) -> list[Path]:
        if path is None:
            p, _ = QFileDialog.getSaveFileName(self, "Save report", str(self.settings.output_dir() / f"cine_{self.cine_id()}_report.png"), "PNG (*.png)")
            if not p:
                return []
            path = Path(p)
        path = Path(path)
        img = self.report_image()
        tmp = path.with_name(f".{path.stem}.part.png")
        img.save(str(tmp), "PNG")
        tmp.replace(path)
        pdf = path.with_suffix(".pdf")
        tmp_pdf = pdf.with_name(f".{pdf.stem}.part.pdf")
        w = QPdfWriter(str(tmp_pdf))
        w.setPageSize(QPageSize(QPageSize.A4))
        w.setResolution(150)
        w.setTitle("FUIQA cine quality report")
        pp = QPainter(w)
        target = pp.viewport()
        scaled = img.scaled(target.width(), target.height(), Qt.KeepAspectRatio, Qt.SmoothTransformation)
        pp.drawImage(0, 0, scaled)
        pp.end()
        tmp_pdf.replace(pdf)
        self.message.emit(f"report written: {path.name} and {pdf.name}")
        return [path, pdf]

    def status_text(self) -> str:
        if not self.path:
            return "cine review: no file open"
        s = self.scores[np.isfinite(self.scores)]
        return f"cine {Path(self.path).name}: {self.n} frames, {len(s)} scored" + (f", best {s.max():.0f}" if len(s) else "")
