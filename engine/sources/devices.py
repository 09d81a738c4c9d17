"""Capture devices (capture cards, cameras) through ``cv2.VideoCapture(index, apiPreference)``."""
from __future__ import annotations

import math
import re
import sys
import time
from pathlib import Path
from typing import Callable

import cv2

from .base import DeviceInfo, Frame, FrameSource, SignalLost, SourceError, _quiet_opencv, to_uint8

#: Capture back-ends by name -> OpenCV ``apiPreference``.
BACKENDS: dict[str, int] = {
    "any": cv2.CAP_ANY,
    "v4l2": cv2.CAP_V4L2,
    "dshow": cv2.CAP_DSHOW,
    "msmf": cv2.CAP_MSMF,
    "avfoundation": cv2.CAP_AVFOUNDATION,
}


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
    ``self.fps`` report what the device actually gives. ``read_timeout_s`` (1 s) bounds one read where
    the backend supports it (``CAP_PROP_READ_TIMEOUT_MSEC``; OpenCV's V4L2 default is 10 s). ``read()`` retries failed grabs and raises
    :class:`SignalLost` after ``max_failures`` failures in a row or ``lost_after_s`` seconds without
    a frame; ``reopen()`` releases and opens the device again (raising ``SignalLost`` while it is
    still gone).
    """

    live = True

    def __init__(self, index: int, backend: str | None = "auto", width: int | None = None,
                 height: int | None = None, fps: float | None = None, fourcc: str | None = None,
                 max_failures: int = 30, lost_after_s: float = 1.0, retry_sleep_s: float = 0.01,
                 synthetic: bool = False, clock: Callable[[], float] = time.monotonic,
                 read_timeout_s: float | None = 1.0) -> None:
        super().__init__()
        self.index = int(index)
        self.backend, self._api = _backend_id(backend)
        self.requested = {"width": width, "height": height, "fps": fps, "fourcc": fourcc}
        self.max_failures = max(1, int(max_failures))
        self.lost_after_s = float(lost_after_s)
        self.retry_sleep_s = float(retry_sleep_s)
        self.read_timeout_s = read_timeout_s
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
        prop = getattr(cv2, "CAP_PROP_READ_TIMEOUT_MSEC", None)
        if prop is not None and self.read_timeout_s:
            # a stalled card: give up a read after ~1 s instead of OpenCV's default 10 s (V4L2)
            try:
                cap.set(prop, float(self.read_timeout_s) * 1000.0)
            except Exception:  # noqa: BLE001 - not every backend knows the property
                pass
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
