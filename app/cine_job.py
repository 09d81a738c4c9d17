"""Cine review's background work: read and score a whole cine in a QThread, in batches."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine import sources
from engine.roi import find_roi_stack

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
    batch = Signal(int, object)  # start index, engine.result.ScoreResult of the batch
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
        self.batch.emit(start, self.scorer.score(frames, [roi] * len(frames)))
