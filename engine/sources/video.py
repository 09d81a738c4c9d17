"""Video files through OpenCV (mp4/avi/mov/mkv ...)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np

from .base import (Frame, FrameSource, SourceError, _check_file, _quiet_opencv, check_pixels, display_name,
                   opencv_path, to_uint8)


class VideoSource(FrameSource):
    """A video file through OpenCV (mp4/avi/mov/mkv ...). fps and frame count from the container;
    a file that opens but yields no frame is reported as corrupt or truncated."""

    def __init__(self, path: str | os.PathLike, synthetic: bool = False) -> None:
        super().__init__()
        self.path = _check_file(Path(path))
        self.name = display_name(self.path)
        self.synthetic = synthetic
        self._cap = None
        with _quiet_opencv(), opencv_path(self.path) as cv_name:  # non-UTF-8 names crash OpenCV
            try:
                cap = cv2.VideoCapture(cv_name)
            except cv2.error as e:
                raise SourceError(f"{self.name}: cannot be opened as a video ({e})") from e
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self.name}: cannot be opened as a video (corrupt, truncated or unsupported format)")
        self._cap = cap
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if w and h:
            try:
                check_pixels(self.name, w, h, what="video")
            except SourceError:
                cap.release()
                self._cap = None
                raise
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if fps > 0 and math.isfinite(fps) and fps < 1000 else None
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = n if n > 0 else None
        ok, img = self._grab()
        if not ok:
            cap.release()
            self._cap = None
            raise SourceError(f"{self.name}: the video opened but no frame could be decoded "
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
                    self.warnings.append(f"{self.name}: ends after {self._pos} of {self.frame_count} frames "
                                         f"announced by its header (truncated?)")
                    self.frame_count = self._pos
                return None
        f = Frame(self._pos, self._time(self._pos), to_uint8(img))
        self._pos += 1
        return f

    def seek(self, index: int) -> None:
        index = self._check_index(index)
        if self._cap is None:
            raise SourceError(f"{self.name}: closed")
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
