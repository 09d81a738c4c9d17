"""Is the live picture live? Stale frames and "no signal" frames, judged without Qt.

* **Stale**: a capture read can block for seconds (OpenCV's V4L2 read waits up to 10 s on a stalled
  card) while the last frame and its score stay on screen as if live. :class:`FrameHealth` keeps the
  time of the newest frame; a watchdog asks :meth:`FrameHealth.check` every ~0.1 s, and after
  ``stale_after_s`` (0.5 s) without a new frame the state is ``"stale"`` ("no new frames").
* **No signal**: with no video on its input, a capture card keeps sending frames, black or one flat
  colour (often with a small "NO SIGNAL" text). Such a frame is not a poor ultrasound image and must
  not be scored as one: :func:`no_signal_reason` recognises it (nearly every pixel within a few grey
  levels of one value — an ultrasound screen, even a dark one, has speckle in its imaging region and
  rarely more than 90 % of one level), and ``flat_frames`` such frames in a row make the state
  ``"no signal"``.

States: ``"ok"``, ``"stale"``, ``"no signal"``; :meth:`FrameHealth.check` returns the new state and a
message when the state changes, else ``None``.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

OK, STALE, NO_SIGNAL = "ok", "stale", "no signal"
#: a frame is "flat" when at least this fraction of its (subsampled) pixels lies within
#: ``FLAT_TOLERANCE`` grey levels of the median
FLAT_FRACTION = 0.985
FLAT_TOLERANCE = 6


def no_signal_reason(img: np.ndarray) -> str | None:
    """Why ``img`` looks like a capture card's no-signal frame (black or one flat colour), or None."""
    a = np.asarray(img)
    if a.size == 0:
        return "empty frame"
    step = max(1, min(a.shape[0], a.shape[1]) // 120)  # ~120x160 samples are plenty
    s = a[::step, ::step]
    if s.ndim == 3:
        g = s[:, :, :3].astype(np.int16).max(axis=2)  # brightest channel: a blue screen is not "black"
    else:
        g = s.astype(np.int16)
    med = int(np.median(g))
    near = float(np.mean(np.abs(g - med) <= FLAT_TOLERANCE))
    if near < FLAT_FRACTION:
        return None
    if med <= 16:
        return "black frames from the capture card"
    return f"flat frames (one colour, level {med}) from the capture card"


class FrameHealth:
    """Stale / no-signal state of a live feed (thread-safe: frames from the capture thread, checks
    from a watchdog)."""

    def __init__(self, stale_after_s: float = 0.5, flat_frames: int = 3,
                 clock: Callable[[], float] = time.monotonic):
        self.stale_after_s = float(stale_after_s)
        self.flat_frames = max(1, int(flat_frames))
        self.clock = clock
        self.state = OK
        self.message: str | None = None
        self.last_frame_t: float | None = None
        self._flat_run = 0
        self._flat_why: str | None = None
        self.last_flat = False
        self._lock = threading.Lock()

    def frame(self, img: np.ndarray, t: float | None = None):
        """A new frame arrived. Returns ``(state, message)`` when the state changed, else None."""
        why = no_signal_reason(img)
        with self._lock:
            self.last_frame_t = self.clock() if t is None else t
            self.last_flat = why is not None
            if why is None:
                self._flat_run = 0
                return self._set(OK, None)
            self._flat_run += 1
            self._flat_why = why
            if self._flat_run >= self.flat_frames:
                return self._set(NO_SIGNAL, f"NO SIGNAL: {why}")
            if self.state == STALE:  # frames flow again, not (yet) judged flat
                return self._set(OK, None)
            return None

    def check(self, now: float | None = None):
        """Called by a watchdog; ``(STALE, message)`` once the newest frame is older than the limit."""
        with self._lock:
            if self.last_frame_t is None or self.state == STALE:
                return None
            age = (self.clock() if now is None else now) - self.last_frame_t
            if age >= self.stale_after_s:
                return self._set(STALE, f"no new frames for {age:.1f} s (capture stalled)")
            return None

    def reset(self):
        """Forget the last frame (a new source, or a signal loss already reported elsewhere).
        Returns ``(OK, None)`` if the state changed, else None."""
        with self._lock:
            self.last_frame_t = None
            self._flat_run = 0
            self.last_flat = False
            return self._set(OK, None)

    @property
    def scoreable(self) -> bool:
        """Whether the newest frame should be scored (not a flat / no-signal frame)."""
        return not self.last_flat

    def _set(self, state: str, message: str | None):
        if state == self.state:
            return None
        self.state, self.message = state, message
        return state, message
