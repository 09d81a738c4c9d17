"""The live view's scoring thread and the pipeline that wires it to the capture thread.

:class:`ScoringWorker` takes the newest frame from the capture thread's slot (app/workers.py), finds
the ROI (the user's box, or :class:`engine.roi.RoiTracker`: found on a few frames, kept while the
layout holds), scores it and publishes a :class:`~app.workers.LiveResult` into a result slot;
:class:`Pipeline` is what the live view owns. This module imports no torch.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from engine.roi import RoiTracker, find_roi

from .workers import CaptureWorker, LatestSlot, LiveResult, RateMeter, WorkerSignals, clock


@dataclass
class RoiPolicy:
    user_box: tuple[int, int, int, int] | None = None  # the user's box wins over auto
    auto_every_s: float = 5.0
    enabled: bool = True


class ScoringWorker(threading.Thread):
    """Scores the newest frame; publishes :class:`LiveResult` into ``result_slot``."""

    def __init__(self, scorer, capture: CaptureWorker, signals: WorkerSignals, roi_policy: RoiPolicy | None = None,
                 roi_finder: Callable | None = None):
        super().__init__(name="fuiqa-score", daemon=True)
        self.scorer = scorer
        self.capture = capture
        self.signals = signals
        self.roi_policy = roi_policy or RoiPolicy()
        self.roi_finder = roi_finder or find_roi
        self.roi_tracker = RoiTracker(self.roi_finder)  # found on a few frames, kept while the layout stays
        self.result_slot = LatestSlot()
        self._halt = threading.Event()
        self.scored = 0
        self.fps_meter = RateMeter()
        self._auto_roi: tuple | None = None
        self._auto_kind = "full"
        self.errors = 0
        self._lock = threading.Lock()
        self.sink: Callable[[LiveResult], None] | None = None  # e.g. the recorder's CSV (this thread)
        self.colourise = True  # build the heatmap overlay here, not on the GUI thread
        self.heat_max_side = 192
        self.paused = threading.Event()  # set: frames are skipped, not scored (e.g. cine review in front)

    def stop(self, join: bool = True, timeout: float = 3.0) -> None:
        self._halt.set()
        self.capture.score_slot.wake()
        if join and self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def set_scorer(self, scorer) -> None:
        with self._lock:
            self.scorer = scorer

    def redetect_roi(self) -> None:
        self.roi_tracker.reset()

    def _roi_for(self, img: np.ndarray, now: float):
        pol = self.roi_policy
        if pol.user_box is not None:
            return tuple(int(v) for v in pol.user_box), "user"
        if not pol.enabled:
            return (0, 0, img.shape[1], img.shape[0]), "full"
        self.roi_tracker.verify_every_s = pol.auto_every_s
        r = self.roi_tracker.update(img, now)  # re-found when the screen changes; never raises
        box, kind = tuple(int(v) for v in r.box), r.kind
        if box != self._auto_roi:
            self._auto_roi, self._auto_kind = box, kind
            self.signals.roi_changed.emit((*box, kind))
        return self._auto_roi, self._auto_kind

    def run(self) -> None:
        from engine.preprocess import heatmap_to_frame

        from .heat import MaskCache, loss_map, overlay_rgba

        masks = MaskCache()

        slot = self.capture.score_slot
        while not self._halt.is_set():
            lf = slot.take(timeout=0.2)
            if lf is None or self._halt.is_set() or self.paused.is_set():
                continue
            try:
                t0 = clock()
                roi, kind = self._roi_for(lf.image, t0)
                with self._lock:
                    scorer = self.scorer
                fr = scorer.score([lf.image], [roi])[0]
                t1 = clock()
                patch, roi_c = heatmap_to_frame(loss_map(fr), roi, lf.image.shape, scorer.input_size)
                rgba = (overlay_rgba(lf.image, patch, roi_c, self.heat_max_side, masks, t1)
                        if self.colourise else None)
                out = LiveResult(lf.seq, lf.index, lf.t_grab, clock(), fr.score, tuple(roi_c), kind, patch, lf,
                                 (t1 - t0) * 1000, rgba, fr)
            except Exception as e:  # noqa: BLE001
                self.errors += 1
                if self.errors <= 3 or self.errors % 100 == 0:
                    self.signals.errored.emit(f"scoring failed: {e}")
                continue
            self.scored += 1
            self.fps_meter.tick(out.t_scored)
            self.result_slot.put(out)
            sink = self.sink
            if sink is not None:
                try:
                    sink(out)
                except Exception:  # noqa: BLE001
                    pass
            try:
                self.signals.result.emit(out)
                self.capture.poke()
            except RuntimeError:  # the view was deleted while this frame was scored: stop quietly
                break


@dataclass
class Pipeline:
    """Capture + scoring threads wired together; what the live view owns."""

    capture: CaptureWorker
    scoring: ScoringWorker
    signals: WorkerSignals
    spec: str = ""
    extra: dict = field(default_factory=dict)

    def start(self) -> None:
        self.capture.start()
        self.scoring.start()

    def stop(self) -> None:
        self.capture.stop(join=False)
        self.scoring.stop(join=False)
        self.capture.join(3.0)
        self.scoring.join(3.0)

    @property
    def dropped(self) -> int:
        """Frames the scorer never saw (replaced by a newer one before it got to them)."""
        return self.capture.score_slot.dropped
