"""Image files (png/jpg/bmp/tif, 8 or 16 bit) and folders of images."""
from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from .base import IMAGE_EXTS, Frame, FrameSource, SourceError, _check_file, _quiet_opencv, to_uint8


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
