"""Plane and checklist panel, exam coverage (capture per plane, strip, key, report) — issue 11."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from test_gui_fakes import FakeSource, PlaneScorer
from test_gui_live import _live_fake, isolated, no_dialogs, window  # noqa: F401 - fixtures

HEAD_ORDER = ["skull", "midline", "thalami", "csp", "third_ventricle", "structures", "plane", "zoom", "settings",
              "artefacts"]  # the head's structures, then the global criteria (engine/result.py's order)


def _result(plane="head", score=85.0, met=None, ood=False):
    from engine.result import CRITERIA, FrameResult

    met = set(CRITERIA if met is None else met)
    return FrameResult(score=score, heatmap=np.full((8, 8), score, np.float32), plane=plane,
                       criteria_prob={c: (0.9 if c in met else 0.2) for c in CRITERIA}, ood=ood)


def test_panel_shows_plane_words_and_checklist(qtbot):
    from app.plane_panel import NOISE_TEXT, NOT_BMODE_TEXT, OOD_TEXT, PlanePanel

    p = PlanePanel()
    qtbot.addWidget(p)
    p.show()
    p.set_result(_result("head", met=["skull", "midline", "thalami", "plane", "zoom", "settings", "artefacts", "structures"]))
    assert p.plane_label.text() == "Head — transthalamic"
    rows = p.rows()
    assert [c for c, _, _ in rows] == HEAD_ORDER
    met = {c: ok for c, _, ok in rows}
    assert met["csp"] is False and met["third_ventricle"] is False and met["skull"] is True
    html = p.checks.text()
    assert "Cavum septi pellucidi" in html and html.count("✗") == 2 and html.count("✓") == 8
    assert not p.ood.isVisible()
    p.set_result(_result("femur", ood=True))
    assert p.plane_label.text() == "Femur — FL plane" and p.ood.isVisible() and p.ood.text() == OOD_TEXT
    assert [c for c, _, _ in p.rows()][:3] == ["diaphysis", "end_a", "end_b"]
    photo = _result("head", ood=True)
    photo.colour_share = 0.9  # engine/bmode.py: most of the picture off its own colour map
    p.set_result(photo)
    assert p.ood.isVisible() and p.ood.text() == NOT_BMODE_TEXT
    snow = _result("head", ood=True)
    snow.grain = 0.01  # engine/bmode.py: no neighbour correlation
    p.set_result(snow)
    assert p.ood.text() == NOISE_TEXT
    p.set_result(_result("femur", ood=True))
    assert p.ood.text() == OOD_TEXT
    p.set_result(_result("4CH"))
    assert "not assessed" in p.plane_label.text() and p.rows() == []


def test_panel_without_plane_heads_says_not_assessed(qtbot):
    from app.plane_panel import PlanePanel
    from engine.result import FrameResult

    p = PlanePanel()
    qtbot.addWidget(p)
    p.set_result(FrameResult(score=70.0, heatmap=np.zeros((4, 4), np.float32)))
    assert p.plane_label.text() == "plane: not assessed by this model" and p.rows() == []


@pytest.mark.parametrize("heads", [True, False])
def test_live_panel_from_a_real_model(qtbot, window, tmp_path, heads):
    """A packaged model with the plane / criteria / OOD heads (random weights) and one without."""
    from engine.scorers import make_scorer
    from engine_helpers import package_varied

    path = package_varied(tmp_path / f"m{heads}.fuiqa", trained=True, heads=heads)
    scorer = make_scorer("ort", path, threads=1)
    _live_fake(window, qtbot, scorer=scorer)
    live = window.live
    qtbot.waitUntil(lambda: live.panel.result is not None, timeout=15000)
    fr = live.panel.result
    assert live.last_result.result is fr or live.panel.result is not None
    if heads:
        assert fr.plane is not None  # (this random model has no OOD threshold: ood may be None)
        assert live.panel.plane_label.text() == fr.plane_label != "plane: not assessed by this model"
        if fr.assessed:
            assert [c for c, _, _ in live.panel.rows()] == list(fr.criteria)
    else:
        assert fr.plane is None
        assert live.panel.plane_label.text() == "plane: not assessed by this model"


def test_exam_capture_per_plane_strip_key_and_report(qtbot, window, isolated):
    import cv2

    from app import report_view  # noqa: F401 - the preview opens

    window.settings.set("exam/hold_s", 0.3)
    window.settings.set("roi/mode", "user")
    window.settings.set("roi/user_box", "30,20,260,200")  # the fake's imaging region (text strip outside)
    sc = PlaneScorer("head", 91.0)
    _live_fake(window, qtbot, scorer=sc)
    live = window.live
    strip = live.strip
    assert strip.texts() == ["Head · to do", "Abdomen · to do", "Femur · to do"] and strip.target == "head"
    # a standard head plane held for a moment: automatic capture, the cue, the next plane asked for
    qtbot.waitUntil(lambda: "head" in live.exam.exam.best, timeout=15000)
    assert live.panel.flashing
    assert strip.coverage["head"] == pytest.approx(91.0) and strip.texts()[0] == "Head ✓ 91"
    assert strip.target == "abdomen"
    # an acceptable abdomen is not captured by itself ...
    sc.plane, sc.score_value, sc.met = "abdomen", 72.0, ["abdomen", "stomach", "spine", "plane", "zoom"]
    n = live.pipeline.scoring.scored
    qtbot.waitUntil(lambda: live.pipeline.scoring.scored > n + 20 and live.last_result.result.plane == "abdomen",
                    timeout=15000)
    assert "abdomen" not in live.exam.exam.best
    # ... but the "capture and next plane" key takes it, whatever widget has focus (here another window)
    key = window.settings.get("keys/capture_next")
    assert window.capture_action.shortcut().toString() == key and window.capture_action.shortcutContext() == Qt.ApplicationShortcut
    window.activateWindow()
    live.side.opacity.setFocusPolicy(Qt.StrongFocus)
    live.side.opacity.setFocus()  # a slider would take arrow keys, not this one
    qtbot.keyClick(live.side.opacity, Qt.Key_F8)
    assert live.exam.exam.best["abdomen"].score == pytest.approx(72.0) and strip.target == "femur"
    # frames flagged "unlike the training data" are neither auto-captured (a 99 abdomen held) nor the best
    best = live.best.score
    sc.ood, sc.score_value = True, 99.0
    n = live.pipeline.scoring.scored
    qtbot.waitUntil(lambda: live.pipeline.scoring.scored > n + 30 and live.last_result.result.ood, timeout=15000)
    assert live.best.score == pytest.approx(best) and live.exam.exam.best["abdomen"].score == pytest.approx(72.0)
    sc.ood, sc.score_value = False, 72.0
    # end of exam: one folder, final best per plane, a one-page report (PNG + PDF); no other files
    header = window.report_header()
    paths = live.end_exam(header)
    folder = paths[0].parent
    assert folder.name.startswith("exam_") and folder.parent == window.settings.output_dir()
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["abdomen_q72.png", "abdomen_q72_heatmap.png", "head_q91.png", "head_q91_heatmap.png",
                     "report.pdf", "report.png"]
    page = cv2.imread(str(folder / "report.png"))
    assert page.shape[0] > page.shape[1] > 1000  # a portrait page
    assert (folder / "report.pdf").read_bytes()[:4] == b"%PDF"
    crop = cv2.imread(str(folder / "head_q91.png"), cv2.IMREAD_UNCHANGED)
    assert crop.shape[:2] == (200, 260) and 255 not in crop  # the burned-in text (outside the ROI) is not in it
    assert live.exam.exam.best == {} and strip.texts()[0] == "Head · to do"  # a new exam begins


def test_hold_detector_needs_a_held_standard_plane():
    from app.exam import HoldDetector

    h = HoldDetector(hold_s=1.0, standard=80)
    assert not h.update(0.0, 85, "head")
    assert not h.update(0.5, 85, "head")
    assert h.update(1.0, 85, "head")  # held one second
    assert not h.update(1.5, 85, "head")  # once per stretch
    assert not h.update(2.0, 79.4, "head")  # "79" is not standard
    assert not h.update(2.1, 90, "head") and not h.update(2.6, 90, "abdomen")  # a new plane starts again
    assert not h.update(3.0, 90, "abdomen") and h.update(3.7, 90, "abdomen")
    assert not HoldDetector(0.0).update(0.0, 99, None)  # no plane: never


def test_exam_without_plane_heads_files_under_the_asked_plane(tmp_path):
    from app.exam import Exam
    from engine.result import FrameResult

    e = Exam(tmp_path)
    img = np.full((100, 120), 90, np.uint8)
    fr = FrameResult(score=83.0, heatmap=np.full((4, 4), 83.0, np.float32))
    assert e.offer(fr, img, (10, 10, 50, 40), np.zeros((40, 50), np.float32), auto=False).plane == "head"
    assert e.next_plane() == "abdomen"
    worse = FrameResult(score=70.0, heatmap=np.full((4, 4), 70.0, np.float32))
    e.target = "head"
    assert e.offer(worse, img, (10, 10, 50, 40), np.zeros((40, 50), np.float32), auto=True) is None  # auto keeps the better
    assert e.coverage() == {"head": 83.0, "abdomen": None, "femur": None}
