"""Frame-source basics shared by every kind of source: errors, :class:`Frame`, :class:`FrameSource`,
pixel conversion (:func:`to_uint8`), file checks and the OpenCV log silencer."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".wmv", ".mpg", ".mpeg", ".webm"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
DICOM_EXTS = {".dcm", ".dicom", ".dic"}

#: Default limit on the pixels of one decoded frame (width x height), checked against the size a
#: file's header declares *before* anything is decoded, so a 17 KB "decompression bomb" that claims
#: 20000x20000 is refused instead of taking gigabytes. Override with ``FUIQA_MAX_PIXELS`` or
#: :func:`set_max_pixels` (``fuiqa score --max-pixels``).
DEFAULT_MAX_PIXELS = 100_000_000
_max_pixels: int | None = None


class SourceError(Exception):
    """A missing or bad file or device; the message names it and says what is wrong."""


class SignalLost(SourceError):
    """A live device stopped delivering frames. Recoverable: call ``reopen()`` or open it again."""


@dataclass
class Frame:
    index: int  # 0-based frame number in the source
    time_s: float  # seconds since the start (from fps for files; monotonic clock for devices)
    image: np.ndarray  # uint8, BGR H×W×3 or gray H×W


@dataclass
class DeviceInfo:
    index: int
    name: str
    backend: str
    width: int | None = None
    height: int | None = None


# --------------------------------------------------------------------------------------------------
# pixel conversion


def to_uint8(img: np.ndarray, bits: int | None = None, *, rgb: bool = False) -> np.ndarray:
    """Any decoded image -> ``uint8`` gray ``H×W`` or BGR ``H×W×3``.

    ``bits``: significant bits of an integer image (``None``: the dtype's full range, e.g. 16 for
    ``uint16``). ``rgb=True``: a 3-channel input is RGB (DICOM, PIL) and is swapped to BGR.
    """
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 4:  # drop alpha
        a = a[:, :, :3]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise ValueError(f"unsupported image shape {a.shape}")
    if a.dtype == np.uint8:
        out = a
    elif a.dtype == np.bool_:
        out = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        a = np.nan_to_num(a.astype(np.float32))
        scale = 255.0 if float(a.max(initial=0.0)) <= 1.0 else 1.0
        out = np.clip(a * scale + 0.5, 0, 255).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        nbits = int(bits) if bits else info.bits
        if info.min < 0:  # signed: shift to unsigned
            a = a.astype(np.int64) + (1 << (nbits - 1))
        if nbits == 8:
            out = np.clip(a, 0, 255).astype(np.uint8)
        else:
            top = float((1 << nbits) - 1)
            out = np.clip(a.astype(np.float32) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"unsupported pixel type {a.dtype}")
    if rgb and out.ndim == 3:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)


# --------------------------------------------------------------------------------------------------
# base class


class FrameSource:
    """Base class: context manager, iterable of :class:`Frame`."""

    name: str = ""
    fps: float | None = None
    frame_count: int | None = None
    live: bool = False
    synthetic: bool = False

    def __init__(self) -> None:
        self.warnings: list[str] = []  # non-fatal problems (e.g. a video shorter than its header says)
        self._closed = False

    def read(self) -> Frame | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        while True:
            f = self.read()
            if f is None:
                return
            yield f

    def seek(self, index: int) -> None:
        raise NotImplementedError(f"{self.name}: this source cannot seek")

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # release devices/files even if the caller forgot
        try:
            if not self._closed:
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, fps={self.fps}, frames={self.frame_count}, "
                f"live={self.live}, synthetic={self.synthetic})")

    def _check_index(self, index: int) -> int:
        index = int(index)
        n = self.frame_count
        if index < 0 or (n is not None and index >= n):
            raise IndexError(f"{self.name}: frame {index} out of range (0..{(n or 0) - 1})")
        return index

    def _time(self, index: int) -> float:
        return index / self.fps if self.fps else 0.0


def _quiet_opencv():
    """Context manager: silence OpenCV's log while probing devices that may not exist."""
    @contextlib.contextmanager
    def cm():
        old = None
        try:
            old = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        except Exception:
            old = None
        try:
            yield
        finally:
            if old is not None:
                try:
                    cv2.utils.logging.setLogLevel(old)
                except Exception:
                    pass

    return cm()


def _check_file(path: Path) -> Path:
    name = display_name(path)
    if not path.exists():
        raise SourceError(f"{name}: file not found")
    if not path.is_file():
        raise SourceError(f"{name}: not a regular file")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise SourceError(f"{name}: cannot be read ({e})") from e
    if size == 0:
        raise SourceError(f"{name}: empty file (0 bytes)")
    return path


def max_pixels() -> int:
    """The pixel limit in force: :func:`set_max_pixels`, else ``$FUIQA_MAX_PIXELS``, else 100 MP."""
    if _max_pixels is not None:
        return _max_pixels
    env = os.environ.get("FUIQA_MAX_PIXELS", "").strip()
    if env:
        try:
            v = int(float(env))
        except ValueError:
            v = 0
        if v > 0:
            return v
    return DEFAULT_MAX_PIXELS


def set_max_pixels(n: int | None) -> None:
    """Set the pixel limit for this process (``None``: back to the environment / default)."""
    global _max_pixels
    if n is not None and int(n) <= 0:
        raise ValueError(f"pixel limit must be positive, not {n}")
    _max_pixels = None if n is None else int(n)


def check_pixels(path, width, height, frames: int = 1, what: str = "image") -> None:
    """Raise :class:`SourceError` when a declared ``width x height`` is non-positive or above the limit."""
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError):
        raise SourceError(f"{path}: {what} declares an invalid size ({width!r} x {height!r})") from None
    if w <= 0 or h <= 0:
        raise SourceError(f"{path}: {what} declares an invalid size ({w} x {h})")
    lim = max_pixels()
    if w * h > lim:
        raise SourceError(f"{path}: {what} declares {w} x {h} = {w * h / 1e6:.0f} MP per frame, above the "
                          f"{lim / 1e6:.0f} MP limit (set FUIQA_MAX_PIXELS or --max-pixels to allow it)")


def display_name(path) -> str:
    """A path as printable one-line text: bytes that are not valid UTF-8 become ``\\xNN`` escapes,
    control characters (a newline in a file name) their escapes."""
    text = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def utf8_ok(path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@contextlib.contextmanager
def opencv_path(path: Path):
    """A path OpenCV can take. OpenCV converts file names to UTF-8 and crashes (SIGSEGV) on names
    that are not valid UTF-8 (possible on Linux), so such a file is reached through a symlink with a
    plain name in a private temp folder, removed on exit."""
    if utf8_ok(path):
        yield str(path)
        return
    tmp = tempfile.mkdtemp(prefix="fuiqa-name-")
    try:
        link = Path(tmp) / ("input" + "".join(c for c in path.suffix if c.isascii() and c.isalnum() or c == "."))
        try:
            os.symlink(os.path.abspath(path), link)
        except OSError as e:
            raise SourceError(f"{display_name(path)}: file name is not valid UTF-8 and cannot be linked "
                              f"under a plain name ({e}); rename the file") from e
        yield str(link)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
