"""Stale frames and no-signal frames (issue 14, part 5): the Qt-free judge (engine.live_health), the
capture read timeout, and the capture worker's watchdog (event-driven waits, no timing asserts)."""
from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from engine import sources
from engine.live_health import NO_SIGNAL, OK, STALE, FrameHealth, no_signal_reason
from engine_helpers import real_frames


def no_signal_screen():
    img = np.zeros((480, 640, 3), np.uint8)
    cv2.putText(img, "NO SIGNAL", (200, 240), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    return img


def test_black_and_flat_card_frames_are_no_signal_real_scans_are_not():
    assert no_signal_reason(np.zeros((480, 640, 3), np.uint8)).startswith("black frames")
    assert no_signal_reason(no_signal_screen()).startswith("black frames")
    assert "flat frames" in no_signal_reason(np.full((480, 640, 3), (160, 40, 0), np.uint8))  # blue screen
    assert no_signal_reason(np.full((480, 640), 3, np.uint8) + np.random.default_rng(0).integers(0, 3, (480, 640),
                                                                                              dtype=np.uint8))
    for f in real_frames():  # real ultrasound screens (dark flanks, text) are images, not "no signal"
        assert no_signal_reason(f) is None
    dim = (real_frames()[0] // 6).astype(np.uint8)  # a very dark but real image
    assert no_signal_reason(dim) is None


def test_frame_health_goes_stale_after_half_a_second_and_recovers():
    t = {"now": 0.0}
    h = FrameHealth(stale_after_s=0.5, clock=lambda: t["now"])
    img = real_frames()[0]
    assert h.frame(img) is None and h.state == OK
    t["now"] = 0.3
    assert h.check() is None
    t["now"] = 0.55
    state, msg = h.check()
    assert state == STALE and msg == "no new frames for 0.6 s (capture stalled)"
    assert h.check() is None  # said once
    t["now"] = 2.0
    assert h.frame(img) == (OK, None)


def test_three_flat_frames_in_a_row_are_no_signal_and_are_not_scored():
    h = FrameHealth(flat_frames=3)
    black = np.zeros((240, 320), np.uint8)
    assert h.frame(black) is None and not h.scoreable
    assert h.frame(black) is None
    state, msg = h.frame(black)
    assert state == NO_SIGNAL and msg.startswith("NO SIGNAL: black frames")
    assert h.frame(real_frames()[1]) == (OK, None) and h.scoreable


def test_device_read_timeout_is_short(monkeypatch):
    seen = {}

    class Cap:
        def __init__(self, *a):
            pass

        def isOpened(self):
            return True

        def set(self, prop, value):
            seen[prop] = value
            return True

        def get(self, prop):
            return 0.0

        def release(self):
            pass

    monkeypatch.setattr(sources.cv2, "VideoCapture", Cap)
    src = sources.DeviceSource(0, backend="v4l2")
    assert seen[cv2.CAP_PROP_READ_TIMEOUT_MSEC] == 1000.0  # OpenCV's V4L2 default: 10 000 ms
    src.close()


# ----------------------------------------------------------------------------- capture worker (Qt)


class StallingSource:
    """Live frames until ``stall`` is set; then read() blocks (like a stuck V4L2 read); ``black``
    makes it deliver black no-signal frames."""

    name = "stalling card"
    live = True
    synthetic = True
    frame_count = None
    fps = 50.0

    def __init__(self):
        self.stall = threading.Event()
        self.black = threading.Event()
        self.release = threading.Event()
        self.i = 0
        self.img = real_frames()[0]

    def read(self):
        if self.stall.is_set():
            self.release.wait(10)
        self.release.wait(0.02)
        self.i += 1
        img = np.zeros_like(self.img) if self.black.is_set() else self.img
        return sources.Frame(self.i, self.i / 50.0, img)

    def close(self):
        self.release.set()


@pytest.fixture
def worker(qtbot):
    from app.workers import CaptureWorker, WorkerSignals

    src = StallingSource()
    sig = WorkerSignals()
    states = []
    sig.health_changed.connect(lambda s, m: states.append((s, m)))
    w = CaptureWorker(lambda: src, sig, pace=False)
    w.start()
    qtbot.waitUntil(lambda: w.captured > 3, timeout=3000)
    yield w, src, states
    src.release.set()
    w.stop()


def test_stalled_capture_is_reported_as_no_new_frames_and_clears(qtbot, worker):
    w, src, states = worker
    src.stall.set()
    qtbot.waitUntil(lambda: any(s == STALE for s, _ in states), timeout=2000)  # within ~0.5 s
    assert w.health.state == STALE and "no new frames" in [m for s, m in states if s == STALE][0]
    src.stall.clear()
    src.release.set()
    qtbot.waitUntil(lambda: states[-1][0] == OK, timeout=2000)


def test_black_frames_from_the_card_are_no_signal_and_not_scored(qtbot, worker):
    w, src, states = worker
    src.black.set()
    qtbot.waitUntil(lambda: any(s == NO_SIGNAL for s, _ in states), timeout=2000)
    w.score_slot.take_nowait()
    n = w.captured
    qtbot.waitUntil(lambda: w.captured > n + 5, timeout=2000)
    item = w.score_slot.take_nowait()
    assert item is None or item.image.any()  # no black frame reached the scorer
    src.black.clear()
    qtbot.waitUntil(lambda: states[-1][0] == OK, timeout=2000)


def test_a_slow_cine_is_not_called_stale_between_its_frames(qtbot):
    from app.workers import CaptureWorker, WorkerSignals

    class SlowCine:  # 2 frames/s, paced by the worker like any file
        name, live, synthetic, frame_count, fps = "slow cine", False, True, None, 2.0

        def __init__(self):
            self.i = 0

        def read(self):
            self.i += 1
            return sources.Frame(self.i, self.i / 2.0, real_frames()[0])

        def close(self):
            pass

    sig = WorkerSignals()
    states = []
    sig.health_changed.connect(lambda s, m: states.append(s))
    w = CaptureWorker(lambda: SlowCine(), sig)
    w.start()
    try:
        qtbot.waitUntil(lambda: w.captured >= 4, timeout=5000)  # 1.5 s of frames 0.5 s apart
        assert w.health.stale_after_s == 1.25 and STALE not in states
    finally:
        w.stop()
