"""Background work for the live view: capture thread, scoring thread, newest-frame mailboxes.

Design (the GUI must never lag or freeze):

* :class:`LatestSlot` is a 1-slot mailbox: ``put`` replaces whatever is there (the replaced item is
  counted as dropped if nobody took it), ``take`` returns the newest item or waits for one. Nothing is
  ever queued, so a slow consumer sees the newest frame, never a backlog.
* :class:`CaptureWorker` (a ``threading.Thread``) reads the :class:`FrameSource`, stamps each frame
  with the grab time, and puts it into two slots: one for the scorer and one for the display. Files
  and the demo are paced at their frame rate and looped, as if live. ``SignalLost`` makes it say so
  once, keep the last frame, retry every ``retry_s`` and resume by itself.
* :class:`~app.scoring.ScoringWorker` (app/scoring.py) takes the newest frame, finds the ROI (the user's box, or auto-detected on
  the first frame and every ``roi_every_s``), scores it and publishes a :class:`LiveResult`
  (score, heatmap already mapped onto the frame) into a result slot.
* The GUI thread only draws: it is poked by ``frame_ready`` (coalesced: at most one pending event)
  and reads the newest frame and result from the slots.

Signals live on :class:`WorkerSignals` (a QObject in the GUI thread); emitting them from a worker
thread is queued by Qt. This module imports no torch.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine import sources
from engine.live_health import FrameHealth

clock = time.perf_counter


@dataclass
class LiveFrame:
    index: int
    time_s: float
    image: np.ndarray
    t_grab: float  # perf_counter at grab
    seq: int = 0  # capture sequence number (monotonic over reconnects and loops)


@dataclass
class LiveResult:
    seq: int
    index: int
    t_grab: float
    t_scored: float
    score: float
    roi: tuple[int, int, int, int]
    roi_kind: str
    heat_patch: np.ndarray | None  # float32 roi_h x roi_w: points lost per cell, 0-100 (app/heat.py)
    frame: LiveFrame | None = None
    infer_ms: float = 0.0
    heat_rgb: np.ndarray | None = None  # small uint8 RGBA overlay (red = points lost, clear outside the fan)
    result: object = None  # engine.result.FrameResult: plane, checklist, OOD … (what the panel shows)


class LatestSlot:
    """A one-slot mailbox: the newest item wins, the replaced one is counted as dropped."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self._fresh = False
        self.dropped = 0
        self.put_count = 0

    def put(self, item) -> None:
        with self._cond:
            if self._fresh:
                self.dropped += 1
            self._item = item
            self._fresh = True
            self.put_count += 1
            self._cond.notify_all()

    def take(self, timeout: float | None = None):
        """Newest unseen item, waiting up to ``timeout`` s (None if none came)."""
        with self._cond:
            if not self._fresh:
                self._cond.wait(timeout)
            if not self._fresh:
                return None
            self._fresh = False
            return self._item

    def take_nowait(self):
        with self._cond:
            if not self._fresh:
                return None
            self._fresh = False
            return self._item

    def peek(self):
        with self._cond:
            return self._item

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class WorkerSignals(QObject):
    started = Signal(str)  # source name
    frame_ready = Signal()  # coalesced poke for the GUI
    result = Signal(object)  # LiveResult (the GUI reads the slot; this is for listeners/tests)
    errored = Signal(str)
    signal_lost = Signal(str)  # frames stopped coming from a source that was working
    device_missing = Signal(str)  # the device could not be opened at all (not there / wrong index)
    signal_regained = Signal()
    ended = Signal()
    roi_changed = Signal(object)  # (x, y, w, h, kind)
    health_changed = Signal(str, str)  # state ("ok" | "stale" | "no signal"), message ("" when ok)


class _Poke:
    """Emit ``frame_ready`` at most once until the GUI calls :meth:`clear` (no event pile-up)."""

    def __init__(self, signal):
        self._signal = signal
        self._pending = False
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            if self._pending:
                return
            self._pending = True
        self._signal.emit()

    def clear(self):
        with self._lock:
            self._pending = False


