"""Pacing a finite source "as if live" (real time, looping, dropping frames like a capture card)."""
from __future__ import annotations

import time
from typing import Callable

from .base import Frame, FrameSource


class LivePacer(FrameSource):
    """Plays a finite source at its frame rate in real time, looping (``loop=True``), like a live feed.

    If the caller reads slower than the frame rate, frames are dropped to stay in real time, as a
    capture card would. ``index`` counts delivered frames' positions on the live timeline
    (increasing across loops); ``time_s`` is that position divided by the fps.
    """

    live = True

    def __init__(self, inner: FrameSource, fps: float | None = None, loop: bool = True, speed: float = 1.0,
                 drop: bool = True, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.inner = inner
        self.name = f"{inner.name} (as live)"
        self.fps = float(fps or inner.fps or 25.0)
        self.frame_count = None
        self.synthetic = inner.synthetic
        self.loop = loop
        self.speed = float(speed)
        self.drop = drop
        self.loop_length = inner.frame_count
        self._clock, self._sleep = clock, sleep
        self._t0: float | None = None
        self._next = 0  # next position on the live timeline
        self._inner_pos = 0  # next index the inner source would return

    def _inner_read(self) -> Frame | None:
        f = self.inner.read()
        if f is None and self.loop:
            if self._inner_pos == 0:
                return None  # empty source: never loop forever
            self.loop_length = self._inner_pos
            try:
                self.inner.seek(0)
            except NotImplementedError:
                return None
            self._inner_pos = 0
            f = self.inner.read()
        if f is not None:
            self._inner_pos += 1
        return f

    def read(self) -> Frame | None:
        if self._closed:
            return None
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        period = 1.0 / (self.fps * self.speed)
        due = int((now - self._t0) / period)  # the frame the live timeline is at now
        if due < self._next:
            self._sleep(max(0.0, self._t0 + self._next * period - now))
        elif due > self._next and self.drop:
            skip = due - self._next
            if self.loop_length and skip >= 4:
                tgt = (self._inner_pos + skip) % self.loop_length
                try:
                    self.inner.seek(tgt)
                    self._inner_pos = tgt
                    skip = 0
                except NotImplementedError:
                    pass
            for _ in range(skip):
                if self._inner_read() is None:
                    return None
            self._next = due
        f = self._inner_read()
        if f is None:
            return None
        pos = self._next
        self._next += 1
        return Frame(pos, pos / self.fps, f.image)

    def close(self) -> None:
        self.inner.close()
        super().close()
