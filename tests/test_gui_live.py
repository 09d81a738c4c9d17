"""Live view: threads, newest-frame-wins, gauge, freeze/snapshot/record, signal lost and regained."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from test_gui_fakes import BrightnessScorer, FakeSource

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Settings and output folders in tmp: tests never touch the user's settings."""
    monkeypatch.setenv("FUIQA_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("FUIQA_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def no_dialogs(monkeypatch):
    """Every QMessageBox is recorded and auto-closed."""
    calls = []

    def fake(kind):
        def f(*a, **k):
            calls.append((kind, a[1] if len(a) > 1 else "", a[2] if len(a) > 2 else ""))
            return QMessageBox.Ok
        return f

    for kind in ("critical", "warning", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(fake(kind)))
    return calls


@pytest.fixture
def window(qtbot, isolated, no_dialogs):
    from app.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    yield w
    w.close()


def _live_fake(window, qtbot, scorer=None, source=None):
    src = source or FakeSource()
    if scorer is not None:
        window.scorer = scorer
    window.live.start("fake", opener=lambda: src)
    qtbot.waitUntil(lambda: window.live.pipeline.scoring.scored >= 3, timeout=15000)
    return src


# --------------------------------------------------------------------------- mailbox


def test_latest_slot_newest_wins_and_counts_drops():
    from app.workers import LatestSlot

    s = LatestSlot()
    assert s.take(timeout=0.01) is None
    for i in range(5):
        s.put(i)
    assert s.take_nowait() == 4  # the newest, not the oldest
    assert s.dropped == 4  # 0..3 were replaced unseen
    assert s.take_nowait() is None  # nothing queued behind it
    s.put(7)
    assert s.take(timeout=0.01) == 7
    assert s.dropped == 4


def test_slow_scorer_drops_stale_frames_never_queues(qtbot, window):
    """A scorer slower than capture sees only the newest frames; the backlog never grows."""
    _live_fake(window, qtbot, scorer=BrightnessScorer(delay_s=0.08), source=FakeSource(fps=100))
    p = window.live.pipeline
    qtbot.waitUntil(lambda: p.scoring.scored >= 6, timeout=8000)
    assert p.dropped > 0
    assert p.capture.captured > p.scoring.scored
    # each result is for a frame at most one capture behind: lag is bounded, not a growing queue
    res = p.scoring.result_slot.peek()
    assert p.capture.seq - res.seq < 30


# --------------------------------------------------------------------------- demo + gauge


def test_starts_on_demo_scores_and_gauge_moves(qtbot, window):
    window.start_source(None)  # no last source in fresh settings -> the demo
    live = window.live
    assert live.spec == "demo"
    qtbot.waitUntil(lambda: live.pipeline is not None and live.pipeline.scoring.scored >= 5, timeout=15000)
    qtbot.waitUntil(lambda: live.frames_drawn >= 3, timeout=15000)
    res = live.pipeline.scoring.result_slot.peek()
    assert 0.0 <= res.score <= 100.0
    qtbot.waitUntil(lambda: live.gauge.value is not None and live.gauge.value > 5.0, timeout=15000)
    assert live.gauge.target == pytest.approx(live.last_result.score, abs=1e-3)
    # the default model is untrained and the demo synthetic: both are announced
    parts = live.banner.parts()
    if window.scorer.warning:
        assert "UNTRAINED" in parts["untrained"]
    assert "SYNTHETIC" in parts["synthetic"]
    assert live.banner.isVisible()
    # the status bar names the backend and counts
    live._update_status()
    txt = window.status_label.text()
    assert "backend: onnxruntime" in txt and "captured" in txt and "dropped" in txt


def test_gauge_follows_scores_with_smoothing(qtbot, window):
    from app.widgets import Gauge

    g = Gauge()
    g.smoothing_s = 0.4
    g.set_target(80)
    assert g.value == 0.0
    g.step(0.1)
    v1 = g.value
    assert 0 < v1 < 80  # smoothed, not a jump
    assert v1 == pytest.approx(80 * (1 - np.exp(-0.1 / 0.4)), rel=1e-6)
    for _ in range(50):
        g.step(0.1)
    assert g.value == pytest.approx(80, abs=0.1)
    g.set_target(150)
    assert g.target == 100  # clipped to the dial


def test_fake_source_scores_trend_and_best_frame(qtbot, window):
    _live_fake(window, qtbot, scorer=BrightnessScorer())
    live = window.live
    qtbot.waitUntil(lambda: len(live._trend) >= 10, timeout=15000)
    scores = [s for _, s in live._trend]
    assert max(scores) - min(scores) > 10  # the fake's brightness ramps, so scores vary
    assert live.best.score == pytest.approx(max(scores), abs=1e-3) or live.best.score >= max(scores)
    # a box dragged by the user wins over auto-detection and is kept in the settings
    live.set_user_roi((30, 20, 260, 200))
    n = live.pipeline.scoring.scored
    qtbot.waitUntil(lambda: live.pipeline.scoring.scored > n + 2, timeout=10000)
    qtbot.waitUntil(lambda: live.last_result.roi == (30, 20, 260, 200), timeout=10000)
    assert live.last_result.roi_kind == "user"
    assert window.settings.user_box() == (30, 20, 260, 200)
    live.auto_roi()
    assert live.pipeline.scoring.roi_policy.user_box is None


# --------------------------------------------------------------------------- freeze / snapshot / record


def test_freeze_with_space_stops_drawing(qtbot, window):
    _live_fake(window, qtbot, scorer=BrightnessScorer())
    live = window.live
    qtbot.waitUntil(lambda: live.frames_drawn >= 3, timeout=15000)
    window.activateWindow()
    window.freeze_action.trigger()  # Space
    assert window.freeze_action.shortcut().toString() == "Space"
    assert live.frozen and live.freeze_text.isVisible()
    shown = live.image_item.image.copy()
    drawn = live.frames_drawn
    scored, captured = live.pipeline.scoring.scored, live.pipeline.capture.captured
    # new frames arrive and get scored (each would be drawn if not frozen): an event, not a sleep
    qtbot.waitUntil(lambda: live.pipeline.scoring.scored >= scored + 5 and live.pipeline.capture.captured >= captured + 5,
                    timeout=10000)
    assert live.frames_drawn == drawn
    assert np.array_equal(live.image_item.image, shown)
    assert live.pipeline.capture.captured > 0  # capture goes on behind the frozen view
    window.freeze_action.trigger()
    assert not live.frozen
    qtbot.waitUntil(lambda: live.frames_drawn > drawn, timeout=10000)


def test_snapshot_saves_roi_only(qtbot, window, isolated):
    _live_fake(window, qtbot, scorer=BrightnessScorer())
    window.live.set_user_roi((30, 20, 260, 200))
    qtbot.waitUntil(lambda: window.live.last_result.roi == (30, 20, 260, 200), timeout=10000)
    acts = {a.text().replace("&", ""): a for a in window.actions()}
    assert acts["Snapshot"].shortcut().toString() == "S"
    assert acts["Record"].shortcut().toString() == "R"
    assert acts["Heatmap"].shortcut().toString() == "H"
    paths = window.live.snapshot()
    assert len(paths) == 2
    qtbot.waitUntil(lambda: all(p.exists() for p in paths), timeout=10000)
    img = cv2.imread(str(paths[0]), cv2.IMREAD_UNCHANGED)
    x, y, w, h = window.live.last_result.roi
    assert img.shape[:2] == (h, w)  # only the ROI is written
    assert 255 not in img  # the burned-in text strip (255 at rows 2..12) is outside the ROI
    assert "snapshot_" in paths[0].name and "_q" in paths[0].name
    assert paths[1].name.endswith("_heatmap.png")


def test_record_writes_mp4_and_scores_csv(qtbot, window, isolated):
    _live_fake(window, qtbot, scorer=BrightnessScorer())
    live = window.live
    window.record_action.trigger()
    assert live.recorder is not None and window.record_action.isChecked()
    rec = live.recorder
    qtbot.waitUntil(lambda: rec.frames >= 15 and rec.rows >= 5, timeout=6000)
    window.record_action.trigger()
    assert live.recorder is None and not window.record_action.isChecked()
    video, csv_path = live.last_recording
    assert video.exists() and csv_path.exists()
    assert not list(video.parent.glob(".*part*"))  # temp files renamed away
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == rec.frames >= 15
    rows = list(csv.DictReader(open(csv_path)))
    assert len(rows) == rec.rows >= 5
    assert all(0 <= float(r["score"]) <= 100 for r in rows)
    assert all(0 <= int(r["rec_frame"]) < n for r in rows)


# --------------------------------------------------------------------------- signal lost


def test_signal_lost_and_regained(qtbot, window, no_dialogs):
    src = _live_fake(window, qtbot, scorer=BrightnessScorer())
    live = window.live
    live.pipeline.capture.retry_s = 0.2  # quicker than the 1 s default, same code path
    qtbot.waitUntil(lambda: live.frames_drawn >= 2, timeout=10000)
    with qtbot.waitSignal(live.pipeline.signals.signal_lost, timeout=10000):
        src.unplug()
    assert live.signal_lost
    assert "SIGNAL LOST" in live.banner.parts()["signal"]
    assert live.overlay_text.isVisible()
    kept = live.image_item.image
    assert kept is not None  # the last frame stays on screen
    qtbot.waitUntil(lambda: src.reads_while_lost >= 2, timeout=10000)  # it keeps retrying ...
    assert live.pipeline.capture.lost_count == 1  # ... but said so once
    scored = live.pipeline.scoring.scored
    with qtbot.waitSignal(live.pipeline.signals.signal_regained, timeout=10000):
        src.replug()
    assert not live.signal_lost and "signal" not in live.banner.parts()
    qtbot.waitUntil(lambda: live.pipeline.scoring.scored > scored + 3, timeout=10000)
    assert no_dialogs == []  # no dialog storm: no dialog at all


def test_device_missing_at_start_is_retried(qtbot, window, no_dialogs):
    """A capture card not plugged in yet: the view says so and picks it up when it appears."""
    from engine import sources

    src = FakeSource()
    tries = []

    def opener():
        tries.append(1)
        if len(tries) < 3:
            raise sources.SourceError("capture device 0 could not be opened")
        return src

    window.scorer = BrightnessScorer()
    live = window.live
    live.start("device:0", opener=opener)
    live.pipeline.capture.retry_s = 0.1
    qtbot.waitUntil(lambda: live.source_state == "missing", timeout=10000)
    # a device that cannot be opened is "not found", not a lost signal (the cable is not the problem)
    assert "DEVICE NOT FOUND" in live.banner.parts()["signal"] and "SIGNAL LOST" not in live.banner.parts()["signal"]
    qtbot.waitUntil(lambda: live.pipeline.scoring.scored >= 2, timeout=15000)
    assert len(tries) == 3 and not live.signal_lost and live.source_state == "live"
    assert no_dialogs == []


def test_missing_last_source_falls_back_to_demo(qtbot, window, isolated):
    window.settings.set("source/last", str(isolated / "gone.mp4"))
    window.start_source(None)
    assert window.live.spec == "demo"


# --------------------------------------------------------------------------- headless entry


@pytest.mark.slow
def test_headless_cli_screenshot_and_counts(tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FUIQA_SETTINGS=str(tmp_path / "s.ini"),
               FUIQA_DATA_DIR=str(tmp_path / "d"))
    r = subprocess.run([sys.executable, "-m", "app", "gui", "--source", "demo", "--exit-after", "2.5",
                        "--screenshot", str(out), "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    counts = json.loads(r.stdout.strip().splitlines()[-1])
    assert counts["captured"] > 10 and counts["scored"] > 5 and counts["dropped"] >= 0
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 300 and img.shape[1] > 600


def test_source_menu_lists_demo_and_devices(qtbot, window, monkeypatch):
    from types import SimpleNamespace

    from engine import sources

    card = SimpleNamespace(index=2, name="Epiphan DVI2USB 3.0", backend="v4l2", width=1920, height=1080)
    monkeypatch.setattr(sources, "list_devices", lambda: [card])
    window.refresh_devices()  # probed off the GUI thread
    qtbot.waitUntil(lambda: window.devices is not None, timeout=10000)
    window._fill_source_menu()
    texts = [a.text() for a in window.source_menu.actions()]
    assert "Built-in demo (synthetic)" in texts
    dev = [a for a in window.source_menu.actions() if "Epiphan" in a.text()]
    assert dev and "index 2" in dev[0].text() and "v4l2" in dev[0].text() and "1920×1080" in dev[0].text()


def test_bad_model_falls_back_to_default_with_banner(qtbot, isolated, no_dialogs, tmp_path):
    from app.main_window import MainWindow
    from engine.modelpack import default_model_path

    bad = tmp_path / "broken.fuiqa"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    w = MainWindow(model=str(bad))
    qtbot.addWidget(w)
    assert w.scorer.package.path == default_model_path()
    assert "MODEL PROBLEM" in w.live.banner.parts()["model"] and "broken.fuiqa" in w.live.banner.parts()["model"]
    w.close()
