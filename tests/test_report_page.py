"""app/report.py's page: the warnings banner wraps a long text instead of clipping it."""
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
