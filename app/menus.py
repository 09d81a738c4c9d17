"""The Source and Recent-files menus of the main window (capture devices are looked up off the GUI
thread) and the checks that enable the Tools menu's retraining and TensorRT items."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QAction, QActionGroup

from engine import sources


class SourceMenus:
    """Mixin for MainWindow: needs ``source_menu``, ``recent_menu``, ``live``, ``settings``,
    ``devices``, ``start_source`` and ``open_cine``."""

    def _fill_source_menu(self):
        m = self.source_menu
        m.clear()
        g = QActionGroup(m)
        cur = self.live.spec

        def add(text, spec):
            a = QAction(text, m, checkable=True)
            a.setChecked(spec == cur)
            a.triggered.connect(lambda _=False, s=spec: self.start_source(s))
            g.addAction(a)
            m.addAction(a)

        add("Built-in demo (synthetic)", "demo")
        devs = self.devices
        if devs is None:
            m.addAction("(looking for capture devices …)").setEnabled(False)
        elif not devs:
            m.addAction("(no capture devices found)").setEnabled(False)
        for d in devs or []:
            add(f"{d.name} — index {d.index}, {d.backend} ({d.width}×{d.height})", f"device:{d.index}:{d.backend}")
        if cur and cur not in ("demo",) and not cur.startswith("device:"):
            add(f"File: {Path(cur).name}", cur)
        m.addSeparator()
        m.addAction("Refresh device list").triggered.connect(self.refresh_devices)

    def refresh_devices(self):
        import threading

        from .tools import _BenchSignals

        self.devices = None
        sig = _BenchSignals(self)
        sig.done.connect(self._devices_found)

        def work():
            try:
                r = sources.list_devices()
            except Exception:  # noqa: BLE001
                r = []
            sig.done.emit(r)

        threading.Thread(target=work, daemon=True, name="fuiqa-devices").start()
        self._dev_sig = sig

    def _devices_found(self, devs):
        self.devices = list(devs)

    def _fill_recent_menu(self):
        m = self.recent_menu
        m.clear()
        for p in self.settings.recent():
            a = m.addAction(p)
            a.triggered.connect(lambda _=False, p=p: self.open_cine(p))
        if not self.settings.recent():
            m.addAction("(none)").setEnabled(False)
        m.addSeparator()
        keep = m.addAction("Remember recent files")
        keep.setCheckable(True)
        keep.setChecked(bool(self.settings.get("recent/enabled")))
        keep.toggled.connect(self.settings.set_recent_enabled)
        m.addAction("Clear recent files").triggered.connect(self.settings.clear_recent)


def trainer_available() -> tuple[bool, str]:
    """Retraining runs the trainer (torch) in a separate process; the installer bundle leaves torch out."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False, "retraining needs the full install with torch (tools/setup.sh); this bundle scores only"
    return True, "train a new model on a labelled folder in a separate process"


def gpu_available() -> tuple[bool, str]:
    """(available, reason shown as tooltip)."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False, "TensorRT is not installed (pip install -e '.[gpu]' on a machine with an NVIDIA GPU)"
    if not (os.path.exists("/dev/nvidiactl") or os.name == "nt"):
        return False, "no NVIDIA GPU found on this machine"
    return True, "build a TensorRT engine for this GPU (cached by GPU and TensorRT version)"
