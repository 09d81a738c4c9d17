"""Cine review: background scoring, timeline seek, best frames, exports; a corrupt file gives a dialog."""
from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from test_gui_fakes import BrightnessScorer
from test_gui_live import isolated, no_dialogs, window  # noqa: F401 - fixtures


def make_cine(path, n=40):
    """A small mp4 of a synthetic sector scan (with a burned-in text block at the top left, outside
    the fan) whose frames get brighter towards the middle, so scores peak there."""
    from test_gui_fakes import ProceduralDemo

    demo = ProceduralDemo(n=n)
    w = None
    for i in range(n):
        img = demo.read().image.astype(np.float32)
        gain = 0.3 + 0.7 * (1 - abs(i - n / 2) / (n / 2))
        img[40:] *= gain  # the text block (rows 10..30) keeps its brightness
        img = np.clip(img, 0, 255).astype(np.uint8)
        if w is None:
            w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, (img.shape[1], img.shape[0]))
        w.write(img)
    w.release()
    return path


@pytest.fixture
def cine(qtbot, window, tmp_path):
    window.scorer = BrightnessScorer()
    path = make_cine(tmp_path / "loop.mp4")
    with qtbot.waitSignal(window.cine.scoring_done, timeout=20000) as blocker:
        assert window.open_cine(str(path))
    assert blocker.args == [True]
    return window.cine


def test_open_cine_scores_every_frame(cine, window):
    assert cine.n == 40
    assert np.isfinite(cine.scores).all() and len(cine.scores) == 40
    assert cine.timeline.valid.all()
    # brightness peaks mid-loop, so the best frame is near the middle
    best = cine.best_indices(3)
    assert abs(best[0] - 20) <= 3
    assert cine.best_list.count() == 1  # one pass (brightness rises and falls once): one best frame
    assert window.settings.recent()[0].endswith("loop.mp4")
    assert window.tabs.currentWidget() is cine


def test_timeline_click_seeks(cine, qtbot):
    tl = cine.timeline
    tl.resize(400, 70)
    x = int(tl.index_to_x(30))
    qtbot.mouseClick(tl, Qt.LeftButton, pos=QPoint(x, 30))
    assert cine.current == 30
    assert tl.current == 30
    assert "frame 30 of 0–39" in cine.frame_label.text()  # numbered from 0, as in the CSV and file names
    # the image shown is frame 30
    shown = cine.image_item.image
    want = cv2.cvtColor(cine.frames[30], cv2.COLOR_BGR2RGB)
    assert np.array_equal(shown, want)
    cine.step(1)
    assert cine.current == 31
    cine.seek(39)
    cine.step(1)  # loop is on
    assert cine.current == 0
    cine.loop_check.setChecked(False)
    cine.seek(39)
    cine.step(1)
    assert cine.current == 39


def test_play_advances(cine, qtbot):
    cine.seek(0)
    cine.toggle_play()
    qtbot.waitUntil(lambda: cine.current >= 3, timeout=10000)
    cine.toggle_play()
    assert not cine.play_timer.isActive()


def test_exports_have_no_patient_text(cine, tmp_path):
    c = cine.export_csv(tmp_path / "scores.csv")
    rows = list(csv.DictReader(open(c)))
    assert len(rows) == 40
    assert float(rows[20]["score"]) == pytest.approx(float(cine.scores[20]), abs=0.01)
    assert set(rows[0]) >= {"frame", "time_s", "score", "band"}
    assert "loop.mp4" not in c.read_text()  # the file name (may name a patient) is not copied
    pngs = cine.export_pngs(tmp_path / "png", frames=[20])
    assert len(pngs) == 2 and all(p.exists() for p in pngs)
    img = cv2.imread(str(pngs[0]))
    x, y, w, h = cine.roi
    assert img.shape[:2] == (h, w)
    assert cine.roi_kind == "sector"
    assert y > 30 or x > 200  # the burned-in text block (rows 10..30, columns 10..200) is not in the crop
    rep = cine.export_report(tmp_path / "report.png")
    assert rep[0].exists() and rep[1].exists() and rep[1].suffix == ".pdf"
    page = cv2.imread(str(rep[0]))
    assert page.shape[0] > page.shape[1]  # portrait page
    assert rep[1].read_bytes()[:4] == b"%PDF"


def test_corrupt_file_gives_dialog_not_crash(window, tmp_path, no_dialogs):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x01 this is not a video" * 100)
    from app import dialogs

    dialogs.shown.clear()
    assert window.open_cine(str(bad)) is False
    assert dialogs.shown and "broken.mp4" in dialogs.shown[0][1]
    assert "Error" not in dialogs.shown[0][1] and dialogs.shown[0][2]  # plain words; the details behind a button
    # the window still works afterwards
    assert window.cine.path is None
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    assert window.open_cine(str(empty)) is False
    assert len(dialogs.shown) == 2


def test_open_dicom_cine_exports_no_tags(qtbot, window, tmp_path):
    """A real multi-frame ultrasound DICOM (SonoSite, 30 frames, from pydicom's examples)."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom import examples

    src = examples.get_path("ybr_color")
    ds = pydicom.dcmread(src, stop_before_pixels=True)
    window.scorer = BrightnessScorer()
    with qtbot.waitSignal(window.cine.scoring_done, timeout=30000) as blocker:
        assert window.open_cine(str(src))
    assert blocker.args == [True]
    cine = window.cine
    assert cine.n == 30 and np.isfinite(cine.scores).all()
    out = cine.export_csv(tmp_path / "d.csv")
    text = out.read_text()
    for tag in ("PatientName", "PatientID", "StudyDate", "InstitutionName"):
        v = str(getattr(ds, tag, "") or "")
        if v:
            assert v not in text
    pngs = cine.export_pngs(tmp_path / "p", frames=[0])
    assert pngs and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
