"""Report preview: the one-page report on the themed window, with where it was written."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout


class ReportView(QDialog):
    def __init__(self, png: Path, parent=None):
        super().__init__(parent)
        self.png = Path(png)
        self.setWindowTitle(f"Exam report — {self.png.parent.name}")
        pm = QPixmap(str(self.png))
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignCenter)
        self.image.setPixmap(pm.scaledToWidth(min(760, max(1, pm.width())), Qt.SmoothTransformation))
        area = QScrollArea()
        area.setWidget(self.image)
        area.setWidgetResizable(True)
        pdf = self.png.with_suffix(".pdf")
        where = QLabel(f"Written to {self.png.parent}  —  report.png" + (" and report.pdf" if pdf.exists() else
                       " (no PDF: this Qt cannot write one)") + ", best frame per plane; no patient data.")
        where.setWordWrap(True)
        open_btn = QPushButton("Open folder")
        open_btn.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.png.parent))))
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        row = QHBoxLayout()
        row.addWidget(where, 1)
        row.addWidget(open_btn)
        row.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(area, 1)
        lay.addLayout(row)
        self.resize(820, 860)


def show_report(parent, png: Path) -> ReportView:
    d = ReportView(png, parent)
    d.show()
    return d
