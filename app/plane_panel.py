"""Plane and checklist panel (beside the gauge): the recognised plane in words and each criterion of
that plane ✓/✗, the out-of-distribution warning, and the FROZEN state. Fed a
:class:`engine.result.FrameResult` (live, cine review, report)."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from engine.result import CRITERION_LABELS, NOT_ASSESSED, plane_checklist

OOD_TEXT = "⚠ unlike the training data — score may be wrong"
TICK, CROSS = "✓", "✗"
GOOD_C, BAD_C = "#3fb950", "#f85149"


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


class PlanePanel(QFrame):
    def __init__(self, parent=None, compact: bool = False):
        super().__init__(parent)
        self.setObjectName("planePanel")
        self.setFrameShape(QFrame.StyledPanel)
        self.result = None
        self.frozen = False
        self.plane_label = QLabel("plane: —")
        self.plane_label.setWordWrap(True)
        f = self.plane_label.font()
        f.setPointSizeF(f.pointSizeF() * (1.15 if compact else 1.35))
        f.setBold(True)
        self.plane_label.setFont(f)
        self.checks = QLabel("")
        self.checks.setTextFormat(Qt.RichText)
        self.checks.setWordWrap(True)
        self.ood = QLabel(OOD_TEXT)
        self.ood.setWordWrap(True)
        self.ood.setStyleSheet("QLabel { color: #111; background: #e3b341; padding: 2px 4px; font-weight: bold; }")
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
        lay.addStretch(1)
        self._flash_timer = QTimer(self)
        self._flash_timer.setSingleShot(True)
        self._flash_timer.timeout.connect(self._unflash)
        self.flashing = False

    def set_result(self, result) -> None:
        """Show ``result`` (a FrameResult or None); ignored while frozen."""
        if self.frozen:
            return
        self.result = result
        self.plane_label.setText(plane_words(result))
        rows = checklist_rows(result)
        if rows:
            self.checks.setText("<br>".join(
                f"<span style='color:{GOOD_C if ok else BAD_C}; font-weight:bold'>{TICK if ok else CROSS}</span> {words}"
                for _, words, ok in rows))
        elif result is not None and result.plane is not None and not result.assessed:
            self.checks.setText("no checklist for this plane")
        else:  # no plane head: the plane line already says "not assessed by this model"
            self.checks.setText("")
        self.ood.setVisible(bool(result is not None and result.ood))

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
        """The capture cue: the panel lights up green for a moment."""
        self.flashing = True
        self.setStyleSheet("QFrame#planePanel { background: #1f6f3a; border: 2px solid #3fb950; }")
        self._flash_timer.start(ms)

    def _unflash(self):
        self.flashing = False
        self.setStyleSheet("")


__all__ = ["PlanePanel", "checklist_rows", "plane_words", "OOD_TEXT", "NOT_ASSESSED"]
