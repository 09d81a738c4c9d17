"""Frame sources: capture devices, video files, DICOM (single and multi-frame), images, image folders.

Every source is a :class:`FrameSource`: a context manager and an iterable of :class:`Frame`
(``index``, ``time_s``, ``image`` as ``uint8`` BGR ``H×W×3`` or gray ``H×W``). ``read()`` returns
``None`` at the end of a finite source. A bad file raises :class:`SourceError` whose message names
the file and what is wrong with it; a capture device that stops delivering frames raises
:class:`SignalLost` (a ``SourceError``), from which a caller recovers with ``source.reopen()`` (or by
opening the device again).

``open_source(spec)`` picks the source from ``spec``: ``"demo"``, ``"device:N"`` or a path.
``open_source(path, play_as_live=True)`` wraps a file source in :class:`LivePacer`, which plays it
at its own frame rate in real time, looping, so the GUI can show a recording "as if live".

The package is split by kind of source: ``base`` (errors, ``Frame``, ``FrameSource``, ``to_uint8``),
``devices``, ``video``, ``dicom``, ``images`` (image files and folders) and ``pacer`` (``LivePacer``);
every public name is importable from ``engine.sources``.
"""
from __future__ import annotations

import os
import sys  # noqa: F401 - tests patch sources.sys.platform
from pathlib import Path

import cv2  # noqa: F401 - tests patch sources.cv2.VideoCapture

from . import devices  # noqa: F401
from .base import (DICOM_EXTS, IMAGE_EXTS, VIDEO_EXTS, DeviceInfo, Frame, FrameSource, SignalLost,
                   DEFAULT_MAX_PIXELS, SourceError, _check_file, _quiet_opencv, check_pixels, display_name,
                   max_pixels, opencv_path, set_max_pixels, to_uint8)
from .devices import BACKENDS, DeviceSource, _backend_id, _v4l2_names, default_backend, list_devices
from .dicom import DicomSource
from .images import FolderSource, ImageSource, _natural_key, _read_image
from .pacer import LivePacer
from .video import VideoSource

__all__ = [
    "SourceError", "SignalLost", "Frame", "FrameSource", "DeviceInfo", "DeviceSource", "VideoSource",
    "DicomSource", "ImageSource", "FolderSource", "LivePacer", "open_source", "list_devices",
    "demo_path", "to_uint8", "VIDEO_EXTS", "IMAGE_EXTS", "DICOM_EXTS", "BACKENDS",
    "DEFAULT_MAX_PIXELS", "max_pixels", "set_max_pixels", "check_pixels", "display_name",
]


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def demo_path() -> Path:
    """The built-in synthetic demo sweep (``assets/demo/demo_sweep.mp4``)."""
    return repo_root() / "assets" / "demo" / "demo_sweep.mp4"


# --------------------------------------------------------------------------------------------------
# opening by spec


def _sniff_dicom(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) >= 132 and head[128:132] == b"DICM"


def open_source(spec: str | os.PathLike, **kw) -> FrameSource:
    """Open ``spec``: ``"demo"`` | ``"device:N"`` (kw: backend, width, height, fps, fourcc, ...) |
    a path to a video, DICOM, image or folder.

    kw for files: ``play_as_live=True`` wraps the source in :class:`LivePacer` (kw ``loop``,
    ``speed``); ``synthetic=True`` marks it synthetic; folders take ``fps`` and ``skip_bad``.
    """
    kw = dict(kw)
    play_as_live = bool(kw.pop("play_as_live", False))
    pacer_kw = {k: kw.pop(k) for k in ("loop", "speed", "drop") if k in kw}
    text = str(spec)
    if isinstance(spec, str) and text.strip().lower() == "demo":
        p = demo_path()
        if not p.is_file():
            raise SourceError(f"the demo asset is missing: {p} (make it with the synthetic-data generator)")
        kw.setdefault("synthetic", True)
        src: FrameSource = VideoSource(p, synthetic=kw["synthetic"])
    elif isinstance(spec, str) and text.lower().startswith("device:"):
        rest = text.split(":", 1)[1]
        parts = rest.split(":")
        try:
            index = int(parts[0])
        except ValueError:
            raise SourceError(f"bad device spec {text!r}: expected device:N (N = 0, 1, ...)") from None
        if len(parts) > 1 and parts[1]:
            kw.setdefault("backend", parts[1])
        return DeviceSource(index, **kw)
    else:
        path = Path(spec)
        if not path.exists():
            raise SourceError(f"{path}: no such file or folder")
        synthetic = bool(kw.pop("synthetic", False))
        suf = path.suffix.lower()
        if path.is_dir():
            src = FolderSource(path, synthetic=synthetic, **{k: kw[k] for k in ("fps", "skip_bad") if k in kw})
        elif suf in VIDEO_EXTS:
            src = VideoSource(path, synthetic=synthetic)
        elif suf in DICOM_EXTS or _sniff_dicom(path):
            src = DicomSource(path, synthetic=synthetic)
        elif suf in IMAGE_EXTS:
            src = ImageSource(path, synthetic=synthetic)
        elif suf == "":
            src = DicomSource(path, synthetic=synthetic)  # DICOM files often have no suffix
        else:
            _check_file(path)
            raise SourceError(f"{path}: unsupported file type {suf!r} (video: {', '.join(sorted(VIDEO_EXTS))}; "
                              f"images: {', '.join(sorted(IMAGE_EXTS))}; DICOM: .dcm or no suffix)")
    if play_as_live:
        return LivePacer(src, **pacer_kw)
    return src
