"""Find the imaging region (the fan or rectangle of B-mode data) in a scanner's screen output.

A frame grabbed from a scanner's video output is the whole screen: patient and probe text, logos,
grey-scale and colour bars, ECG traces, calipers, tool bars. :func:`find_roi` keeps the ultrasound
image and leaves the rest out. Method (on a copy shrunk to ~400 px, so a 1080p frame costs a few ms):

1. signal = max of the colour channels (colour Doppler counts as image), median-filtered (removes
   speckle pin-holes and 1–2 px text strokes), thresholded low (> 10);
2. two morphological openings (discs ~1.6 % and ~3.5 % of the long side): thin things (text, tick
   marks, dotted calipers, ECG traces) vanish and thin bridges from text to the image break;
3. connected components, each rated by area, texture (B-mode speckle is rough; filled header bars
   are flat) and shape (thin bars along an edge — grey-scale bars, tool bars, headers — are
   rejected); the best one plus large textured neighbours that line up with it (dual views, a fan
   split by a dark band) are kept, and given back what the big opening shaved off (fan apex);
4. extended into *faint speckle* next to it — pixels below the threshold that are rough, away from
   anything bright — which marks the dark flanks of a fan (screen background is flat);
5. the convex hull, drawn at full resolution, is the mask; ``box`` is its bounding rectangle.

``kind`` is ``"sector"`` when the region is narrow at the top and wide below, ``"linear"`` when it
is rectangle-like, and ``"full"`` (the whole frame, low confidence) when nothing plausible is found
(a black or flat frame, noise, or an image already cropped to its ultrasound region).

:func:`find_roi_stack` takes several frames of one loop: pixels that change over time (speckle,
even faint) mark the image, and burned-in text or frozen thumbnails, which never change, are left
out. :func:`parse_roi` reads ``"x,y,w,h"``. Notes and failure cases: docs/roi.md.
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
