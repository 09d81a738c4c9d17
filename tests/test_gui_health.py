"""The live view shows what the workers report (issue 14): stale frames and no-signal frames grey the
gauge with a banner, and a model that fails on every frame says so instead of an empty gauge."""
from __future__ import annotations

import threading

import numpy as np

from engine import sources
from test_gui_fakes import BrightnessScorer, FakeSource
from test_gui_live import isolated, no_dialogs, window  # noqa: F401 - fixtures


class SwitchableSource(FakeSource):
    """FakeSource that can hang in read() (``stall``) or send black frames (``black``)."""

    def __init__(self):
        super().__init__(fps=60)
        self.stall = threading.Event()
        self.black = threading.Event()
        self.go = threading.Event()

    def read(self):
        if self.stall.is_set():
            self.go.wait(10)
        f = super().read()
        if self.black.is_set():
            return sources.Frame(f.index, f.time_s, np.zeros_like(f.image))
        return f

    def close(self):
        self.go.set()
        super().close()


class FailingScorer(BrightnessScorer):
    def score(self, frames, rois=None):
        raise RuntimeError("graph input mismatch")


def test_stalled_and_black_feeds_grey_the_gauge_with_a_banner(qtbot, window):
    src = SwitchableSource()
    window.scorer = BrightnessScorer()
    window.live.start("fake", opener=lambda: src)
    qtbot.waitUntil(lambda: window.live.pipeline.scoring.scored >= 3, timeout=15000)
    live = window.live
    src.stall.set()
    qtbot.waitUntil(lambda: "health" in live.banner.parts(), timeout=3000)
    assert live.banner.parts()["health"].startswith("NO NEW FRAMES") and live.gauge.stale
    src.stall.clear()
    src.go.set()
    qtbot.waitUntil(lambda: "health" not in live.banner.parts(), timeout=3000)
    assert not live.gauge.stale
    src.black.set()
    qtbot.waitUntil(lambda: "health" in live.banner.parts(), timeout=3000)
    assert live.banner.parts()["health"].startswith("NO SIGNAL") and live.gauge.stale
    src.black.clear()
    qtbot.waitUntil(lambda: "health" not in live.banner.parts(), timeout=3000)


def test_a_model_failing_on_every_frame_says_so(qtbot, window):
    window.scorer = FailingScorer()
    window.live.start("fake", opener=lambda: FakeSource())
    qtbot.waitUntil(lambda: "scoring" in window.live.banner.parts(), timeout=10000)
    assert "SCORING FAILS ON EVERY FRAME" in window.live.banner.parts()["scoring"]
    assert "graph input mismatch" in window.live.banner.parts()["scoring"]
