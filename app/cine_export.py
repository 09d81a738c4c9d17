"""Cine review's exports: CSV of per-frame results, PNGs of chosen frames, the one-page report.
A mixin of :class:`app.cine.CineReview`. No patient data: only the ROI is written, no DICOM tag is
copied, and the cine is named by a short hash of its path. Frames are numbered from 0, as on screen."""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from . import heat
from .widgets import band_label


class CineExports:
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
        w.writerow(["frame", "time_s", "score", "band", "plane", "ood", "roi_x", "roi_y", "roi_w", "roi_h"])
        x, y, ww, hh = self.roi or ("", "", "", "")
        for i, s in enumerate(self.scores):  # frames numbered from 0, as on screen and in file names
            fr = self.result_at(i)
            pl = "" if fr is None or fr.plane is None else fr.plane
            ood = "" if fr is None or fr.ood is None else int(fr.ood)
            w.writerow([i, f"{i / self.fps:.3f}", f"{s:.2f}" if np.isfinite(s) else "", band_label(s).lower(), pl, ood,
                        x, y, ww, hh])
        atomic_write_bytes(path, buf.getvalue().encode())
        self.message.emit(f"scores written to {path}")
        return path

    def frame_images(self, i: int):
        """(ROI crop, ROI crop with heatmap) for frame i — no burned-in text outside the ROI."""
        img = self.frame(i)
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        patch, roi = self.loss_patch(i, img.shape)
        hm = heat.blend(img, patch, roi)
        x, y, w, h = roi
        return img[y : y + h, x : x + w].copy(), hm[y : y + h, x : x + w].copy()

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
        from .report import cine_report_image

        return cine_report_image(self, width)

    def export_report(self, path: Path | None = None) -> list[Path]:
        if path is None:
            p, _ = QFileDialog.getSaveFileName(self, "Save report", str(self.settings.output_dir() / f"cine_{self.cine_id()}_report.png"), "PNG (*.png)")
            if not p:
                return []
            path = Path(p)
        from .report import save_report

        out = save_report(self.report_image(), Path(path), "FUIQA cine quality report")
        self.message.emit("report written: " + " and ".join(x.name for x in out))
        return out
