"""Plane and checklist panel (beside the gauge): the recognised plane in words and each criterion of
that plane ✓/✗, the out-of-distribution warning, and the FROZEN state. Fed a
:class:`engine.result.FrameResult` (live, cine review, report)."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from engine.bmode import COLOUR_REASON, NOISE_REASON
from engine.result import CRITERION_LABELS, NOT_ASSESSED, plane_checklist

OOD_TEXT = "⚠ unlike the training data — score may be wrong"
NOT_BMODE_TEXT = "⚠ a colour picture, not a B-mode image — score may be wrong"
NOISE_TEXT = "⚠ noise, not an image (no video on the input?) — score may be wrong"


def ood_text(result) -> str:
    """The warning line for a flagged result: why, in words (engine/bmode.py's reasons or the density)."""
    return {COLOUR_REASON: NOT_BMODE_TEXT, NOISE_REASON: NOISE_TEXT}.get(getattr(result, "ood_reason", ""), OOD_TEXT)


TICK, CROSS = "✓", "✗"
GOOD_C, BAD_C = "#3fb950", "#f85149"
#: shorter words for the two-column checklist (a narrow panel); the tooltip has the full ones
SHORT = {"structures": "All structures", "plane": "Plane, symmetric", "zoom": "Zoom 1/3–2/3",
         "settings": "Gain, settings", "artefacts": "No artefacts", "skull": "Skull ellipse",
         "midline": "Midline (falx)", "thalami": "Thalami", "csp": "CSP", "third_ventricle": "3rd ventricle",
         "abdomen": "Round section", "stomach": "Stomach", "umbilical_vein": "Umbilical vein", "spine": "Spine",
         "ribs": "Ribs, symmetric", "diaphysis": "Whole diaphysis", "end_a": "End 1", "end_b": "End 2"}


def checklist_rows(result) -> list[tuple[str, str, bool]]:
    """(criterion, words, met) in the plane's order; empty without a criteria head or an unassessed plane."""
    crit = getattr(result, "criteria", None) if result is not None else None
    if not crit:
        return []
    return [(c, CRITERION_LABELS.get(c, c), bool(crit[c])) for c in plane_checklist(result.plane) if c in crit]


def plane_words(result) -> str:
    if result is None:
        return "plane: —"
    return result.plane_label


class ChecklistView(QWidget):
    """The ✓/✗ rows, painted (a new result repaints them; nothing is laid out again, so the live view's
    GUI thread stays cheap at 30–60 results a second)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[tuple[str, str, bool]] = []
        self.note = ""
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)

    def sizeHint(self):
        n = len(self.rows) or (1 if self.note else 0)
        return QSize(240, n * self.fontMetrics().height())

    def minimumSizeHint(self):
        return QSize(100, min(self.sizeHint().height(), 5 * self.fontMetrics().height() + 2))

    def set_rows(self, rows, note: str = "") -> None:
        if rows != self.rows or note != self.note:
            relayout = len(rows) != len(self.rows) or bool(note) != bool(self.note)
            self.rows, self.note = rows, note
            self.setToolTip(self.text())
            if relayout:  # only when the plane changes (a new checklist length), not per frame
                self.updateGeometry()
            self.update()

    def text(self) -> str:
        """What is shown, as text (for tests and the tooltip)."""
        return "\n".join(f"{TICK if ok else CROSS} {w}" for _, w, ok in self.rows) or self.note

    def paintEvent(self, e):
        p = QPainter(self)
        fm = self.fontMetrics()
        lh = fm.height()
        fg = self.palette().windowText().color()
        if not self.rows:
            p.setPen(fg)
            p.drawText(QRectF(0, 0, self.width(), lh), Qt.AlignLeft | Qt.AlignVCenter, self.note)
        # two columns when the rows do not fit one above the other
        cols = 1 if len(self.rows) * lh <= self.height() else 2
        per = (len(self.rows) + cols - 1) // cols
        lh = min(lh, self.height() / max(1, per))  # every row visible, packed closer where space is short
        cw = self.width() / cols
        for k, (crit, words, ok) in enumerate(self.rows):
            if cols > 1:
                words = SHORT.get(crit, words)
            c, r = divmod(k, per)
            x, y = c * cw, r * lh
            p.setPen(QColor(GOOD_C if ok else BAD_C))
            p.drawText(QRectF(x, y, 16, lh), Qt.AlignLeft | Qt.AlignVCenter, TICK if ok else CROSS)
            p.setPen(fg)
            p.drawText(QRectF(x + 16, y, cw - 18, lh), Qt.AlignLeft | Qt.AlignVCenter,
                       fm.elidedText(words, Qt.ElideRight, int(cw - 18)))
        p.end()


class PaintedText(QWidget):
    """A bold line or two of text, painted: setText repaints, never lays the panel out again."""

    def __init__(self, text: str = "", scale: float = 1.3, parent=None):
        super().__init__(parent)
        self._text = text
        f = self.font()
        f.setPointSizeF(f.pointSizeF() * scale)
        f.setBold(True)
        self.setFont(f)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setFixedHeight(int(self.fontMetrics().height() * 2.1))

    def text(self) -> str:
        return self._text

    def setText(self, t: str) -> None:
        if t != self._text:
            self._text = t
            self.update()

    def paintEvent(self, e):
        p = QPainter(self)
        p.setPen(self.palette().windowText().color())
        p.drawText(self.rect(), Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap, self._text)
        p.end()


class PlanePanel(QFrame):
    def __init__(self, parent=None, compact: bool = False):
        super().__init__(parent)
        self.setObjectName("planePanel")
        self.setFrameShape(QFrame.StyledPanel)
        self.result = None
        self.frozen = False
        self.plane_label = PaintedText("plane: —", 1.15 if compact else 1.3)
        self.checks = ChecklistView()
        self.ood = QLabel(OOD_TEXT)
        self.ood.setWordWrap(True)
        self.ood.setStyleSheet("QLabel { color: #111; background: #e3b341; padding: 2px 4px; font-weight: bold; }")
        sp = self.ood.sizePolicy()
        sp.setRetainSizeWhenHidden(True)  # showing / hiding it per frame lays nothing out again
        self.ood.setSizePolicy(sp)
        self.ood.setVisible(False)
        self.state = QLabel("")
        self.state.setStyleSheet("QLabel { color: white; background: #2f6fb3; padding: 2px 4px; font-weight: bold; }")
        self.state.setVisible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(2)
        lay.addWidget(self.state)
        lay.addWidget(self.plane_label)
        lay.addWidget(self.checks)
        lay.addWidget(self.ood)
        self._flash_timer = QTimer(self)
        self._flash_timer.setSingleShot(True)
        self._flash_timer.timeout.connect(self._unflash)
        self.flashing = False

    def set_result(self, result) -> None:
        """Show ``result`` (a FrameResult or None); ignored while frozen. Widgets change only when what
        they show changes."""
        if self.frozen:
            return
        self.result = result
        words = plane_words(result)
        if words != self.plane_label.text():
            self.plane_label.setText(words)
        rows = checklist_rows(result)
        note = "no checklist for this plane" if (result is not None and result.plane is not None
                                                  and not result.assessed) else ""
        self.checks.set_rows(rows, note)
        ood = bool(result is not None and result.ood)
        if ood:
            text = ood_text(result)
            if self.ood.text() != text:
                self.ood.setText(text)
        if ood != self.ood.isVisibleTo(self):
            self.ood.setVisible(ood)

    def rows(self) -> list[tuple[str, str, bool]]:
        return checklist_rows(self.result)

    def set_frozen(self, on: bool) -> None:
        self.frozen = bool(on)
        self.state.setText("FROZEN — press Space to go live")
        self.state.setVisible(self.frozen)

    def clear(self, text: str = "plane: —") -> None:
        was, self.frozen = self.frozen, False
        self.set_result(None)
        self.plane_label.setText(text)
        self.frozen = was

    def flash(self, ms: int = 900) -> None:
        """The capture cue: the panel lights up green for a moment (painted, no style sheet)."""
        self.flashing = True
        self.update()
        self._flash_timer.start(ms)

    def _unflash(self):
        self.flashing = False
        self.update()

    def paintEvent(self, e):
        if self.flashing:
            p = QPainter(self)
            p.fillRect(self.rect(), QColor("#1f6f3a"))
            p.setPen(QColor("#3fb950"))
            p.drawRect(self.rect().adjusted(1, 1, -2, -2))
            p.end()
        else:
            super().paintEvent(e)


__all__ = ["PlanePanel", "checklist_rows", "plane_words", "OOD_TEXT", "NOT_BMODE_TEXT", "NOISE_TEXT", "ood_text", "NOT_ASSESSED"]
