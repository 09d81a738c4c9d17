"""Image files (png/jpg/bmp/tif, 8 or 16 bit) and folders of images."""
from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from .base import (IMAGE_EXTS, Frame, FrameSource, SourceError, _check_file, _quiet_opencv, check_pixels,
                   display_name, max_pixels, to_uint8)


_PNG_END = b"IEND\xaeB`\x82"


def _plain_header_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG IHDR, a BMP info header or a JPEG SOF marker; None otherwise."""
    import struct

    try:
        if raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR":
            return struct.unpack(">II", raw[16:24])
        if raw[:2] == b"BM" and len(raw) >= 26:
            hsize = struct.unpack("<I", raw[14:18])[0]
            if hsize == 12:  # OS/2 core header
                w, h = struct.unpack("<HH", raw[18:22])
            else:
                w, h = struct.unpack("<ii", raw[18:26])
            return abs(w), abs(h)
        if raw[:2] == b"\xff\xd8":
            i, n = 2, len(raw)
            while i + 9 < n:
                if raw[i] != 0xFF:
                    i += 1
                    continue
                marker = raw[i + 1]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                    i += 1 if marker == 0xFF else 2
                    continue
                seg = struct.unpack(">H", raw[i + 2 : i + 4])[0]
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    h, w = struct.unpack(">HH", raw[i + 5 : i + 9])
                    return w, h
                i += 2 + seg
    except struct.error:
        return None
    return None


def header_size(raw: bytes, name: str = "image") -> tuple[int, int] | None:
    """(width, height) an image file's header declares, read without decoding the pixels (Pillow's
    lazy ``open``), or None when Pillow does not know the format. A header so large that Pillow
    itself refuses it raises :class:`SourceError`."""
    import io
    import warnings

    size = _plain_header_size(raw)
    if size is not None:
        return size
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning: we apply our own limit
        try:
            with Image.open(io.BytesIO(raw)) as im:
                return int(im.size[0]), int(im.size[1])
        except Image.DecompressionBombError as e:
            raise SourceError(f"{name}: image declares a size above the {max_pixels() / 1e6:.0f} MP limit ({e})") from None
        except Exception:  # noqa: BLE001 - unknown or damaged header: OpenCV gets to try
            return None


def _read_image(path: Path) -> np.ndarray:
    """One image file -> uint8 gray or BGR. Clear SourceError on empty/corrupt/truncated files."""
    _check_file(path)
    name = display_name(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # works with non-ASCII paths on Windows
    except OSError as e:
        raise SourceError(f"{name}: cannot be read ({e})") from e
    raw = data.tobytes()
    suf = path.suffix.lower()
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and _PNG_END not in raw[-64:]:
        raise SourceError(f"{name}: PNG file is truncated (no end marker)")
    if raw[:2] == b"\xff\xd8" and b"\xff\xd9" not in raw[-1024:]:
        raise SourceError(f"{name}: JPEG file is truncated (no end-of-image marker)")
    size = header_size(raw, name)  # refuse a decompression bomb before decoding it
    if size is not None:
        check_pixels(name, *size)
    img = None
    with _quiet_opencv():
        try:
            img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        except (cv2.error, MemoryError):
            img = None
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
            raise SourceError(f"{name}: not a readable {kind} image (corrupt, truncated or unsupported: "
                              f"{type(e).__name__}: {e})") from e
    try:
        return to_uint8(img)
    except ValueError as e:
        raise SourceError(f"{name}: {e}") from e


class ImageSource(FrameSource):
    """One image file (png/jpg/bmp/tif, 8 or 16 bit) as a one-frame source."""

    def __init__(self, path: str | os.PathLike, synthetic: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = display_name(self.path)
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
