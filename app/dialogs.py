"""User dialogs without Python exception text: a plain sentence, the details behind a "Details" button
and in the log (stderr)."""
from __future__ import annotations

import sys

from PySide6.QtWidgets import QMessageBox

#: the dialogs shown (for tests and the headless checks): (title, text, details)
shown: list[tuple[str, str, str]] = []


def plain(exc: BaseException | str) -> str:
    """First line of an error, without the exception class name or a traceback."""
    t = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return t[:300]


def problem(parent, title: str, text: str, details: str | BaseException | None = None,
            icon=QMessageBox.Warning) -> QMessageBox:
    """Show ``text`` (plain words) with ``details`` behind "Show Details…"; non-blocking (open())."""
    d = "" if details is None else (details if isinstance(details, str) else f"{type(details).__name__}: {details}")
    if d:
        print(f"{title}: {text}\n{d}", file=sys.stderr)
    box = QMessageBox(icon, title, text, QMessageBox.Ok, parent)
    if d:
        box.setDetailedText(d)
    shown.append((title, text, d))
    box.open()
    return box


def info(parent, title: str, text: str) -> QMessageBox:
    return problem(parent, title, text, None, QMessageBox.Information)
