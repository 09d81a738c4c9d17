"""A steady imaging region for live view: :class:`RoiTracker`.

The region is *found* on a few frames (``confirm`` fresh detections that agree, box IoU ≥ 0.9), then
*kept* while the screen's layout is unchanged, and *found again* when it changes: a depth change,
a freeze, another preset or probe, another screen. A manual box wins over all of this.

Keeping costs well under a millisecond a frame: the tracker compares a sparse grid of the frame
(every ``step``-th pixel, ~240 × 135 at 1080p) with the grid it kept when it locked:

- *outside* the box (with a margin) the screen is burned-in text, logos, bars and black. Where more
  than ``out_changed`` of it changes by > 40 grey levels, the layout changed (new depth-scale
  labels, another preset's text, a freeze bar, an image that grew past the box);
- thin *rings inside* the box's four edges hold image: where one loses most of its signal, the
  image may have shrunk.

Either starts a search; while it runs the old box is still given (it does not jump), and only
``confirm`` agreeing detections replace it. Detections that agree with the old box re-lock on it
unchanged; dark or empty frames (probe lifted: the finder returns a low-confidence "full" region)
never replace a good box. A fresh detection every ``verify_every_s`` seconds (0: never) catches
a change the grid misses.
"""
from __future__ import annotations

import time
from typing import Callable

import cv2
import numpy as np

from .roi_find import RoiResult, _full, find_roi
from .roi_signal import THRESHOLD, _to_uint8

__all__ = ["RoiTracker", "box_iou"]