class CaptureWorker(threading.Thread):
    """Reads a frame source in its own thread; newest frame wins."""

    def __init__(self, opener: Callable[[], object], signals: WorkerSignals, *, retry_s: float = 1.0,
                 pace: bool | None = None, loop: bool = True, recorder=None, retry_open: bool = False,
                 stale_after_s: float = 0.5):
        super().__init__(name="fuiqa-capture", daemon=True)
        # stale-frame watchdog and no-signal frames (engine.live_health); health_changed tells the GUI
        self.health = FrameHealth(stale_after_s)
        self._watchdog: threading.Thread | None = None
        self.opener = opener
        self.signals = signals
        self.retry_s = retry_s
        self.retry_open = retry_open
        self.pace = pace
        self.loop = loop
        self.score_slot = LatestSlot()
        self.display_slot = LatestSlot()
        self.poke = _Poke(signals.frame_ready)
        self._halt = threading.Event()
        self.source = None
        self.captured = 0
        self.seq = 0
        self.lost = False
        self.lost_count = 0
        self.recorder = recorder  # object with .write(LiveFrame) (called in this thread) or None
        self.fps_meter = RateMeter()
        self.source_name = "?"
        self.live = False
        self.synthetic = False
        self.fps: float | None = None

    def stop(self, join: bool = True, timeout: float = 3.0) -> None:
        self._halt.set()
        self.score_slot.wake()
        if join and self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._halt.is_set()

    def _open(self):
        src = self.opener()
        self.source = src
        self.source_name = getattr(src, "name", "?")
        self.live = bool(getattr(src, "live", False))
        self.synthetic = bool(getattr(src, "synthetic", False))
        self.fps = getattr(src, "fps", None)
        return src

    def _emit_health(self, change) -> None:
        if change is not None:
            state, msg = change
            self.signals.health_changed.emit(state, msg or "")

    def _watch(self) -> None:
        """Every 0.1 s: has a frame come in lately? (the capture thread may be stuck in a read)"""
        while not self._halt.wait(0.1):
            if not self.lost:
                self._emit_health(self.health.check())

    def _close(self):
        if self.source is not None:
            try:
                self.source.close()
            except Exception:  # noqa: BLE001
                pass

    def run(self) -> None:
        try:
            src = self._open()
        except Exception as e:  # noqa: BLE001
            if not self.retry_open:
                self.signals.errored.emit(f"cannot open source: {e}")
                self.signals.ended.emit()
                return
            # a capture card not (yet) plugged in: say so and retry every second, like a lost signal
            self.lost = True
            self.lost_count += 1
            self.signals.device_missing.emit(str(e).splitlines()[0] if str(e) else "cannot open the device")
            src = None
            while src is None and not self._halt.wait(self.retry_s):
                try:
                    src = self._open()
                except Exception:  # noqa: BLE001
                    src = None
            if src is None:
                return
            self.lost = False
            self.signals.signal_regained.emit()
        self.signals.started.emit(self.source_name)
        if self.fps and self.fps > 0:  # a slow cine (2 frames/s) is not "stale" between its frames
            self.health.stale_after_s = max(self.health.stale_after_s, 2.5 / float(self.fps))
        self._watchdog = threading.Thread(target=self._watch, name="fuiqa-capture-watchdog", daemon=True)
        self._watchdog.start()
        pace = self.pace if self.pace is not None else not self.live
        period = 1.0 / self.fps if (pace and self.fps) else 0.0
        next_t = clock()
        try:
            while not self._halt.is_set():
                try:
                    f = src.read()
                except sources.SignalLost as e:
                    src = self._recover(str(e) or "no frames from the device")
                    if src is None:
                        break
                    next_t = clock()
                    continue
                except sources.SourceError as e:
                    self.signals.errored.emit(str(e))
                    break
                if f is None:
                    if self.loop and hasattr(src, "seek"):
                        try:
                            src.seek(0)
                            continue
                        except Exception:  # noqa: BLE001
                            pass
                    self.signals.ended.emit()
                    break
                if period:
                    next_t += period
                    delay = next_t - clock()
                    if delay > 0:
                        if self._halt.wait(delay):
                            break
                    elif delay < -0.5:
                        next_t = clock()
                self.seq += 1
                lf = LiveFrame(f.index, f.time_s, f.image, clock(), self.seq)
                self.captured += 1
                self.fps_meter.tick(lf.t_grab)
                self._emit_health(self.health.frame(f.image))
                if self.health.scoreable:  # a card's black / flat "no signal" frame is not scored
                    self.score_slot.put(lf)
                self.display_slot.put(lf)
                rec = self.recorder
                if rec is not None:
                    rec.write(lf)
                self.poke()
        except Exception as e:  # noqa: BLE001
            self.signals.errored.emit(f"capture failed: {e}\n{traceback.format_exc(limit=3)}")
        finally:
            self._close()

    def _recover(self, why: str):
        """Signal lost: say so once, retry every ``retry_s`` until frames come back or we stop."""
        self.lost = True
        self.lost_count += 1
        self._emit_health(self.health.reset())  # the loss is reported as such, not also as stale frames
        self.signals.signal_lost.emit(why)
        src = self.source
        fails = 0
        while not self._halt.wait(self.retry_s):
            f = None
            try:
                if hasattr(src, "reopen"):
                    src.reopen()  # engine.sources devices: release and open the same index again
                f = src.read()
            except sources.SourceError:
                f = None
            except Exception:  # noqa: BLE001
                f = None
            if f is None:
                fails += 1
                if not hasattr(src, "reopen") and fails % 3 == 0:
                    # a source that cannot reopen itself: open the spec again
                    try:
                        new = self.opener()
                    except Exception:  # noqa: BLE001
                        continue
                    if new is not src:
                        self._close()
                    src = self.source = new
                continue
            self.lost = False
            self.signals.signal_regained.emit()
            self.seq += 1
            self.captured += 1
            seq_frame = LiveFrame(f.index, f.time_s, f.image, clock(), self.seq)
            self.display_slot.put(seq_frame)
            self.score_slot.put(seq_frame)
            self.poke()
            return src
        return None


class RateMeter:
    """Events per second over a sliding window."""

    def __init__(self, window_s: float = 2.0):
        self.window_s = window_s
        self._t: list[float] = []
        self._lock = threading.Lock()

    def tick(self, t: float | None = None) -> None:
        t = clock() if t is None else t
        with self._lock:
            self._t.append(t)
            cut = t - self.window_s
            while self._t and self._t[0] < cut:
                self._t.pop(0)

    def rate(self) -> float:
        with self._lock:
            if len(self._t) < 2:
                return 0.0
            now = clock()
            ts = [x for x in self._t if x >= now - self.window_s]
            if len(ts) < 2:
                return 0.0
            return (len(ts) - 1) / max(1e-6, ts[-1] - ts[0])
