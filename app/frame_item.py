"""The live frame item: drawn straight from a BGRA buffer as a Format_RGB32 QImage."""
from __future__ import annotations

import collections

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage

from .workers import clock


class FrameItem(pg.GraphicsObject):
    """The live frame, drawn straight from a BGRA buffer as a Format_RGB32 QImage.

    pyqtgraph's ImageItem rescales levels and hands Qt an RGB888 image that must be converted on
    every paint (≈ 8 ms a 800×600 frame on the bench PC); RGB32 is Qt's native raster format, so a
    paint here is one scaled blit. Records grab→drawn latency when it actually paints a frame.
    """

    def __init__(self):
        super().__init__()
        self.image: np.ndarray | None = None  # BGRA uint8 (what is on screen)
        self._qimage: QImage | None = None
        self._w = self._h = 0
        self.t_grab: float | None = None
        self.latencies: collections.deque = collections.deque(maxlen=2000)

    def set_frame(self, img: np.ndarray) -> None:
        if img.ndim == 2:
            bgra = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
        elif img.shape[2] == 3:
            bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
        else:
            bgra = np.ascontiguousarray(img)
        h, w = bgra.shape[:2]
        if (w, h) != (self._w, self._h):
            self.prepareGeometryChange()
            self._w, self._h = w, h
        self.image = bgra  # keeps the buffer alive for the QImage below
        self._qimage = QImage(bgra.data, w, h, bgra.strides[0], QImage.Format_RGB32)
        self.update()

    def boundingRect(self):
        return QRectF(0, 0, self._w, self._h)

    def paint(self, p, *args):
        if self._qimage is None:
            return
        p.drawImage(QRectF(0, 0, self._w, self._h), self._qimage)
        if self.t_grab is not None:
            self.latencies.append((clock() - self.t_grab) * 1000.0)
            self.t_grab = None

    def clear(self) -> None:
        """Nothing on screen (a failed source must not leave a stale frame)."""
        self.prepareGeometryChange()
        self.image, self._qimage, self._w, self._h, self.t_grab = None, None, 0, 0, None
        self.update()
