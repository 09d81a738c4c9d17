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
"""
from __future__ import annotations

import math
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

__all__ = [
    "SourceError", "SignalLost", "Frame", "FrameSource", "DeviceInfo", "DeviceSource", "VideoSource",
    "DicomSource", "ImageSource", "FolderSource", "LivePacer", "open_source", "list_devices",
    "demo_path", "to_uint8", "VIDEO_EXTS", "IMAGE_EXTS", "DICOM_EXTS", "BACKENDS",
]

VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".wmv", ".mpg", ".mpeg", ".webm"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
DICOM_EXTS = {".dcm", ".dicom", ".dic"}

#: Capture back-ends by name -> OpenCV ``apiPreference``.
BACKENDS: dict[str, int] = {
    "any": cv2.CAP_ANY,
    "v4l2": cv2.CAP_V4L2,
    "dshow": cv2.CAP_DSHOW,
    "msmf": cv2.CAP_MSMF,
    "avfoundation": cv2.CAP_AVFOUNDATION,
}


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


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def demo_path() -> Path:
    """The built-in synthetic demo sweep (``assets/demo/demo_sweep.mp4``)."""
    return repo_root() / "assets" / "demo" / "demo_sweep.mp4"


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


# --------------------------------------------------------------------------------------------------
# capture devices


def _quiet_opencv():
    """Context manager: silence OpenCV's log while probing devices that may not exist."""
    import contextlib

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


def default_backend() -> str:
    if sys.platform.startswith("linux"):
        return "v4l2"
    if sys.platform == "win32":
        return "msmf"
    if sys.platform == "darwin":
        return "avfoundation"
    return "any"


def _backend_id(backend: str | None) -> tuple[str, int]:
    name = (backend or "auto").lower()
    if name == "auto":
        name = default_backend()
    if name not in BACKENDS:
        raise SourceError(f"unknown capture backend {backend!r} (choose from auto, {', '.join(BACKENDS)})")
    return name, BACKENDS[name]


def _v4l2_names() -> dict[int, str]:
    out: dict[int, str] = {}
    base = Path("/sys/class/video4linux")
    if not base.is_dir():
        return out
    for d in base.glob("video*"):
        m = re.fullmatch(r"video(\d+)", d.name)
        if not m:
            continue
        try:
            out[int(m.group(1))] = (d / "name").read_text(errors="replace").strip()
        except OSError:
            out[int(m.group(1))] = d.name
    return out


