"""What the GUI must announce about the model (README: "every screen and report says so"):
the shipped default, trained on SYNTHETIC data only; an untrained model; a site-trained one (no
banner about the model)."""
from __future__ import annotations

import pytest

from engine_helpers import package_varied
from test_gui_live import isolated, no_dialogs  # noqa: F401 - fixtures


def _window(qtbot, **kw):
    from app.main_window import MainWindow

    w = MainWindow(**kw)
    qtbot.addWidget(w)
    return w


def test_default_model_banner_says_trained_on_synthetic_data(qtbot, isolated, no_dialogs):
    from engine.modelpack import default_model_path, load

    pkg = load(default_model_path())
    assert pkg.trained and pkg.synthetic  # the premise, from the shipped file's metadata
    w = _window(qtbot)
    assert w.scorer.package.path == default_model_path()
    for banner in (w.live.banner, w.cine.banner):
        text = banner.parts().get("untrained", "")
        assert "MODEL TRAINED ON SYNTHETIC DATA" in text
        assert "UNTRAINED" not in text
    w.close()


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
