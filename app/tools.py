"""Tools ▸ Settings and Tools ▸ Benchmark current backend."""
from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
                               QKeySequenceEdit, QLineEdit, QMessageBox, QProgressDialog)

from .settings import Settings


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.s = settings
        f = QFormLayout(self)
        self.backend = QComboBox()
        self.backend.addItems(["auto", "ort", "torch", "tensorrt"])
        self.backend.setCurrentText(settings.get("scoring/backend"))
        self.dev_backend = QComboBox()
        self.dev_backend.addItems(["any", "v4l2", "dshow", "msmf", "avfoundation"])
        self.dev_backend.setCurrentText(settings.get("source/device_backend"))
        self.roi_mode = QComboBox()
        self.roi_mode.addItems(["auto", "user", "full"])
        self.roi_mode.setCurrentText(settings.get("roi/mode"))
        self.roi_box = QLineEdit(settings.get("roi/user_box") or "")
        self.roi_box.setPlaceholderText("x,y,w,h (or drag the box on the live view)")

        def spin(key, lo, hi, step=1.0, dec=1):
            s = QDoubleSpinBox()
            s.setRange(lo, hi)
            s.setSingleStep(step)
            s.setDecimals(dec)
            s.setValue(settings.get(key))
            return s

        self.good = spin("thresholds/good", 1, 100)
        self.acc = spin("thresholds/acceptable", 0, 99)
        self.autosave = QCheckBox("save the best frame automatically above")
        self.autosave.setChecked(settings.get("best/autosave"))
        self.autosave_thr = spin("best/autosave_threshold", 0, 100)
        self.smooth = spin("gauge/smoothing_s", 0, 5, 0.1, 2)
        self.roi_every = spin("roi/auto_every_s", 0.5, 120, 0.5)
        self.theme = QComboBox()
        self.theme.addItems(["dark", "light"])
        self.theme.setCurrentText(settings.get("ui/theme"))
        self.capture_key = QKeySequenceEdit(QKeySequence(settings.get("keys/capture_next")))
        self.end_key = QKeySequenceEdit(QKeySequence(settings.get("keys/end_exam")))
        self.auto_capture = QCheckBox("capture a standard plane held for (s)")
        self.auto_capture.setChecked(settings.get("exam/auto_capture"))
        self.hold = spin("exam/hold_s", 0.0, 10.0, 0.1, 1)
        self.sound = QCheckBox("a sound with the capture cue")
        self.sound.setChecked(settings.get("exam/sound"))
        self.out = QLineEdit(str(settings.output_dir()))
        self.models = QLineEdit(str(settings.models_dir()))
        f.addRow("Scoring backend", self.backend)
        f.addRow("Capture backend", self.dev_backend)
        f.addRow("ROI", self.roi_mode)
        f.addRow("ROI box", self.roi_box)
        f.addRow("Re-detect ROI every (s)", self.roi_every)
        f.addRow("Standard from (score)", self.good)
        f.addRow("Acceptable from (score)", self.acc)
        f.addRow("Theme", self.theme)
        f.addRow("Capture and next plane key", self.capture_key)
        f.addRow("End exam key", self.end_key)
        f.addRow(self.auto_capture, self.hold)
        f.addRow("", self.sound)
        self.autosave.setText("write the exam (best frame per plane + report) on quit")
        f.addRow(self.autosave)
        f.addRow("Gauge smoothing (s)", self.smooth)
        f.addRow("Captures folder", self.out)
        f.addRow("Models folder", self.models)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        f.addRow(bb)

    def accept(self):
        if self.acc.value() >= self.good.value():
            QMessageBox.warning(self, "Settings", "'Acceptable from' must be below 'Standard from'.")
            return
        s = self.s
        s.set("scoring/backend", self.backend.currentText())
        s.set("source/device_backend", self.dev_backend.currentText())
        s.set("roi/mode", self.roi_mode.currentText())
        s.set("roi/user_box", self.roi_box.text().strip())
        s.set("roi/auto_every_s", self.roi_every.value())
        s.set("thresholds/good", self.good.value())
        s.set("thresholds/acceptable", self.acc.value())
        s.set("best/autosave", self.autosave.isChecked())
        s.set("best/autosave_threshold", self.autosave_thr.value())
        s.set("ui/theme", self.theme.currentText())
        for key, edit in (("keys/capture_next", self.capture_key), ("keys/end_exam", self.end_key)):
            seq = edit.keySequence().toString()
            if seq:
                s.set(key, seq)
        s.set("exam/auto_capture", self.auto_capture.isChecked())
        s.set("exam/hold_s", self.hold.value())
        s.set("exam/sound", self.sound.isChecked())
        s.set("gauge/smoothing_s", self.smooth.value())
        s.set("paths/output", self.out.text().strip())
        s.set("paths/models", self.models.text().strip())
        super().accept()


class _BenchSignals(QObject):
    done = Signal(object)


def benchmark(scorer, n: int = 60, shape=(600, 800, 3)) -> dict:
    """Batch-1 scoring time (ms) of the current backend on synthetic frames (after warm-up)."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, shape, dtype=np.uint8) for _ in range(4)]
    roi = (50, 40, shape[1] - 100, shape[0] - 80)
    for f in frames:
        scorer.score([f], [roi])
    t = []
    for i in range(n):
        t0 = time.perf_counter()
        scorer.score([frames[i % 4]], [roi])
        t.append((time.perf_counter() - t0) * 1000)
    a = np.asarray(t)
    return {"backend": scorer.backend, "reason": getattr(scorer, "reason", ""), "n": n,
            "p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "fps": float(1000 / a.mean())}


def run_benchmark(parent, scorer, n: int = 60):
    """Run :func:`benchmark` in a thread with a progress dialog; shows the result when done."""
    dlg = QProgressDialog(f"Benchmarking {scorer.backend} …", None, 0, 0, parent)
    dlg.setWindowTitle("Benchmark")
    dlg.setMinimumDuration(0)
    sig = _BenchSignals(parent)

    def show(r):
        dlg.close()
        from . import dialogs

        if isinstance(r, Exception):
            dialogs.problem(parent, "Benchmark", "The benchmark could not run on the current scoring backend.", r)
            return
        dialogs.info(parent, "Benchmark",
                     f"Scoring one 800×600 frame with {r['backend']} ({r['n']} runs): typical {r['p50_ms']:.1f} ms, "
                     f"slowest 5 % {r['p95_ms']:.1f} ms — {r['fps']:.0f} frames a second.")
        parent._last_benchmark = r

    sig.done.connect(show)

    def work():
        try:
            r = benchmark(scorer, n)
        except Exception as e:  # noqa: BLE001
            r = e
        sig.done.emit(r)

    threading.Thread(target=work, daemon=True, name="fuiqa-bench").start()
    dlg.show()
    return sig


def run_async(parent, title: str, text: str, fn, on_done):
    """Run ``fn()`` in a thread behind a busy dialog; ``on_done(result_or_exception)`` in the GUI thread."""
    dlg = QProgressDialog(text, None, 0, 0, parent)
    dlg.setWindowTitle(title)
    dlg.setMinimumDuration(0)
    sig = _BenchSignals(parent)

    def finish(r):
        dlg.close()
        on_done(r)

    sig.done.connect(finish)

    def work():
        try:
            r = fn()
        except Exception as e:  # noqa: BLE001
            r = e
        sig.done.emit(r)

    threading.Thread(target=work, daemon=True, name="fuiqa-tool").start()
    dlg.show()
    return sig
