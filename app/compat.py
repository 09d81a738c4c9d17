"""The engine pieces the GUI uses, with small stand-ins while a piece has not landed yet.

``engine.sources`` and ``engine.roi`` are the real thing (docs/INTERFACES.md). When one is missing
(early in development) the stand-ins here keep the program usable: a procedural synthetic demo
(marked synthetic), an OpenCV file reader and a whole-frame ROI. Nothing here imports Qt or torch.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:  # the real frame sources
    from engine.sources import Frame, FrameSource, SignalLost, SourceError, list_devices, open_source  # type: ignore

    try:
        from engine.sources import demo_path  # type: ignore
    except ImportError:  # pragma: no cover
        def demo_path() -> Path:
            return Path(__file__).resolve().parent.parent / "assets" / "demo" / "demo_sweep.mp4"
    HAVE_SOURCES = True
except ImportError:
    HAVE_SOURCES = False

    class SourceError(Exception):
        pass

    class SignalLost(SourceError):
        pass

    @dataclass
    class Frame:
        index: int
        time_s: float
        image: np.ndarray

    class FrameSource:
        name = "source"
        fps: float | None = None
        frame_count: int | None = None
        live = False
        synthetic = False

        def read(self):
            raise NotImplementedError

        def __iter__(self):
            while True:
                f = self.read()
                if f is None:
                    return
                yield f

        def seek(self, index: int) -> None:
            raise NotImplementedError

        def close(self) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.close()

    def demo_path() -> Path:
        return Path(__file__).resolve().parent.parent / "assets" / "demo" / "demo_sweep.mp4"

    def list_devices(max_index: int = 8):
        return []

    def open_source(spec: str, **kw):
        if spec == "demo":
            p = demo_path()
            return _CvFile(p, synthetic=True) if p.exists() else ProceduralDemo()
        if spec.startswith("device:"):
            raise SourceError(f"capture devices need engine.sources (not installed yet): {spec}")
        return _CvFile(Path(spec))

    class _CvFile(FrameSource):
        def __init__(self, path: Path, synthetic: bool = False):
            import cv2

            if not path.exists():
                raise SourceError(f"file not found: {path}")
            self.cap = cv2.VideoCapture(str(path))
            if not self.cap.isOpened():
                raise SourceError(f"cannot read {path}: not a video OpenCV can open")
            ok, first = self.cap.read()
            if not ok:
                raise SourceError(f"cannot read {path}: no frames (corrupt or empty)")
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self.name = path.name
            self.fps = float(self.cap.get(cv2.CAP_PROP_FPS)) or 25.0
            n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.frame_count = n if n > 0 else None
            self.synthetic = synthetic or "synthetic" in path.name.lower() or "demo" in path.name.lower()
            self._i = 0

        def read(self):
            ok, img = self.cap.read()
            if not ok:
                return None
            f = Frame(self._i, self._i / self.fps, img)
            self._i += 1
            return f

        def seek(self, index: int) -> None:
            import cv2

            self.cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            self._i = int(index)

        def close(self) -> None:
            self.cap.release()

try:
    from engine.roi import RoiResult, find_roi  # type: ignore

    HAVE_ROI = True
except ImportError:
    HAVE_ROI = False

    @dataclass
    class RoiResult:
        box: tuple[int, int, int, int]
        mask: np.ndarray | None
        kind: str
        confidence: float

    def find_roi(frame: np.ndarray) -> RoiResult:
        """Stand-in: the bounding box of the non-dark pixels (the whole frame when unsure)."""
        g = frame if frame.ndim == 2 else frame.mean(axis=2)
        ys, xs = np.nonzero(g > 12)
        H, W = g.shape[:2]
        if len(xs) < 0.02 * H * W:
            return RoiResult((0, 0, W, H), None, "full", 0.0)
        x0, x1 = np.percentile(xs, [1, 99]).astype(int)
        y0, y1 = np.percentile(ys, [1, 99]).astype(int)
        return RoiResult((int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)), None, "full", 0.3)


class ProceduralDemo(FrameSource):
    """A synthetic sector sweep drawn on the fly (only used while assets/demo is missing)."""

    def __init__(self, fps: float = 25.0, n: int = 250, size=(480, 640)):
        self.name = "built-in synthetic demo"
        self.fps = fps
        self.frame_count = n
        self.live = False
        self.synthetic = True
        self._i = 0
        H, W = size
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        cx, cy = W / 2, 20.0
        r = np.hypot(xx - cx, yy - cy)
        ang = np.degrees(np.arctan2(xx - cx, yy - cy))
        self._fan = (r < H - 40) & (np.abs(ang) < 38) & (r > 30)
        self._xx, self._yy = xx, yy
        self._rng = np.random.default_rng(0)
        self._shape = size

    def read(self):
        if self._i >= self.frame_count:
            return None
        i = self._i
        self._i += 1
        H, W = self._shape
        t = i / self.frame_count
        q = 0.5 + 0.5 * math.sin(2 * math.pi * t)  # plane quality goes up and down over the sweep
        speckle = self._rng.rayleigh(0.35, size=(H, W)).astype(np.float32)
        img = 60 * speckle
        ex, ey = W / 2 + 80 * math.sin(3 * t), H * 0.55
        ell = ((self._xx - ex) / (90 + 20 * q)) ** 2 + ((self._yy - ey) / (70 + 10 * q)) ** 2
        img += (np.abs(ell - 1) < 0.08 + 0.1 * q) * (90 + 100 * q)
        img *= self._fan
        img = np.clip(img, 0, 255).astype(np.uint8)
        bgr = np.repeat(img[:, :, None], 3, axis=2)
        bgr[10:30, 10:200] = 200  # burned-in "text" outside the fan
        return Frame(i, i / self.fps, bgr)

    def seek(self, index: int) -> None:
        self._i = int(index)


def open_spec(spec: str, **kw):
    """``open_source`` plus the demo stand-in when the demo asset is missing."""
    if spec == "demo" and not demo_path().exists():
        return ProceduralDemo()
    return open_source(spec, **kw)


def now() -> float:
    return time.perf_counter()
