"""What the GUI must announce about the model (README: "every screen and report says so"):
the shipped default, trained on SYNTHETIC data only; an untrained model; a site-trained one (no
banner about the model)."""
from __future__ import annotations

import numpy as np
import pytest

from engine_helpers import package_varied
from test_gui_live import isolated, no_dialogs  # noqa: F401 - fixtures


def _window(qtbot, **kw):
    from app.main_window import MainWindow

    w = MainWindow(**kw)
    qtbot.addWidget(w)
    return w


def test_default_model_banner_says_what_it_was_trained_on(qtbot, isolated, no_dialogs):
    from engine.modelpack import default_model_path, load

    pkg = load(default_model_path())
    assert pkg.trained and pkg.training_note  # the premise, from the shipped file's metadata
    want = "MODEL TRAINED ON SYNTHETIC DATA" if pkg.synthetic else f"MODEL TRAINED ON {pkg.training_note}"
    if not pkg.synthetic:
        assert "REAL" in pkg.training_note  # a model with real frames never calls itself synthetic-only
    w = _window(qtbot)
    assert w.scorer.package.path == default_model_path()
    for banner in (w.live.banner, w.cine.banner):
        text = banner.parts().get("untrained", "")
        assert want in text


@pytest.mark.parametrize("trained,synthetic,expect", [
    (False, False, "UNTRAINED MODEL"),
    (True, False, None),
])
def test_model_banner_follows_the_model(qtbot, isolated, no_dialogs, tmp_path, trained, synthetic, expect):
    pkg = package_varied(tmp_path / "m.fuiqa", trained=trained)
    assert pkg.synthetic is synthetic
    w = _window(qtbot, model=str(pkg.path))
    assert w.scorer.package.path == pkg.path and w.scorer_error is None
    for banner in (w.live.banner, w.cine.banner):
        text = banner.parts().get("untrained")
        if expect is None:
            assert text is None  # a model trained on real data: no model banner
        else:
            assert expect in text and "SYNTHETIC" not in text
    w.close()


@pytest.mark.parametrize("gpu_node,enabled,why", [
    (True, True, "build a TensorRT engine"),
    (False, False, "no NVIDIA GPU"),
])
def test_tensorrt_action_follows_the_machine(qtbot, isolated, no_dialogs, monkeypatch, gpu_node, enabled, why):
    """Tools ▸ Build TensorRT engine is on only with TensorRT importable AND an NVIDIA driver node;
    both are faked here, so the expectation does not depend on this machine."""
    import os
    import sys
    import types

    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    real_exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda p: (gpu_node if str(p) == "/dev/nvidiactl" else real_exists(p)))
    if os.name == "nt" and not gpu_node:
        pytest.skip("on Windows the driver node is not looked for")
    w = _window(qtbot)
    assert w.trt_action.isEnabled() is enabled
    assert why in w.trt_action.toolTip()
    w.close()


# ------------------------------------------------------------------ live actions no test covered


@pytest.fixture
def window(qtbot, isolated, no_dialogs):  # noqa: F811 - the live window, with fake devices (conftest)
    w = _window(qtbot)
    w.resize(1000, 650)
    w.show()
    yield w
    w.close()


class FlakyScorer:
    """BrightnessScorer that raises on calls 3, 4 and 5 (a GPU hiccup, a bad frame)."""

    def __init__(self):
        from test_gui_fakes import BrightnessScorer

        self.inner = BrightnessScorer()
        self.backend, self.reason, self.warning, self.input_size = "fake", "flaky test double", None, 64
        self.calls = 0

    def score(self, frames, rois=None):
        self.calls += 1
        if 3 <= self.calls <= 5:
            raise RuntimeError(f"fake failure {self.calls}")
        return self.inner.score(frames, rois)


def test_scorer_exception_during_live_scoring_is_reported_and_scoring_goes_on(qtbot, window, no_dialogs):
    from test_gui_fakes import FakeSource

    scorer = FlakyScorer()
    window.scorer = scorer
    live = window.live
    live.start("fake", opener=lambda: FakeSource())
    p = live.pipeline
    qtbot.waitUntil(lambda: p.scoring.errors == 3 and p.scoring.scored >= 5, timeout=15000)
    qtbot.waitUntil(lambda: "scoring failed" in (getattr(live, "last_error", "") or ""), timeout=5000)
    assert "fake failure" in live.last_error
    assert p.capture.captured > p.scoring.scored  # capture never stopped
    assert no_dialogs == []  # a status message, not a dialog per frame
    assert live.last_result is not None and 0 <= live.last_result.score <= 100


