"""Settings kept with QSettings (device, ROI, thresholds, overlay, smoothing, paths).

``FUIQA_SETTINGS`` (a file path) switches to an INI file there: tests and the headless checks use it
so they never touch the user's own settings.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORG, APP = "FUIQA", "ScanAssistant"

DEFAULTS = {
    "source/last": "demo",
    "source/device_backend": "any",
    "scoring/backend": "auto",
    "scoring/model": "",  # empty: the shipped default
    "scoring/previous_model": "",
    "scoring/model_sha256": "",  # the active model is pinned: loaded only while its bytes still match
    "scoring/previous_model_sha256": "",
    "roi/mode": "auto",  # auto | user | full
    "roi/user_box": "",  # "x,y,w,h"
    "roi/auto_every_s": 5.0,
    "thresholds/good": 80.0,
    "thresholds/acceptable": 60.0,
    "best/autosave": True,  # write the exam (best frame per plane + report) when the program closes
    "best/autosave_threshold": 85.0,
    "overlay/show": True,
    "overlay/opacity": 0.45,
    "overlay/colormap": "viridis",
    "gauge/smoothing_s": 0.4,
    "paths/output": "",
    "paths/models": "",
    "recent/files": "[]",
    "recent/enabled": True,  # off: no file paths (often patient names) are kept in the settings
    "ui/theme": "dark",  # dark (a dim scan room) | light
    "keys/capture_next": "F8",  # "capture and next plane" (a USB foot pedal can send it)
    "keys/end_exam": "Ctrl+E",
    "exam/auto_capture": True,
    "exam/hold_s": 1.0,  # a standard plane held this long is captured automatically
    "exam/sound": False,
}


def _settings() -> QSettings:
    p = os.environ.get("FUIQA_SETTINGS")
    if p:
        return QSettings(p, QSettings.IniFormat)
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORG, APP)


class Settings:
    """Typed access to the program's settings with defaults."""

    def __init__(self):
        self.q = _settings()

    def get(self, key: str):
        d = DEFAULTS.get(key)
        v = self.q.value(key, d)
        if isinstance(d, bool):
            return v in (True, "true", "True", "1", 1)
        if isinstance(d, float):
            try:
                return float(v)
            except (TypeError, ValueError):
                return d
        return v if v is not None else d

    def set(self, key: str, value) -> None:
        self.q.setValue(key, value)  # QSettings writes to disk later by itself (no I/O on every slider move)

    def sync(self) -> None:
        self.q.sync()

    # paths ---------------------------------------------------------------------------------------
    def data_dir(self) -> Path:
        base = os.environ.get("FUIQA_DATA_DIR")
        if base:
            p = Path(base)
        else:
            loc = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or str(Path.home() / ".fuiqa")
            p = Path(loc)
            if "FUIQA" not in str(p):
                p = p / "FUIQA"
        p.mkdir(parents=True, exist_ok=True)
        return p

    def output_dir(self) -> Path:
        p = Path(self.get("paths/output") or (self.data_dir() / "captures"))
        p.mkdir(parents=True, exist_ok=True)
        return p

    def models_dir(self) -> Path:
        p = Path(self.get("paths/models") or (self.data_dir() / "models"))
        p.mkdir(parents=True, exist_ok=True)
        return p

    # recent files --------------------------------------------------------------------------------
    def recent(self) -> list[str]:
        try:
            v = json.loads(self.get("recent/files") or "[]")
            return [str(x) for x in v][:8]
        except (TypeError, ValueError):
            return []

    def add_recent(self, path: str) -> None:
        if not self.get("recent/enabled"):
            return
        r = [p for p in self.recent() if p != path]
        self.set("recent/files", json.dumps([path] + r[:7]))

    def clear_recent(self) -> None:
        self.set("recent/files", "[]")
        self.sync()

    def set_recent_enabled(self, on: bool) -> None:
        """Switch the recent-files list on or off; switching it off also clears it."""
        self.set("recent/enabled", bool(on))
        if not on:
            self.clear_recent()

    def user_box(self):
        t = self.get("roi/user_box")
        if not t:
            return None
        try:
            x, y, w, h = (int(float(v)) for v in str(t).split(","))
            return (x, y, w, h) if w > 0 and h > 0 else None
        except ValueError:
            return None