class DeviceSource(FrameSource):
    """A capture card / camera through ``cv2.VideoCapture(index, apiPreference)``.

    Requested ``width``/``height``/``fps`` are set as properties; ``self.width``, ``self.height`` and
    ``self.fps`` report what the device actually gives. ``read()`` retries failed grabs and raises
    :class:`SignalLost` after ``max_failures`` failures in a row or ``lost_after_s`` seconds without
    a frame; ``reopen()`` releases and opens the device again (raising ``SignalLost`` while it is
    still gone).
    """

    live = True

    def __init__(self, index: int, backend: str | None = "auto", width: int | None = None,
                 height: int | None = None, fps: float | None = None, fourcc: str | None = None,
                 max_failures: int = 30, lost_after_s: float = 1.0, retry_sleep_s: float = 0.01,
                 synthetic: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.index = int(index)
        self.backend, self._api = _backend_id(backend)
        self.requested = {"width": width, "height": height, "fps": fps, "fourcc": fourcc}
        self.max_failures = max(1, int(max_failures))
        self.lost_after_s = float(lost_after_s)
        self.retry_sleep_s = float(retry_sleep_s)
        self.synthetic = synthetic
        self._clock = clock
        self.name = f"device:{self.index} ({self.backend})"
        self.frame_count = None
        self.width = self.height = None
        self._cap = None
        self._n = 0
        self._t0: float | None = None
        self._open(lost=False)

    def _open(self, *, lost: bool) -> None:
        err = SignalLost if lost else SourceError
        with _quiet_opencv():
            try:
                cap = cv2.VideoCapture(self.index, self._api)
            except Exception as e:  # noqa: BLE001 - OpenCV raises cv2.error for odd back-ends
                raise err(f"capture device {self.index} (backend {self.backend}) could not be opened: {e}") from e
            if cap is None or not cap.isOpened():
                if cap is not None:
                    cap.release()
                raise err(f"capture device {self.index} (backend {self.backend}) could not be opened "
                          f"(no such device, busy, or not supported by this backend)")
        r = self.requested
        if r["fourcc"]:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*str(r["fourcc"])[:4].ljust(4)))
        if r["width"]:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, float(r["width"]))
        if r["height"]:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, float(r["height"]))
        if r["fps"]:
            cap.set(cv2.CAP_PROP_FPS, float(r["fps"]))
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        f = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.width, self.height = (w or None), (h or None)
        self.fps = f if f > 0 and math.isfinite(f) else None
        self._cap = cap
        self._failures = 0
        self._last_ok = self._clock()

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SignalLost(f"{self.name}: device is closed or lost; call reopen()")
        while True:
            try:
                ok, img = self._cap.read()
            except Exception:  # noqa: BLE001 - a vanished USB device can make OpenCV raise
                ok, img = False, None
            now = self._clock()
            if ok and img is not None and img.size:
                self._failures = 0
                self._last_ok = now
                if self._t0 is None:
                    self._t0 = now
                if self.width is None:
                    self.height, self.width = img.shape[:2]
                frame = Frame(self._n, now - self._t0, to_uint8(img))
                self._n += 1
                return frame
            self._failures += 1
            if self._failures >= self.max_failures or now - self._last_ok >= self.lost_after_s:
                n, dt = self._failures, now - self._last_ok
                self._failures = 0
                self._last_ok = now
                raise SignalLost(f"{self.name}: signal lost (no frame for {dt:.2f} s, {n} failed reads in a row)")
            if self.retry_sleep_s > 0:
                time.sleep(self.retry_sleep_s)

    def reopen(self) -> None:
        """Release and open the device again (after :class:`SignalLost`). Raises ``SignalLost`` if it
        is still not there."""
        self._release()
        self._open(lost=True)
        self._closed = False

    def seek(self, index: int) -> None:
        raise NotImplementedError(f"{self.name}: a live device cannot seek")

    def close(self) -> None:
        self._release()
        super().close()

    def _release(self) -> None:
        if self._cap is not None:
            try:
                self._cap.release()
            except Exception:  # noqa: BLE001
                pass
            self._cap = None


def list_devices(max_index: int = 8, backend: str | None = "auto", probe: bool = True) -> list[DeviceInfo]:
    """Capture devices that open. On Linux the candidates are /dev/video* nodes (names from
    /sys/class/video4linux/*/name); elsewhere indices ``0..max_index-1`` are probed.
    ``probe=False`` lists the Linux nodes without opening them (no width/height)."""
    bname, api = _backend_id(backend)
    names = _v4l2_names() if sys.platform.startswith("linux") else {}
    if names:
        candidates = sorted(i for i in names if i < max(max_index, 64))
    elif sys.platform.startswith("linux") and Path("/sys/class/video4linux").is_dir():
        candidates = []
    elif sys.platform.startswith("linux"):
        candidates = [i for i in range(max_index) if Path(f"/dev/video{i}").exists()]
    else:
        candidates = list(range(max_index))
    out: list[DeviceInfo] = []
    for i in candidates:
        name = names.get(i, f"camera {i}")
        if not probe:
            out.append(DeviceInfo(i, name, bname))
            continue
        with _quiet_opencv():
            try:
                cap = cv2.VideoCapture(i, api)
            except Exception:  # noqa: BLE001
                continue
            try:
                if not cap.isOpened():
                    continue
                w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0) or None
                h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0) or None
                out.append(DeviceInfo(i, name, bname, w, h))
            finally:
                cap.release()
    return out


# --------------------------------------------------------------------------------------------------
# files


def _check_file(path: Path) -> Path:
    if not path.exists():
        raise SourceError(f"{path}: file not found")
    if not path.is_file():
        raise SourceError(f"{path}: not a regular file")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise SourceError(f"{path}: cannot be read ({e})") from e
    if size == 0:
        raise SourceError(f"{path}: empty file (0 bytes)")
    return path


