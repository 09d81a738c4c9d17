"""Fakes for the GUI tests: a frame source that can be unplugged, a scorer that follows brightness."""
from __future__ import annotations

import math
import threading
import time

import numpy as np

from engine import sources
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
            raise sources.SignalLost("fake: no frames")
        i = self.i
        self.i += 1
        img = np.zeros(self.shape, np.uint8)
        level = 40 + (i * 7) % 200
        img[20:-20, 30:-30] = level  # the "imaging region"
        img[2:12, 2:60] = 255  # burned-in text outside it
        return sources.Frame(i, i / self.fps, img)

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


class ProceduralDemo(sources.FrameSource):
    """A synthetic sector sweep drawn on the fly (for making small test cines)."""

    def __init__(self, fps: float = 25.0, n: int = 250, size=(480, 640)):
        super().__init__()
        self.name = "procedural synthetic sweep"
        self.fps = fps
        self.frame_count = n
        self.live = False
        self.synthetic = True
        self._i = 0
        H, W = size
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        cx, cy = W / 2, 20.0
        r = np.hypot(xx - cx, yy - cy)
        ang = np.degrees(np.arctan2(xx - cx, yy - cy))
        self._fan = (r < H - 40) & (np.abs(ang) < 38) & (r > 30)
        self._xx, self._yy = xx, yy
        self._rng = np.random.default_rng(0)
        self._shape = size

    def read(self):
        if self._i >= self.frame_count:
            return None
        i = self._i
        self._i += 1
        H, W = self._shape
        t = i / self.frame_count
        q = 0.5 + 0.5 * math.sin(2 * math.pi * t)  # plane quality goes up and down over the sweep
        speckle = self._rng.rayleigh(0.35, size=(H, W)).astype(np.float32)
        img = 60 * speckle
        ex, ey = W / 2 + 80 * math.sin(3 * t), H * 0.55
        ell = ((self._xx - ex) / (90 + 20 * q)) ** 2 + ((self._yy - ey) / (70 + 10 * q)) ** 2
        img += (np.abs(ell - 1) < 0.08 + 0.1 * q) * (90 + 100 * q)
        img *= self._fan
        img = np.clip(img, 0, 255).astype(np.uint8)
        bgr = np.repeat(img[:, :, None], 3, axis=2)
        bgr[10:30, 10:200] = 200  # burned-in "text" outside the fan
        return sources.Frame(i, i / self.fps, bgr)

    def seek(self, index: int) -> None:
        self._i = int(index)


class PlaneScorer:
    """A scorer with plane / criteria / OOD outputs whose values the test sets (``plane``, ``score``,
    ``met`` = criteria met, ``ood``); the heatmap is uniform at the score."""

    backend = "fake-heads"
    reason = "test double with plane heads"
    warning = None
    input_size = 64

    def __init__(self, plane="head", score=90.0, met=None, ood=False):
        self.plane, self.score_value, self.met, self.ood = plane, score, met, ood

    def score(self, frames, rois=None):
        from engine.result import CRITERIA, PLANES

        n = len(frames)
        s = np.full(n, self.score_value, np.float32)
        heat = np.full((n, 8, 8), self.score_value, np.float32)
        probs = np.zeros((n, len(PLANES)), np.float32)
        probs[:, PLANES.index(self.plane)] = 1.0
        met = set(CRITERIA if self.met is None else self.met)
        crit = np.array([[0.9 if c in met else 0.1 for c in CRITERIA]] * n, np.float32)
        ood = np.full(n, 2.0 if self.ood else 0.0, np.float32)
        return ScoreResult(s, heat, None, probs, crit, ood, 1.0)
