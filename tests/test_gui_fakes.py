"""Fakes for the GUI tests: a frame source that can be unplugged, a scorer that follows brightness."""
from __future__ import annotations

import threading
import time

import numpy as np

from app import compat
from engine.scorers import ScoreResult


class FakeSource:
    """Live source of gray 240×320 frames whose brightness ramps; ``unplug()``/``replug()``."""

    name = "fake capture card"
    live = True
    synthetic = True
    frame_count = None

    def __init__(self, fps: float = 60.0, shape=(240, 320)):
        self.fps = fps
        self.shape = shape
        self.i = 0
        self.unplugged = threading.Event()
        self.reads_while_lost = 0
        self.closed = False

    def unplug(self):
        self.unplugged.set()

    def replug(self):
        self.unplugged.clear()

    def read(self):
        time.sleep(1.0 / self.fps)
        if self.unplugged.is_set():
            self.reads_while_lost += 1
            raise compat.SignalLost("fake: no frames")
        i = self.i
        self.i += 1
        img = np.zeros(self.shape, np.uint8)
        level = 40 + (i * 7) % 200
        img[20:-20, 30:-30] = level  # the "imaging region"
        img[2:12, 2:60] = 255  # burned-in text outside it
        return compat.Frame(i, i / self.fps, img)

    def seek(self, index):
        raise NotImplementedError

    def close(self):
        self.closed = True


class BrightnessScorer:
    """Score = mean brightness inside the ROI scaled to 0–100 (so the gauge has something to follow)."""

    backend = "fake"
    reason = "test double"
    warning = None
    input_size = 64

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s
        self.calls = 0

    def score(self, frames, rois=None):
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        out = []
        for k, f in enumerate(frames):
            r = rois[k] if rois else None
            if r is not None:
                x, y, w, h = r
                f = f[y : y + h, x : x + w]
            out.append(float(np.mean(f)) / 255 * 100)
        s = np.asarray(out, np.float32)
        heat = np.repeat(s[:, None, None], 8, axis=1).repeat(8, axis=2)
        return ScoreResult(s, heat)
