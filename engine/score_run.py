"""The parts of ``fuiqa score`` that keep results honest and patient data in: which ROI each frame
gets, how sources are named in outputs, what a heatmap image may show, and how a run that failed
part-way is written down.

* **ROI per frame** (:class:`RoiPlan`): a clip (video, DICOM) gets one ROI, found once on its first
  frames; a folder holds independent images (other scanners, sizes, layouts), so each image gets its
  own ROI — unless its first images share one size and one layout (a sweep exported frame by frame),
  in which case frames of that size share the stack ROI.
* **Names** (:func:`source_label`): outputs name a source by a short hash of its path (``src_1a2b3c4d``,
  the same id the GUI's cine review uses) — a file name is often the patient's name. ``--keep-names``
  opts in to real names.
* **Heatmap images** (:func:`region_overlay`): only the imaging region (cropped to the ROI, outside the
  mask blacked out), so burned-in institution and patient text never leaves the program; large frames
  are downscaled first, so the overlay never costs more memory than a ``max_side``-pixel image.
* **Partial runs** (:class:`RunLog`): rows already scored are written even when a later frame fails;
  the CSV then ends with an ``INCOMPLETE`` row and the command exits non-zero. Frames skipped with
  ``--skip-bad`` and damage the sources report (truncated video, DICOM whose header disagrees with its
  data) are listed in the CSV's ``status`` column and in the summary.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .result import CSV_COLUMNS

#: Longest side of a written heatmap image (larger regions are downscaled before drawing).
MAX_OVERLAY_SIDE = 1600
#: Two ROI boxes with at least this intersection-over-union are "the same layout".
SAME_LAYOUT_IOU = 0.8


# ----------------------------------------------------------------------------- names


def short_id(path) -> str:
    """8 hex digits of the SHA-1 of the resolved path (as the GUI's cine review names a cine)."""
    p = str(path)
    try:
        p = str(Path(p).resolve())
    except (OSError, RuntimeError):
        pass
    return hashlib.sha1(p.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def source_label(path, keep_names: bool = False, *, full: bool = False) -> str:
    """How outputs name ``path``: ``src_<short hash>``, or (``keep_names``) its name (``full``: the path).
    The built-in demo is always ``demo``."""
    text = str(path)
    if text.strip().lower() == "demo":
        return "demo"
    if text.lower().startswith("device:"):  # a capture card: no file name to hide
        return "device" + "".join(c for c in text[7:] if c.isalnum())
    if keep_names:
        from .sources import display_name

        return display_name(text if full else Path(text).name)
    return f"src_{short_id(path)}"


def default_csv_name(input_spec, keep_names: bool = False) -> Path:
    if keep_names:
        from .sources import display_name

        return Path(display_name(Path(str(input_spec)).stem) + "_scores.csv")
    return Path(source_label(input_spec) + "_scores.csv")


# ----------------------------------------------------------------------------- ROI


def _iou(a, b) -> float:
    from .roi_track import box_iou  # one box-IoU rule (the tracker's)

    return box_iou(a, b)


@dataclass
class Roi:
    box: tuple[int, int, int, int] | None  # None: the whole frame
    mask: np.ndarray | None = None
    kind: str = "full"
    confidence: float = 0.0
    shape: tuple[int, int] | None = None  # frame size it was found on

    def describe(self) -> str:
        if self.box is None:
            return "whole frame"
        x, y, w, h = self.box
        return f"{self.kind} x={x} y={y} w={w} h={h} (confidence {self.confidence:.2f})"


def _from_result(res, shape) -> Roi:
    return Roi(tuple(int(v) for v in res.box), getattr(res, "mask", None), getattr(res, "kind", "?"),
               float(getattr(res, "confidence", 0.0)), tuple(shape[:2]))


def find_one(image) -> Roi:
    from .roi import find_roi

    return _from_result(find_roi(image), image.shape)


def find_stack(images) -> Roi:
    from .roi import find_roi, find_roi_stack

    if len(images) > 1 and len({im.shape[:2] for im in images}) == 1:
        return _from_result(find_roi_stack(list(images)), images[0].shape)
    return _from_result(find_roi(images[0]), images[0].shape)


class RoiPlan:
    """The ROI of each frame of one ``fuiqa score`` run (see the module notes).

    ``spec``: ``"auto"``, ``None`` (whole frame) or a fixed ``(x, y, w, h)``. ``independent``: the
    frames are separate images (a folder), not one clip.
    """

    def __init__(self, spec, independent: bool):
        self.spec = spec
        self.independent = independent
        self.shared: Roi | None = None  # the one ROI used for every frame of its size
        self.per_image = False
        self.described: str | None = None  # what to print once

    def start(self, images: list) -> None:
        """Decide on the first batch of frames."""
        if self.spec != "auto":
            self.shared = Roi(None if self.spec is None else tuple(self.spec), kind="given" if self.spec else "full")
            self.described = self.shared.describe()
            return
        if not self.independent:
            self.shared = find_stack(images)
            self.described = self.shared.describe()
            return
        same_size = len(images) > 1 and len({im.shape[:2] for im in images}) == 1
        if same_size:
            stack = find_stack(images)
            singles = [find_one(im) for im in images]
            if all(s.box is not None and _iou(s.box, stack.box) >= SAME_LAYOUT_IOU for s in singles):
                self.shared = stack
                self.described = (f"{stack.describe()}, shared: the first {len(images)} images have one size "
                                  f"and layout (frames of another size get their own ROI)")
                return
        self.per_image = True
        self.described = "one ROI per image (the folder's images differ in size or layout)"

    def for_image(self, image) -> Roi:
        s = self.shared
        if s is not None and (s.shape is None or s.shape == tuple(image.shape[:2])):
            return s
        return find_one(image)


# ----------------------------------------------------------------------------- heatmap image


def region_overlay(frame, heatmap, roi: Roi, size: int, score: float | None = None, label: str | None = None,
                   max_side: int = MAX_OVERLAY_SIDE):
    """The imaging region only (cropped to the ROI box, black outside the mask), downscaled to at most
    ``max_side`` pixels, with the heatmap blended over it. No pixel outside the region is copied."""
    import cv2

    from .cli import heatmap_overlay
    from .preprocess import clip_roi

    x, y, w, h = clip_roi(roi.box, frame.shape)
    crop = frame[y : y + h, x : x + w]
    m = roi.mask
    m = m[y : y + h, x : x + w] if m is not None and getattr(m, "shape", None) == frame.shape[:2] else None
    s = min(1.0, float(max_side) / max(w, h))
    if s < 1.0:
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        crop = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
        if m is not None:
            m = cv2.resize(m.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST).astype(bool)
    else:
        crop = crop.copy()
    if m is not None:
        crop[~m] = 0
    return heatmap_overlay(crop, heatmap, None, size, m, score, label=label)


# ----------------------------------------------------------------------------- the CSV


@dataclass
class RunLog:
    """Rows of one run plus what went wrong: skipped frames, damaged sources, the error that ended it."""

    rows: list = field(default_factory=list)  # (source, frame, time_s, score, *csv_cells(result))
    skipped: list = field(default_factory=list)  # one line per skipped frame
    damaged: dict = field(default_factory=dict)  # source label -> what the source reported
    failure: str | None = None  # the error that ended the run early

    @property
    def incomplete(self) -> bool:
        return self.failure is not None

    def status_of(self, source: str) -> str:
        return "damaged source" if source in self.damaged else "ok"

    def csv_bytes(self, warning: str | None = None) -> bytes:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        n = len(CSV_COLUMNS)
        w.writerow(["source", "frame", "time_s", "score", "status", *CSV_COLUMNS] + (["warning"] if warning else []))
        extra = [warning] if warning else []
        blank = [""] * n
        for r in self.rows:
            r = list(r)
            cells = (r[4:] + blank)[:n]  # a row without a result's cells gets blank ones
            w.writerow(r[:4] + [self.status_of(r[0])] + cells + extra)
        for line in self.skipped:
            w.writerow(["", "", "", "", f"SKIPPED: {line}"] + blank + extra)
        if self.failure is not None:
            w.writerow(["", "", "", "", f"INCOMPLETE: {self.failure}"] + blank + extra)
        return buf.getvalue().encode("utf-8", "backslashreplace")

    def summary_lines(self) -> list[str]:
        out = [f"damaged source {k}: {v}" for k, v in self.damaged.items()]
        if self.skipped:
            out.append(f"{len(self.skipped)} frame(s) skipped (each listed above and in the CSV)")
        if self.failure is not None:
            out.append(f"INCOMPLETE: {len(self.rows)} frame(s) scored before the run stopped: {self.failure}")
        return out


def scrub(message: str, paths, keep_names: bool) -> str:
    """``message`` with every path in ``paths`` replaced by its :func:`source_label` (unless ``keep_names``)."""
    if keep_names:
        return message
    from .sources import display_name

    for p in sorted({str(p) for p in paths}, key=len, reverse=True):
        message = message.replace(display_name(p), source_label(p))
    return message


# ----------------------------------------------------------------------------- the loop


def user_label(text: str | None) -> str | None:
    """``--label``: letters, digits, '.', '_' and '-' only (it becomes part of file names)."""
    if text is None:
        return None
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:64]
    if not clean:
        raise ValueError(f"--label {text!r}: use letters, digits, '.', '_' or '-'")
    return clean


def one_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def read_batches(src, size: int, log, skip_bad: bool, scrub_msg):
    """Batches of frames read with ``src.read()``. A frame that cannot be decoded ends the run
    (SourceError) or, with ``skip_bad``, is listed in ``log.skipped`` and passed over."""
    from .sources import SourceError

    pending: list = []
    fails = 0
    while True:
        try:
            f = src.read()
            fails = 0
        except SourceError as e:
            if not skip_bad:
                if pending:  # score the frames read before the bad one, then stop
                    yield pending
                raise
            fails += 1
            print(f"skipped: {one_line(e)}", file=sys.stderr)
            log.skipped.append(scrub_msg(one_line(e)))
            if fails > 1000:  # a source that fails forever: stop instead of spinning
                raise
            continue
        if f is None:
            break
        pending.append(f)
        if len(pending) >= size:
            yield pending
            pending = []
    for line in getattr(src, "skipped", []) or []:  # a folder's unreadable images (skip_bad)
        print(f"skipped: {line}", file=sys.stderr)
        log.skipped.append(scrub_msg(line))
    if pending:
        yield pending


def score_batch(scorer, plan, batch, log, skip_bad: bool, label_of):
    """(frame, :class:`~engine.result.FrameResult`, roi) for each frame of ``batch``; frames are scored together when
    they share an ROI, one by one otherwise; with ``skip_bad`` a frame that cannot be scored is skipped."""
    rois = [plan.for_image(f.image) for f in batch]
    groups: list[list[int]] = []
    for i, r in enumerate(rois):
        if groups and rois[groups[-1][0]] is r:
            groups[-1].append(i)
        else:
            groups.append([i])
    for g in groups:
        roi = rois[g[0]]
        try:
            res = scorer.score([batch[i].image for i in g], roi.box)
        except (ValueError, RuntimeError) as e:
            if not skip_bad:
                raise ValueError(f"{label_of(batch[g[0]])}: frame {batch[g[0]].index} cannot be scored: {one_line(e)}") from e
            for i in g:
                print(f"skipped: frame {batch[i].index}: cannot be scored ({one_line(e)})", file=sys.stderr)
                log.skipped.append(f"{label_of(batch[i])} frame {batch[i].index}: cannot be scored ({one_line(e)})")
            continue
        for i, r in zip(g, res):
            yield batch[i], r, roi