def test_heatmap_toggle_and_opacity_apply_and_persist(qtbot, window):
    from test_gui_fakes import BrightnessScorer, FakeSource

    window.scorer = BrightnessScorer()
    live = window.live
    live.start("fake", opener=lambda: FakeSource())
    qtbot.waitUntil(lambda: live.pipeline.scoring.scored >= 3, timeout=15000)
    acts = {a.text().replace("&", ""): a for a in window.actions()}
    shown = live.heat_item.isVisible()
    acts["Heatmap"].trigger()
    assert live.heat_item.isVisible() is (not shown) and live.heat_check.isChecked() is (not shown)
    assert window.settings.get("overlay/show") is (not shown)
    acts["Heatmap"].trigger()
    assert live.heat_item.isVisible() is shown
    live.opacity.setValue(30)
    assert live.heat_item.opacity() == pytest.approx(0.3)
    assert window.settings.get("overlay/opacity") == pytest.approx(0.3)
    # one colour meaning everywhere (red = points lost, issue 11): no colour-map choice, a legend instead
    assert not hasattr(live, "cmap") and live.legend is not None


# ------------------------------------------------------------------ retrain: failed and "keep current"

FAILING_TRAINER = (
    "import json, sys\n"
    "print(json.dumps({'event': 'error', 'message': 'labels.csv row 3: mos 140 out of 0-100'}), flush=True)\n"
    "sys.exit(2)\n"
)


def test_retrain_failure_is_shown_and_changes_nothing(qtbot, window, tmp_path):
    import sys

    from app.retrain import RetrainDialog

    script = tmp_path / "failing_trainer.py"
    script.write_text(FAILING_TRAINER)
    data = tmp_path / "labelled"
    data.mkdir()
    (data / "labels.csv").write_text("name,mos\na.png,50\n")
    window.settings.set("scoring/model", "")
    d = RetrainDialog(window.settings, None, parent=window, trainer_cmd=[sys.executable, str(script)])
    qtbot.addWidget(d)
    with qtbot.waitSignal(d.state_changed, timeout=30000, check_params_cb=lambda s: s == "failed"):
        assert d.start(str(data))
    assert "training failed (exit 2)" in d.status.text() and "mos 140" in d.status.text()
    assert "unchanged" in d.status.text()
    assert d.new_model is None and window.settings.get("scoring/model") == ""
    assert not d.accept_btn.isVisible() and d.start_btn.isEnabled()


def test_retrain_keep_current_keeps_it(qtbot, window, tmp_path):
    import shutil
    import sys
    from pathlib import Path

    from test_gui_retrain import FAKE_TRAINER

    from app.retrain import RetrainDialog
    from engine.modelpack import default_model_path

    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    data = tmp_path / "labelled"
    data.mkdir()
    (data / "labels.csv").write_text("name,mos\na.png,50\n")
    shutil.copy(default_model_path(), data / "model_src.fuiqa")
    window.settings.set("scoring/model", "")
    d = RetrainDialog(window.settings, None, parent=window, trainer_cmd=[sys.executable, str(script)])
    qtbot.addWidget(d)
    d.epochs.setValue(1)
    with qtbot.waitSignal(d.state_changed, timeout=30000, check_params_cb=lambda s: s == "compare"):
        assert d.start(str(data))
    new = d.new_model
    with qtbot.waitSignal(d.state_changed, timeout=5000, check_params_cb=lambda s: s == "kept"):
        d.keep_btn.click()
    assert window.settings.get("scoring/model") == ""  # the active model did not change
    assert window.scorer.package.path == default_model_path()
    assert new and Path(new).exists()  # the new model stays in the models folder
    assert not d.accept_btn.isVisible() and not d.keep_btn.isVisible()


def test_gui_tests_see_no_real_capture_card(qtbot, window):
    """conftest's fake enumeration: the device list is empty whatever this machine has plugged in."""
    window.refresh_devices()
    qtbot.waitUntil(lambda: window.devices is not None, timeout=10000)
    assert window.devices == []
