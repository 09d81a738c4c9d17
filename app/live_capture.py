"""The live view's captures: snapshot, best frame, the exam's capture key and end, recording, counts.
A mixin of :class:`app.live.LiveView`. Files are written off the GUI thread (app/recorder.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import heat
from .recorder import Recorder, save_png_async, stamp


class LiveCaptures:
    def _export_images(self, res, prefix: str) -> list[Path]:
        """Save the ROI crop (no burned-in text) with and without heatmap (in the saver thread)."""
        if res is None or res.frame is None:
            return []
        out = self.settings.output_dir()
        name = f"{prefix}_{stamp()}_q{res.score:.0f}"
        paths = [out / f"{name}.png", out / f"{name}_heatmap.png"]
        opacity = max(0.3, self.opacity.value() / 100)
        img, roi, patch = res.frame.image, res.roi, res.heat_patch
        x, y, w, h = roi
        save_png_async(paths[0], lambda: img[y : y + h, x : x + w])
        save_png_async(paths[1], lambda: heat.blend(img, patch, roi, opacity)[y : y + h, x : x + w])
        self.saved_files += paths
        return paths

    def shown_result(self):
        """The result on screen: while frozen, the frozen one."""
        return self.frozen_result if self.frozen else self.last_result

    def snapshot(self) -> list[Path]:
        """Save the frame on screen (with its score) as PNGs."""
        paths = self._export_images(self.shown_result(), "snapshot")
        self.message.emit(f"snapshot saved: {paths[0].name}" if paths else "nothing to save yet")
        return paths

    def save_best(self) -> list[Path]:
        paths = self._export_images(self.best, "best")
        self.message.emit(f"best frame saved: {paths[0].name}" if paths else "no best frame yet")
        return paths

    def capture_and_next(self):
        """The "capture and next plane" key (any widget focused; see the main window)."""
        if self.paused:
            return None
        cap = self.exam.capture_and_next(self.shown_result())
        t = self.exam.exam.target
        self.message.emit((f"captured {cap.plane} ({cap.score:.0f}); " if cap else "nothing to capture; ")
                          + (f"next: {t}" if t else "all planes captured"))
        return cap

    def end_exam(self, header: dict | None = None) -> list[Path]:
        """Write the exam's folder (final best frame per plane + report) and start a new exam."""
        header = header if header is not None else getattr(self, "report_header", lambda: {})()
        paths = self.exam.finish(header)
        self.message.emit(f"exam written to {paths[0].parent}" if paths else "exam ended (nothing captured)")
        self.exam_written.emit(paths)
        return paths

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
