"""Dark theme for a dim room (light in Settings), readable at 1280×720 and at 800 px width."""
from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from test_gui_fakes import BrightnessScorer
from test_gui_live import _live_fake, isolated, no_dialogs, window  # noqa: F401 - fixtures


def _lightness(w, role=QPalette.Window):
    return w.palette().color(role).lightness()


def test_dark_theme_by_default_everywhere(qtbot, window):
    assert _lightness(QApplication.instance()) < 60
    for w in (window, window.cine, window.cine.best_list, window.live.panel):
        assert _lightness(w) < 60 and _lightness(w, QPalette.Base) < 60
    assert _lightness(w, QPalette.WindowText) > 180  # light text on it
    d = window.open_retrain()
    assert _lightness(d) < 60
    d.close()


def test_light_theme_from_settings_and_keys_apply(qtbot, window, monkeypatch):
    from app.tools import SettingsDialog

    monkeypatch.setattr(SettingsDialog, "exec", lambda self: (self.theme.setCurrentText("light"),
                                                              self.capture_key.setKeySequence("F9"),
                                                              self.accept(), 1)[-1])
    window.open_settings()
    assert window.settings.get("ui/theme") == "light" and _lightness(QApplication.instance()) > 200
    assert window.capture_action.shortcut().toString() == "F9" and "F9" in window.live.side.capture_btn.text()
    from app import theme

    theme.apply("dark")


def test_fits_800_px_wide_and_1280x720(qtbot, window):
    _live_fake(window, qtbot, scorer=BrightnessScorer())
    live = window.live
    live.banner.set_part("untrained", "MODEL TRAINED ON SYNTHETIC DATA — scores are a demonstration only")
    live.banner.set_part("synthetic", "SYNTHETIC DEMO — not patient data")
    assert window.minimumSizeHint().width() <= 800
    for w, h in ((800, 600), (1280, 720)):
        window.resize(w, h)
        qtbot.waitUntil(lambda: window.width() == w, timeout=5000)
        QApplication.processEvents()
        assert live.banner.height() <= 2 * live.banner.fontMetrics().height() + 8  # one line, not wrapped
        assert "SYNTHETIC" in live.banner.full_text() and live.banner.toolTip() == live.banner.full_text()
        shown = live.banner.text()  # every warning named, whatever the width (the tails may go)
        assert "MODEL TRAINED ON SYNTHETIC DATA" in shown and "SYNTHETIC DEMO" in shown and "…" not in shown
        assert (shown == live.banner.full_text()) == (w == 1280)
        assert live.gauge.height() >= 120 and live.panel.height() >= 60
        assert window.statusBar().height() >= window.statusBar().fontMetrics().height()
