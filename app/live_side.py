"""The live view's right-hand column: gauge, plane and checklist, exam coverage, trend, best frame,
overlay controls with the heatmap legend. Widgets only; the live view (app/live.py) drives them."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from . import theme
from .exam import CoverageStrip
from .heat import HeatLegend
from .plane_panel import PlanePanel
from .widgets import Gauge

#: the trend's band colours: strong enough to tell apart on a dark background
TREND_BANDS = ((210, 60, 50, 70), (230, 170, 30, 70), (46, 160, 67, 80))


def _button(text: str, slot, tip: str = "") -> QPushButton:
    b = QPushButton(text)
    b.setFocusPolicy(Qt.NoFocus)
    if tip:
        b.setToolTip(tip)
    b.clicked.connect(slot)
    return b


class LiveSide(QWidget):
    def __init__(self, settings, view, parent=None):
        super().__init__(parent)
        s = settings
        self.gauge = Gauge()
        self.gauge.smoothing_s = s.get("gauge/smoothing_s")
        self.gauge.set_thresholds(s.get("thresholds/good"), s.get("thresholds/acceptable"))
        self.panel = PlanePanel()
        self.strip = CoverageStrip()
        bg, fg = theme.plot_colors()
        self.trend = pg.PlotWidget(background=bg)
        self.trend.setMinimumHeight(90)
        self.trend.setMaximumHeight(170)
        self.trend.setYRange(0, 100, padding=0)
        self.trend.setXRange(-30, 0, padding=0)
        self.trend.setMouseEnabled(False, False)
        self.trend.hideButtons()
        self.trend.setMenuEnabled(False)
        self.trend.setLabel("bottom", "quality, last 30 s (seconds ago)")
        self.trend.getAxis("left").setTicks([[(0, "0"), (60, "60"), (80, "80"), (100, "100")]])
        good, acc = s.get("thresholds/good"), s.get("thresholds/acceptable")
        self.bands = []
        for (lo, hi), col in zip(((0, acc), (acc, good), (good, 100)), TREND_BANDS):
            r = pg.LinearRegionItem((lo, hi), orientation="horizontal", movable=False, brush=pg.mkBrush(*col),
                                    pen=pg.mkPen(None))
            self.trend.addItem(r)
            self.bands.append(r)
        self.trend_curve = self.trend.plot([], [], pen=pg.mkPen((240, 240, 240), width=2))

        self.best_label = QLabel("best of\nthis sweep")
        self.best_label.setAlignment(Qt.AlignCenter)
        self.best_label.setFixedSize(104, 78)
        self.best_label.setStyleSheet("QLabel { background: #15171a; color: #bbb; border: 1px solid #3a3e45; }")
        self.best_caption = QLabel("")
        self.best_caption.setWordWrap(True)
        self.capture_btn = _button(f"Capture ({s.get('keys/capture_next')})", view.capture_and_next,
                                   "capture and next plane: keep this frame for its plane, move on to the next plane to do")
        self.end_exam_btn = _button("End exam", view.end_exam,
                                    "write the exam folder: best frame per plane and a one-page report")
        self.save_best_btn = _button("Save best (B)", view.save_best)
        self.new_sweep_btn = _button("New sweep (N)", view.new_sweep)

        self.heat_check = QCheckBox("Heatmap (H)")
        self.heat_check.setFocusPolicy(Qt.NoFocus)
        self.heat_check.setChecked(s.get("overlay/show"))
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setFocusPolicy(Qt.NoFocus)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(s.get("overlay/opacity") * 100))
        self.legend = HeatLegend()
        ov = QGroupBox("Overlay")
        ol = QVBoxLayout(ov)
        ol.setContentsMargins(6, 4, 6, 4)
        row = QHBoxLayout()
        row.addWidget(self.heat_check)
        row.addWidget(QLabel("opacity"))
        row.addWidget(self.opacity, 1)
        ol.addLayout(row)
        ol.addWidget(self.legend)

        sl = QVBoxLayout(self)
        sl.setContentsMargins(4, 0, 0, 0)
        sl.setSpacing(4)
        sl.addWidget(self.gauge, 3)
        sl.addWidget(self.panel)
        sl.addWidget(self.strip)
        er = QHBoxLayout()
        er.addWidget(self.capture_btn, 1)
        er.addWidget(self.end_exam_btn, 1)
        sl.addLayout(er)
        sl.addWidget(self.trend, 2)
        self.best_row = QWidget()
        best = QHBoxLayout(self.best_row)
        best.setContentsMargins(0, 0, 0, 0)
        best.addWidget(self.best_label)
        bc = QVBoxLayout()
        bc.addWidget(self.best_caption)
        bc.addWidget(self.save_best_btn)
        bc.addWidget(self.new_sweep_btn)
        best.addLayout(bc, 1)
        sl.addWidget(self.best_row)
        sl.addWidget(ov)
        self.setMinimumWidth(250)
        self.setMaximumWidth(420)

    #: below this height the best-frame row gives its room to the gauge, panel and trend (B and N still work)
    COMPACT_BELOW = 600

    def resizeEvent(self, e):
        super().resizeEvent(e)
        self.best_row.setVisible(self.height() >= self.COMPACT_BELOW)
