"""Find the imaging region (the fan or rectangle of B-mode data) in a scanner's screen output.

A frame grabbed from a scanner's video output is the whole screen: patient and probe text, logos,
header and app bars, parameter columns, grey-scale and colour bars, ECG traces, calipers, buttons.
:func:`find_roi` keeps the ultrasound image and leaves the rest out (on a copy shrunk to ~400 px):

1. signal = max of the colour channels, median-filtered, > 10; flat fills and big one-grey-level
   panels at the frame's border (header/app bars) are not signal (:mod:`engine.roi_signal`);
2. two morphological openings break text, ticks and thin bridges; connected components are rated
   by area, texture (speckle is rough, bars are flat) and shape;
3. the best one plus the pieces of the same image: side by side (dual view, a fan's flanks),
   stacked across a dark gap of fluid in the same columns, a textured strip of near field cut off
   by fluid, a fan's apex above fluid; what the opening shaved off is given back;
4. faint speckle next to it (dark flanks of a fan) where the background is flat;
5. the convex hull (a lopsided fan mirrored about its apex; a curved probe's fan run on along its
   straight sides where a flank is dark to its edge, :mod:`engine.roi_fan`), snapped at full
   resolution in strips along the box so it does not run past the image's edges onto a scale or
   header text (:mod:`engine.roi_find`).

:func:`find_roi_stack` takes several frames of one loop (what changes is image). :class:`RoiTracker`
(:mod:`engine.roi_track`) keeps the box steady in live view: found on a few frames, kept while the
layout is unchanged, found again when the screen changes; a manual box wins. :func:`parse_roi`
reads ``"x,y,w,h"``. Method, test cases, numbers and failure cases: docs/roi.md.
"""
from __future__ import annotations

import numpy as np

from .roi_find import RoiResult, find_roi, find_roi_stack
from .roi_signal import THRESHOLD, WORK_SIZE, roi_signal
from .roi_track import RoiTracker, box_iou

__all__ = ["RoiResult", "RoiTracker", "box_iou", "find_roi", "find_roi_stack", "parse_roi", "roi_signal",
           "THRESHOLD", "WORK_SIZE"]


def parse_roi(text: str) -> tuple[int, int, int, int]:
    """``"x,y,w,h"`` (integers, w and h > 0, x and y ≥ 0) -> tuple. ValueError with a clear message."""
    if not isinstance(text, str):
        raise ValueError(f"ROI must be text 'x,y,w,h', got {type(text).__name__}")
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    if len(parts) != 4 or any(p == "" for p in parts):
        raise ValueError(f"bad ROI {text!r}: expected four integers 'x,y,w,h' (e.g. 120,60,680,460)")
    vals = []
    for name, p in zip("xywh", parts):
        try:
            f = float(p)
        except ValueError:
            raise ValueError(f"bad ROI {text!r}: {name}={p!r} is not a number") from None
        if not np.isfinite(f) or f != int(f):
            raise ValueError(f"bad ROI {text!r}: {name}={p!r} is not a whole number")
        vals.append(int(f))
    x, y, w, h = vals
    if x < 0 or y < 0:
        raise ValueError(f"bad ROI {text!r}: x and y must be ≥ 0")
    if w <= 0 or h <= 0:
        raise ValueError(f"bad ROI {text!r}: width and height must be > 0")
    return x, y, w, h


# --------------------------------------------------------------------------------------------------
