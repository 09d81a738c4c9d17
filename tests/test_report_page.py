"""app/report.py's page and app/widgets.Banner: the warnings wrap instead of clipping; no work per frame."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")


def _orange_rows(img) -> int:
    h, bpl = img.height(), img.bytesPerLine()
    a = np.frombuffer(img.constBits(), np.uint8, h * bpl).reshape(h, bpl // 4, 4)[:, :img.width(), :3].astype(int)
    orange = (np.abs(a[:, :, 2] - 199) < 8) & (np.abs(a[:, :, 1] - 119) < 8) & (a[:, :, 0] < 8)
    return int((orange.mean(1) > 0.2).sum())  # rows of the banner (text rows are part orange)


def test_warning_banner_grows_with_its_text(qapp):
    from app.report import _Page

    short, long_ = _Page(1240), _Page(1240)
    short.warnings(["SYNTHETIC DEMO — not patient data"])
    note = "MODEL TRAINED ON SYNTHETIC + 468 REAL HC18 HEAD FRAMES — not yet validated for clinical use"
    long_.warnings([note, "SYNTHETIC DEMO SOURCE — not patient data", "another warning that needs room"])
    ys, yl = short.y, long_.y
    hs, hl = _orange_rows(short.finish()), _orange_rows(long_.finish())
    assert 28 <= hs <= 36  # one line: the banner as before
    assert hl >= 45 and hl > hs + 12  # the long text wraps onto a second line: a taller banner (was 32: clipped)
    assert yl - ys == pytest.approx(hl - hs, abs=3)  # and what follows moves down by as much


def test_banner_does_no_work_when_a_part_is_unchanged(qapp, monkeypatch):
    """The live view clears the "scoring" part on every result: that must not restyle the banner per frame."""
    from app.widgets import Banner

    b = Banner()
    b.resize(800, 30)
    b.set_part("synthetic", "SYNTHETIC DEMO — not patient data")
    calls = []
    monkeypatch.setattr(b, "setStyleSheet", lambda *a: calls.append(a))
    for _ in range(5):
        b.set_part("scoring", None)  # absent, stays absent
        b.set_part("synthetic", "SYNTHETIC DEMO — not patient data")  # the same text
    assert calls == [] and b.full_text() == "SYNTHETIC DEMO — not patient data"
    b.set_part("scoring", "SCORING FAILS ON EVERY FRAME — x")  # a real change still shows
    assert len(calls) == 1 and "SCORING FAILS" in b.full_text()
    b.set_part("scoring", "")
    assert len(calls) == 2 and "SCORING" not in b.full_text()
