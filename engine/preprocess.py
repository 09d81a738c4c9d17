"""The one preprocessing path: raw frame + ROI -> model input.

Training, scoring, the CLI and the GUI all call :func:`preprocess` unchanged, so what the model
saw while learning is exactly what it sees at the bedside.

Conventions
-----------
* ``frame``: ``H×W`` gray, ``H×W×1``, ``H×W×3`` (BGR by default, OpenCV's order) or ``H×W×4``
  (BGRA); ``uint8``, ``uint16`` (full 16-bit range, i.e. divided by 257 to 8 bit) or float in [0, 1].
  Sources rescale DICOM data with fewer stored bits to the full range of their dtype.
* ``roi``: ``(x, y, w, h)`` in full-frame pixels, or ``None`` for the whole frame. It is clipped to
  the frame.
* The ROI crop is letterboxed (aspect kept, centred, zero padding) into a ``size×size`` square,
  converted to gray and normalised with fixed constants (no per-frame normalisation: gain is a
  quality factor the model must see).
* Output: ``float32`` array of shape ``(1, size, size)``.

:class:`Letterbox` records the geometry so a heatmap can be mapped back onto the frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Fixed input normalisation: x = (gray / 255 - MEAN) / STD.
MEAN = 0.2
STD = 0.25

Roi = tuple[int, int, int, int]


@dataclass(frozen=True)
class Letterbox:
    """Where the ROI landed inside the ``size×size`` model input."""

    roi: Roi  # clipped ROI in frame pixels
    size: int  # model input side
    scale: float  # model pixels per frame pixel
    ox: int  # x offset of the ROI inside the model input
    oy: int  # y offset
    nw: int  # ROI width inside the model input
    nh: int  # ROI height inside the model input


def clip_roi(roi: Roi | None, shape: tuple[int, ...]) -> Roi:
    """Clip ``roi`` to a frame of ``shape``; ``None`` means the whole frame."""
    H, W = int(shape[0]), int(shape[1])
    if roi is None:
        return (0, 0, W, H)
    x, y, w, h = (int(round(v)) for v in roi)
    x0, y0 = max(0, min(x, W - 1)), max(0, min(y, H - 1))
    x1, y1 = max(x0 + 1, min(x + w, W)), max(y0 + 1, min(y + h, H))
    return (x0, y0, x1 - x0, y1 - y0)


def letterbox_geometry(roi: Roi, size: int) -> Letterbox:
    x, y, w, h = roi
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    return Letterbox(roi, size, scale, (size - nw) // 2, (size - nh) // 2, nw, nh)


def to_gray_u8(img: np.ndarray, color: str = "bgr") -> np.ndarray:
    """Any supported frame (or crop) -> 2-D ``uint8`` gray."""
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)  # full-range 16 bit -> 8 bit (cheap, monotonic)
    elif a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.number):
            raise TypeError(f"unsupported frame dtype {a.dtype}")
        a = np.clip(np.nan_to_num(a.astype(np.float32)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return a
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"unsupported frame shape {a.shape}")
    if a.shape[2] == 4:
        code = cv2.COLOR_BGRA2GRAY if color == "bgr" else cv2.COLOR_RGBA2GRAY
    else:
        code = cv2.COLOR_BGR2GRAY if color == "bgr" else cv2.COLOR_RGB2GRAY
    return cv2.cvtColor(np.ascontiguousarray(a), code)


def preprocess(
    frame: np.ndarray,
    roi: Roi | None = None,
    size: int = 128,
    color: str = "bgr",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Raw frame + ROI -> ``float32 (1, size, size)`` model input (see module docstring).

    ``out`` may be a preallocated ``float32`` array of shape ``(1, size, size)`` (e.g. one slot of a
    batch) that is filled in place and returned.
    """
    frame = np.asarray(frame)
    if frame.ndim not in (2, 3) or frame.shape[0] < 2 or frame.shape[1] < 2:
        raise ValueError(f"not an image frame: shape {frame.shape}")
    geo = letterbox_geometry(clip_roi(roi, frame.shape), size)
    x, y, w, h = geo.roi
    # crop first (a view), convert only the crop to gray: the colour conversion is the costly part.
    gray = to_gray_u8(frame[y : y + h, x : x + w], color)
    # INTER_AREA averages speckle properly when shrinking; on a large crop first halve it cheaply
    # with INTER_LINEAR at exact 2:1 (equal to a 2x2 box filter) to keep the cost down.
    while gray.shape[0] >= 4 * geo.nh and gray.shape[1] >= 4 * geo.nw:
        gray = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
    interp = cv2.INTER_AREA if (gray.shape[1] > geo.nw or gray.shape[0] > geo.nh) else cv2.INTER_LINEAR
    small = cv2.resize(gray, (geo.nw, geo.nh), interpolation=interp)
    if out is None:
        out = np.empty((1, size, size), np.float32)
    pad = -MEAN / STD
    out.fill(pad)
    region = out[0, geo.oy : geo.oy + geo.nh, geo.ox : geo.ox + geo.nw]
    np.multiply(small, np.float32(1.0 / (255.0 * STD)), out=region, casting="unsafe")
    region -= np.float32(MEAN / STD)
    return out


def grid_coverage(mask: np.ndarray, roi: Roi | None, size: int, grid: int) -> np.ndarray:
    """Share of each of the ``grid × grid`` heatmap cells that a frame-pixel map covers (float32, 0–1),
    through the same crop and letterbox as :func:`preprocess` (``mask``: bool or 0–1, frame-sized)."""
    m = np.asarray(mask, np.float32)
    geo = letterbox_geometry(clip_roi(roi, m.shape), size)
    x, y, w, h = geo.roi
    canvas = np.zeros((size, size), np.float32)
    canvas[geo.oy:geo.oy + geo.nh, geo.ox:geo.ox + geo.nw] = cv2.resize(
        m[y:y + h, x:x + w], (geo.nw, geo.nh), interpolation=cv2.INTER_AREA)
    return cv2.resize(canvas, (grid, grid), interpolation=cv2.INTER_AREA)


def preprocess_batch(frames, rois=None, size: int = 128, color: str = "bgr") -> np.ndarray:
    """Stack of :func:`preprocess` results, shape ``(N, 1, size, size)``."""
    frames = list(frames)
    if rois is None or isinstance(rois, tuple):
        rois = [rois] * len(frames)
    batch = np.empty((len(frames), 1, size, size), np.float32)
    for i, (f, r) in enumerate(zip(frames, rois)):
        preprocess(f, r, size, color, out=batch[i])
    return batch


def heatmap_to_frame(heatmap: np.ndarray, roi: Roi | None, frame_shape: tuple[int, ...], size: int) -> tuple[np.ndarray, Roi]:
    """Map a model heatmap (``h×w`` over the ``size×size`` input) back onto the frame.

    Returns ``(patch, roi)``: ``patch`` is a float32 ``roi_h×roi_w`` map covering exactly the clipped
    ROI (letterbox padding removed), to be drawn at ``roi`` in frame pixels.
    """
    geo = letterbox_geometry(clip_roi(roi, frame_shape), size)
    hm = np.asarray(heatmap, np.float32)
    up = cv2.resize(hm, (size, size), interpolation=cv2.INTER_LINEAR)
    inner = up[geo.oy : geo.oy + geo.nh, geo.ox : geo.ox + geo.nw]
    x, y, w, h = geo.roi
    return cv2.resize(inner, (w, h), interpolation=cv2.INTER_LINEAR), geo.roi