def box_iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _grid(frame: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th pixel (max over colour channels) as uint8: a strided copy, no filtering."""
    g = np.ascontiguousarray(frame[step // 2::step, step // 2::step])
    if g.dtype != np.uint8:
        g = _to_uint8(g)
    if g.ndim == 3:
        g = cv2.max(cv2.max(g[:, :, 0], g[:, :, 1]), g[:, :, 2]) if g.shape[2] >= 3 else g[:, :, 0].copy()
    return g


class RoiTracker:
    """Feed it every frame; it returns the :class:`~engine.roi.RoiResult` to use for that frame.

    ``state``: ``"searching"`` (no box confirmed yet, or checking a change), ``"locked"``,
    ``"manual"``. ``changed``: whether the box given by the last :meth:`update` differs from the
    one before. ``finder``: the one-frame detector (default :func:`engine.roi.find_roi`).
    """

    def __init__(self, finder: Callable[[np.ndarray], RoiResult] | None = None, *, confirm: int = 3,
                 agree_iou: float = 0.9, min_confidence: float = 0.5, verify_every_s: float = 5.0,
                 out_changed: float = 0.01, grid_cells: int = 240, clock: Callable[[], float] = time.monotonic):
        self.finder = finder or find_roi
        self.confirm = max(1, int(confirm))
        self.agree_iou = agree_iou
        self.min_confidence = min_confidence
        self.verify_every_s = verify_every_s
        self.out_changed = out_changed
        self.grid_cells = grid_cells
        self.clock = clock
        self.manual: tuple[int, int, int, int] | None = None
        self.detections = 0  # fresh detections run so far (for tests and the bench)
        self._given = None  # the box the last update() gave
        self.reset()

    # ------------------------------------------------------------------ control
    def reset(self) -> None:
        """Forget the region: the next frames find it afresh (the GUI's "automatic ROI" / redetect)."""
        self.result: RoiResult | None = None  # what update() gives while not manual
        self.state = "searching"
        self.changed = False
        self._shape = None
        self._pending: list[RoiResult] = []
        self._ref = None
        self._t_lock = -1e18
        self._search_frames = 0

    def set_manual(self, box) -> None:
        """A user's box (x, y, w, h), or None to go back to the automatic one."""
        self.manual = None if box is None else tuple(int(v) for v in box)

    # ------------------------------------------------------------------ per frame
    def update(self, frame: np.ndarray, now: float | None = None) -> RoiResult:
        now = self.clock() if now is None else now
        shape = np.shape(frame)[:2]
        if self.manual is not None:
            self.state = "manual"
            return self._give(self._manual_result(shape))
        if shape != self._shape:  # another capture size: nothing kept applies
            self.reset()
            self._shape = shape
        elif self.state == "manual":  # back from a manual box: the kept region still holds
            self.state = "locked" if self._ref is not None else "searching"
        if self.state == "locked":
            if self._layout_changed(frame) or (self.verify_every_s > 0 and now - self._t_lock >= self.verify_every_s):
                self.state = "searching"
                self._pending = []
                self._search_frames = 0
        if self.state == "searching":
            self._search(frame, now)
        return self._give(self.result if self.result is not None else _full(shape, "no region found yet", 0.05))

    def _give(self, r: RoiResult) -> RoiResult:
        self.changed = r.box != self._given
        self._given = r.box
        return r

    # ------------------------------------------------------------------ internals
    def _manual_result(self, shape) -> RoiResult:
        H, W = shape
        x, y, w, h = self.manual
        x, y = min(max(0, x), W - 1), min(max(0, y), H - 1)
        w, h = max(1, min(w, W - x)), max(1, min(h, H - y))
        key = (shape, (x, y, w, h))
        if getattr(self, "_manual_key", None) != key:
            m = np.zeros(shape, bool)
            m[y:y + h, x:x + w] = True
            poly = np.array([[x, y], [x + w - 1, y], [x + w - 1, y + h - 1], [x, y + h - 1]])
            self._manual_res = RoiResult((x, y, w, h), m, "user", 1.0, poly, "manual box")
            self._manual_key = key
        return self._manual_res

    def _search(self, frame: np.ndarray, now: float) -> None:
        self._search_frames += 1
        # a long search (no two frames agree: probe off, noise) need not cost a detection a frame
        if self._search_frames > 4 * self.confirm and self._search_frames % 4:
            return
        try:
            r = self.finder(frame)
        except Exception:  # noqa: BLE001 - a failing finder must not stop the live view
            return
        self.detections += 1
        good = r.kind != "full" and getattr(r, "confidence", 1.0) >= self.min_confidence
        if self.result is None and (good or not self._pending):
            self.result = r  # something to show from the first frame on
        if not good:
            self._pending = []
            return
        if self._pending and box_iou(self._pending[-1].box, r.box) < self.agree_iou:
            self._pending = []
        self._pending.append(r)
        if self._ref is not None and box_iou(self.result.box, r.box) >= self.agree_iou:
            # agrees with the box in use: keep it as it is (no jitter), lock again
            self._lock(frame, self.result, now)
            return
        if len(self._pending) >= self.confirm:
            self._lock(frame, self._pending[-1], now)

    def _lock(self, frame: np.ndarray, r: RoiResult, now: float) -> None:
        self.result = r
        self.state = "locked"
        self._pending = []
        self._search_frames = 0
        self._t_lock = now
        H, W = np.shape(frame)[:2]
        step = max(1, int(round(max(H, W) / self.grid_cells)))
        g = _grid(frame, step)
        gh, gw = g.shape
        x, y, w, h = r.box
        # grid cells outside the box by a margin of 2 cells
        cx0, cy0 = x // step, y // step
        cx1, cy1 = -(-(x + w) // step), -(-(y + h) // step)
        outside = np.full((gh, gw), 255, np.uint8)
        outside[max(0, cy0 - 2):cy1 + 2, max(0, cx0 - 2):cx1 + 2] = 0
        inner = r.mask[step // 2::step, step // 2::step][:gh, :gw]
        sig = g > THRESHOLD
        rings = []  # per side: cells of the region within 3 cells of that edge of the box
        for sl in ((slice(cy0, cy0 + 3), slice(cx0, cx1)), (slice(cy1 - 3, cy1), slice(cx0, cx1)),
                   (slice(cy0, cy1), slice(cx0, cx0 + 3)), (slice(cy0, cy1), slice(cx1 - 3, cx1))):
            ring = np.zeros((gh, gw), bool)
            ring[sl] = True
            ring &= inner
            n = int(ring.sum())
            if n and (sig & ring).sum() > 0.3 * n:  # a side with image on it (not black or fluid already)
                rings.append((ring.astype(np.uint8) * 255, int((sig & ring).sum())))
        self._ref = (step, g, outside, max(1, int(np.count_nonzero(outside))), rings)

    def _layout_changed(self, frame: np.ndarray) -> bool:
        step, g_ref, outside, n_out, rings = self._ref
        g = _grid(frame, step)
        if g.shape != g_ref.shape:
            return True
        if n_out > 1:
            moved = cv2.compare(cv2.absdiff(g, g_ref), 40, cv2.CMP_GT)
            if cv2.countNonZero(cv2.bitwise_and(moved, outside)) > self.out_changed * n_out:
                return True  # text, scale or bars around the image changed, or the image grew
        if rings:
            sig = cv2.compare(g, THRESHOLD, cv2.CMP_GT)
            for ring, n_sig in rings:
                if cv2.countNonZero(cv2.bitwise_and(sig, ring)) < 0.3 * n_sig:
                    return True  # one side of the image went dark: it may have shrunk
        return False