class VideoSource(FrameSource):
    """A video file through OpenCV (mp4/avi/mov/mkv ...). fps and frame count from the container;
    a file that opens but yields no frame is reported as corrupt or truncated."""

    def __init__(self, path: str | os.PathLike, synthetic: bool = False) -> None:
        super().__init__()
        self.path = _check_file(Path(path))
        self.name = str(self.path)
        self.synthetic = synthetic
        with _quiet_opencv():
            cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self.path}: cannot be opened as a video (corrupt, truncated or unsupported format)")
        self._cap = cap
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if fps > 0 and math.isfinite(fps) and fps < 1000 else None
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = n if n > 0 else None
        ok, img = self._grab()
        if not ok:
            cap.release()
            self._cap = None
            raise SourceError(f"{self.path}: the video opened but no frame could be decoded "
                              f"(corrupt or truncated file)")
        self._pending: np.ndarray | None = img
        self.height, self.width = img.shape[:2]
        self._pos = 0  # index of the next frame read() returns

    def _grab(self) -> tuple[bool, np.ndarray | None]:
        try:
            ok, img = self._cap.read()
        except cv2.error:
            return False, None
        return (bool(ok) and img is not None and img.size > 0), img

    def read(self) -> Frame | None:
        if self._cap is None:
            return None
        if self._pending is not None:
            img, self._pending = self._pending, None
        else:
            ok, img = self._grab()
            if not ok:
                if self.frame_count is not None and self._pos < self.frame_count:
                    self.warnings.append(f"{self.path}: ends after {self._pos} of {self.frame_count} frames "
                                         f"announced by its header (truncated?)")
                    self.frame_count = self._pos
                return None
        f = Frame(self._pos, self._time(self._pos), to_uint8(img))
        self._pos += 1
        return f

    def seek(self, index: int) -> None:
        index = self._check_index(index)
        if self._cap is None:
            raise SourceError(f"{self.path}: closed")
        self._pending = None
        if index == self._pos:
            return
        if not self._cap.set(cv2.CAP_PROP_POS_FRAMES, float(index)):
            # fallback: rewind and skip
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0.0)
            for _ in range(index):
                if not self._grab()[0]:
                    break
        self._pos = index

    def close(self) -> None:
        if getattr(self, "_cap", None) is not None:
            self._cap.release()
            self._cap = None
        super().close()


def _dicom_fps(ds) -> float | None:
    def num(v):
        try:
            x = float(v)
        except (TypeError, ValueError):
            return None
        return x if x > 0 and math.isfinite(x) else None

    ft = num(ds.get("FrameTime"))
    if ft:
        return 1000.0 / ft
    ftv = ds.get("FrameTimeVector")
    if ftv is not None:
        try:
            vals = [float(v) for v in ftv][1:]  # first entry is 0
            vals = [v for v in vals if v > 0]
            if vals:
                return 1000.0 / float(np.mean(vals))
        except (TypeError, ValueError):
            pass
    for key in ("CineRate", "RecommendedDisplayFrameRate"):
        v = num(ds.get(key))
        if v:
            return v
    return None


