"""DICOM single- and multi-frame images (ultrasound cine loops, secondary captures) through pydicom."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .base import Frame, FrameSource, SourceError, _check_file, check_pixels, display_name, to_uint8


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
        self.name = display_name(self.path)
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
                        raise SourceError(f"{self.name}: not a DICOM file (no DICM header and no image elements)")
            except SourceError:
                raise
            except Exception as e:  # noqa: BLE001 - pydicom raises many kinds on damaged files
                raise SourceError(f"{self.name}: not a readable DICOM file ({type(e).__name__}: {e})") from e
        eof = [str(w.message) for w in caught if "end of file" in str(w.message).lower()]
        self._ds = ds
        if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
            if eof:
                raise SourceError(f"{self.name}: DICOM file is truncated (it ends inside the pixel data)")
            sop = ds.get("SOPClassUID")
            what = f" ({sop.name})" if sop is not None and hasattr(sop, "name") else ""
            raise SourceError(f"{self.name}: DICOM file has no pixel data{what}")
        try:
            self.rows, self.cols = int(ds.Rows), int(ds.Columns)
            self.samples = int(ds.get("SamplesPerPixel", 1) or 1)
            self.bits_allocated = int(ds.get("BitsAllocated", 8) or 8)
            self.bits_stored = int(ds.get("BitsStored", self.bits_allocated) or self.bits_allocated)
        except (AttributeError, TypeError, ValueError) as e:
            raise SourceError(f"{self.name}: DICOM image attributes missing or invalid ({e})") from e
        self.photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
        try:
            n = int(ds.get("NumberOfFrames", 1) or 1)
        except (TypeError, ValueError):
            n = 1
        self.frame_count = max(1, n)
        self.fps = _dicom_fps(ds) if self.frame_count > 1 else None
        check_pixels(self.name, self.cols, self.rows, what="DICOM image")  # before any pixel is decoded
        if self.samples not in (1, 3, 4) or self.bits_allocated not in (1, 8, 16, 32, 64):
            raise SourceError(f"{self.name}: DICOM image attributes invalid (SamplesPerPixel {self.samples}, "
                              f"BitsAllocated {self.bits_allocated})")
        self._check_pixel_length()
        self.us_regions = self._regions()
        self._pos = 0
        # decode the first frame now so a damaged file fails at open with a clear message
        self._first: np.ndarray | None = self._decode(0)
        self.height, self.width = self._first.shape[:2]

    def _check_pixel_length(self) -> None:
        ds, p = self._ds, self.name
        data = ds.get("PixelData")
        if data is None:
            return
        data = data if isinstance(data, (bytes, bytearray)) else getattr(ds["PixelData"], "value", b"")
        if ds.file_meta.get("TransferSyntaxUID") is not None and ds.file_meta.TransferSyntaxUID.is_compressed:
            from pydicom.encaps import generate_frames

            try:
                try:  # count the frames the data holds (needs an offset table or one fragment per frame)
                    got = sum(1 for _ in generate_frames(data))
                except ValueError:
                    got = sum(1 for _ in generate_frames(data, number_of_frames=self.frame_count))
            except Exception as e:  # noqa: BLE001
                raise SourceError(f"{p}: compressed pixel data is damaged or truncated ({e})") from e
            if got < self.frame_count:
                raise SourceError(f"{p}: compressed pixel data holds {got} of {self.frame_count} frames "
                                  f"(truncated file)")
            if got > self.frame_count:
                self.warnings.append(f"{p}: compressed pixel data holds {got} frames but NumberOfFrames says "
                                     f"{self.frame_count} (damaged header); {self.frame_count} are read")
            return
        bits = self.bits_allocated
        spp = self.samples
        per = self.rows * self.cols * spp
        if self.photometric == "YBR_FULL_422":
            per = self.rows * self.cols * 2
        expected = (per * self.frame_count * bits + 7) // 8
        if len(data) > expected + 1:  # more than the pad byte: Rows/Columns/NumberOfFrames disagree with the data
            self.warnings.append(f"{self.name}: pixel data is {len(data)} bytes but {self.frame_count} frame(s) of "
                                 f"{self.cols}x{self.rows}x{spp} at {bits} bits need {expected} (damaged header: "
                                 f"wrong Rows/Columns/NumberOfFrames?)")
        if len(data) < expected:
            raise SourceError(f"{self.name}: pixel data is {len(data)} bytes but {self.frame_count} frame(s) of "
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
            raise SourceError(f"{self.name}: frame {index} cannot be decoded ({type(e).__name__}: {e})") from e
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
            raise SourceError(f"{self.name}: frame {index} cannot be converted ({pi}: {e})") from e

    def read(self) -> Frame | None:
        if self._closed or self._pos >= self.frame_count:
            return None
        i = self._pos
        self._pos += 1  # before decoding: a frame that fails is passed over by the next read()
        if i == 0 and self._first is not None:
            img, self._first = self._first, None
        else:
            img = self._decode(i)
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