class DicomSource(FrameSource):
    """DICOM single- and multi-frame images (ultrasound cine loops, secondary captures).

    Handles MONOCHROME1/2, RGB, PALETTE COLOR (LUT applied), YBR_FULL/YBR_FULL_422/YBR_RCT/YBR_ICT and
    compressed transfer syntaxes through pydicom's decoders (pylibjpeg: JPEG baseline, lossless,
    JPEG 2000). Frames are decoded one at a time on ``read()``. ``BitsStored`` > 8 is rescaled to
    ``uint8``. ``self.us_regions`` lists the ultrasound regions (x, y, w, h) the file declares, if any.
    """

    def __init__(self, path: str | os.PathLike, synthetic: bool = False) -> None:
        super().__init__()
        import pydicom
        from pydicom.errors import InvalidDicomError

        self.path = _check_file(Path(path))
        self.name = str(self.path)
        self.synthetic = synthetic
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                try:
                    ds = pydicom.dcmread(str(self.path))
                except InvalidDicomError:
                    ds = pydicom.dcmread(str(self.path), force=True)
                    if "PixelData" not in ds and "Rows" not in ds:
                        raise SourceError(f"{self.path}: not a DICOM file (no DICM header and no image elements)")
            except SourceError:
                raise
            except Exception as e:  # noqa: BLE001 - pydicom raises many kinds on damaged files
                raise SourceError(f"{self.path}: not a readable DICOM file ({type(e).__name__}: {e})") from e
        eof = [str(w.message) for w in caught if "end of file" in str(w.message).lower()]
        self._ds = ds
        if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
            if eof:
                raise SourceError(f"{self.path}: DICOM file is truncated (it ends inside the pixel data)")
            sop = ds.get("SOPClassUID")
            what = f" ({sop.name})" if sop is not None and hasattr(sop, "name") else ""
            raise SourceError(f"{self.path}: DICOM file has no pixel data{what}")
        try:
            self.rows, self.cols = int(ds.Rows), int(ds.Columns)
            self.samples = int(ds.get("SamplesPerPixel", 1) or 1)
            self.bits_allocated = int(ds.get("BitsAllocated", 8) or 8)
            self.bits_stored = int(ds.get("BitsStored", self.bits_allocated) or self.bits_allocated)
        except (AttributeError, TypeError, ValueError) as e:
            raise SourceError(f"{self.path}: DICOM image attributes missing or invalid ({e})") from e
        self.photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
        try:
            n = int(ds.get("NumberOfFrames", 1) or 1)
        except (TypeError, ValueError):
            n = 1
        self.frame_count = max(1, n)
        self.fps = _dicom_fps(ds) if self.frame_count > 1 else None
        self._check_pixel_length()
        self.us_regions = self._regions()
        self._pos = 0
        # decode the first frame now so a damaged file fails at open with a clear message
        self._first: np.ndarray | None = self._decode(0)
        self.height, self.width = self._first.shape[:2]

    def _check_pixel_length(self) -> None:
        ds, p = self._ds, self.path
        data = ds.get("PixelData")
        if data is None:
            return
        data = data if isinstance(data, (bytes, bytearray)) else getattr(ds["PixelData"], "value", b"")
        if ds.file_meta.get("TransferSyntaxUID") is not None and ds.file_meta.TransferSyntaxUID.is_compressed:
            from pydicom.encaps import generate_frames

            try:
                got = sum(1 for _ in generate_frames(data, number_of_frames=self.frame_count))
            except Exception as e:  # noqa: BLE001
                raise SourceError(f"{p}: compressed pixel data is damaged or truncated ({e})") from e
            if got < self.frame_count:
                raise SourceError(f"{p}: compressed pixel data holds {got} of {self.frame_count} frames "
                                  f"(truncated file)")
            return
        bits = self.bits_allocated
        spp = self.samples
        per = self.rows * self.cols * spp
        if self.photometric == "YBR_FULL_422":
            per = self.rows * self.cols * 2
        expected = (per * self.frame_count * bits + 7) // 8
        if len(data) < expected:
            raise SourceError(f"{p}: pixel data is {len(data)} bytes but {self.frame_count} frame(s) of "
                              f"{self.cols}x{self.rows}x{spp} at {bits} bits need {expected} (truncated file)")

    def _regions(self) -> list[tuple[int, int, int, int]]:
        out = []
        for r in self._ds.get("SequenceOfUltrasoundRegions", []) or []:
            try:
                x0, y0 = int(r.RegionLocationMinX0), int(r.RegionLocationMinY0)
                x1, y1 = int(r.RegionLocationMaxX1), int(r.RegionLocationMaxY1)
                out.append((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
            except (AttributeError, TypeError, ValueError):
                continue
        return out

    def _decode(self, index: int) -> np.ndarray:
        from pydicom.pixels import apply_color_lut, pixel_array

        ds = self._ds
        try:
            arr = pixel_array(ds, index=index if self.frame_count > 1 else None)
        except Exception as e:  # noqa: BLE001
            raise SourceError(f"{self.path}: frame {index} cannot be decoded ({type(e).__name__}: {e})") from e
        if arr.ndim == 4:  # should not happen with index, but be safe
            arr = arr[0]
        pi = self.photometric
        bits: int | None = self.bits_stored
        try:
            if pi == "PALETTE COLOR":
                arr = apply_color_lut(arr, ds)
                bits = None
                # LUT entries: 8 or 16 bit; some 16-bit tables only use the low byte
                if arr.dtype != np.uint8:
                    top = int(arr.max(initial=0))
                    bits = 8 if top <= 255 else 16
                return to_uint8(arr, bits, rgb=True)
            if pi == "MONOCHROME1":
                top = (1 << bits) - 1 if np.issubdtype(arr.dtype, np.integer) else 1.0
                if np.issubdtype(arr.dtype, np.signedinteger):
                    arr = arr.astype(np.int64) + (1 << (bits - 1))
                arr = top - arr
                arr = np.clip(arr, 0, top).astype(np.uint16 if bits > 8 else np.uint8)
                return to_uint8(arr, bits)
            if arr.ndim == 3:
                # pydicom's pixel_array converts YBR_FULL/_422 to RGB (raw=False); J2K (YBR_RCT/ICT)
                # and JPEG baseline decoders give RGB already.
                return to_uint8(arr, bits, rgb=True)
            return to_uint8(arr, bits)
        except SourceError:
            raise
        except Exception as e:  # noqa: BLE001
            raise SourceError(f"{self.path}: frame {index} cannot be converted ({pi}: {e})") from e

    def read(self) -> Frame | None:
        if self._closed or self._pos >= self.frame_count:
            return None
        i = self._pos
        if i == 0 and self._first is not None:
            img, self._first = self._first, None
        else:
            img = self._decode(i)
        self._pos += 1
        return Frame(i, self._time(i), img)

    def frame(self, index: int) -> np.ndarray:
        """Decode one frame by index (random access, no state change)."""
        return self._decode(self._check_index(index))

    def seek(self, index: int) -> None:
        self._pos = self._check_index(index)
        if self._pos != 0:
            self._first = None

    def close(self) -> None:
        self._first = None
        super().close()


_PNG_END = b"IEND\xaeB`\x82"


def _read_image(path: Path) -> np.ndarray:
    """One image file -> uint8 gray or BGR. Clear SourceError on empty/corrupt/truncated files."""
    _check_file(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # works with non-ASCII paths on Windows
    except OSError as e:
        raise SourceError(f"{path}: cannot be read ({e})") from e
    raw = data.tobytes()
    suf = path.suffix.lower()
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and _PNG_END not in raw[-64:]:
        raise SourceError(f"{path}: PNG file is truncated (no end marker)")
    if raw[:2] == b"\xff\xd8" and b"\xff\xd9" not in raw[-1024:]:
        raise SourceError(f"{path}: JPEG file is truncated (no end-of-image marker)")
    with _quiet_opencv():
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        # Pillow reads a few variants OpenCV does not (e.g. some TIFF compressions)
        try:
            from PIL import Image

            with Image.open(str(path)) as im:
                im.load()
                pil = np.asarray(im)
            img = pil[:, :, ::-1] if pil.ndim == 3 and pil.shape[2] >= 3 else pil
            if img.ndim == 3 and img.shape[2] == 4:
                img = img[:, :, 1:]
        except Exception as e:  # noqa: BLE001
            kind = suf.lstrip(".").upper() or "image"
            raise SourceError(f"{path}: not a readable {kind} image (corrupt, truncated or unsupported: {e})") from e
    try:
        return to_uint8(img)
    except ValueError as e:
        raise SourceError(f"{path}: {e}") from e


class ImageSource(FrameSource):
    """One image file (png/jpg/bmp/tif, 8 or 16 bit) as a one-frame source."""

    def __init__(self, path: str | os.PathLike, synthetic: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = str(self.path)
        self.synthetic = synthetic
        self._img = _read_image(self.path)
        self.height, self.width = self._img.shape[:2]
        self.frame_count = 1
        self.fps = None
        self._pos = 0

    def read(self) -> Frame | None:
        if self._closed or self._pos >= 1:
            return None
        self._pos = 1
        return Frame(0, 0.0, self._img)

    def seek(self, index: int) -> None:
        self._pos = self._check_index(index)


def _natural_key(p: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


class FolderSource(FrameSource):
    """The images in a folder (not recursive), in natural name order (``img2`` before ``img10``);
    other files are skipped. ``skip_bad=True`` skips unreadable images (listed in ``self.skipped``)
    instead of raising."""

    def __init__(self, path: str | os.PathLike, fps: float | None = None, skip_bad: bool = False,
                 synthetic: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = str(self.path)
        self.synthetic = synthetic
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: not a folder")
        self.files = sorted((p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS),
                            key=_natural_key)
        if not self.files:
            raise SourceError(f"{self.path}: folder holds no images ({', '.join(sorted(IMAGE_EXTS))})")
        self.frame_count = len(self.files)
        self.fps = float(fps) if fps else None
        self.skip_bad = skip_bad
        self.skipped: list[str] = []
        self._pos = 0

    def read(self) -> Frame | None:
        while not self._closed and self._pos < len(self.files):
            i = self._pos
            self._pos += 1
            try:
                img = _read_image(self.files[i])
            except SourceError as e:
                if not self.skip_bad:
                    raise
                self.skipped.append(str(e))
                self.warnings.append(str(e))
                continue
            return Frame(i, self._time(i), img)
        return None

    def file_of(self, index: int) -> Path:
        return self.files[self._check_index(index)]

    def seek(self, index: int) -> None:
        self._pos = self._check_index(index)


# --------------------------------------------------------------------------------------------------
# pacing a file "as if live"


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
