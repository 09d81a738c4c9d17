"""Main window: Live tab, Cine review tab, menus (File / View / Tools / Help), status bar."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget

from . import dialogs, theme
from .live import LiveView
from .menus import SourceMenus, gpu_available, trainer_available
from .settings import Settings

VIDEO_FILTER = "Video or DICOM (*.mp4 *.avi *.mov *.mkv *.m4v *.dcm *.dicom *);;All files (*)"


class MainWindow(SourceMenus, QMainWindow):
    def __init__(self, backend: str | None = None, model: str | None = None, settings: Settings | None = None):
        super().__init__()
        self.setWindowTitle("FUIQA Scan Assistant")
        self.settings = settings or Settings()
        theme.apply(self.settings.get("ui/theme"))
        self.backend = backend or self.settings.get("scoring/backend") or "auto"
        self.model_override = model
        self.scorer = None
        self.scorer_error = None
        self._load_scorer()
        self.tabs = QTabWidget()
        self.live = LiveView(self.settings, lambda: self.scorer)
        self.tabs.addTab(self.live, "Live scanning")
        from .cine import CineReview

        self.cine = CineReview(self.settings, lambda: self.scorer)
        self.tabs.addTab(self.cine, "Cine review")
        self.setCentralWidget(self.tabs)
        from .widgets import ElideLabel

        self.status_label = ElideLabel("")  # elided at 800 px, the full text as tooltip
        self.statusBar().addWidget(self.status_label, 1)
        self.model_label = QLabel("")
        self.statusBar().addPermanentWidget(self.model_label)
        self.live.report_header = self.report_header
        self.live.source_started.connect(self._remember_source)
        self.live.status_changed.connect(self._live_status)
        self.live.message.connect(lambda t: self.statusBar().showMessage(t, 4000))
        self.cine.message.connect(self._cine_message)
        self.cine.opened.connect(self._cine_opened)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.devices = None  # probed in the background: opening each index can take seconds (DirectShow)
        self._build_menus()
        self._update_model_banner()
        self.refresh_devices()
        self.setAcceptDrops(True)
        self.resize(1280, 800)

    # ------------------------------------------------------------------ model / scorer
    def active_model_path(self) -> str | None:
        return self.model_override or (self.settings.get("scoring/model") or None)

    def _load_scorer(self) -> None:
        from engine.scorers import make_scorer

        path = self.active_model_path()
        # live scoring shares 2 cores with capture and drawing: one ORT thread that sleeps when idle
        # (a spinning pool would take the GUI thread's core; the model needs well under 1 ms a frame)
        kw = {"threads": 1, "spinning": False} if self.backend in ("auto", "ort", "onnxruntime") else {}
        try:
            from .models import check_active

            check_active(self.settings, path)  # the active model is pinned by SHA-256
            self.scorer = make_scorer(self.backend, path, **kw)
            self.scorer_error = None
        except Exception as e:  # noqa: BLE001 - ModelError, BackendUnavailable, ValueError ... all fall back
            self.scorer_error = f"{e} — using the shipped default model with ONNX Runtime"
            self.scorer = make_scorer("auto", None, threads=1, spinning=False)

    def reload_model(self) -> None:
        self.model_override = None
        self._load_scorer()
        self.live.set_scorer(self.scorer)
        self._update_model_banner()
        if self.scorer_error:
            dialogs.problem(self, "Model", "The chosen model could not be loaded; the shipped default model is "
                            "used instead.", self.scorer_error)

    def _update_model_banner(self) -> None:
        for b in (self.live.banner, self.cine.banner):
            b.set_part("model", f"MODEL PROBLEM: {self.scorer_error}" if self.scorer_error else None)
        if self.scorer_error:
            print(f"warning: {self.scorer_error}", file=sys.stderr)
        w = self.scorer.warning if self.scorer else None
        pkg = getattr(self.scorer, "package", None)
        if not w and pkg is not None:
            w = pkg.training_warning()
        for b in (self.live.banner, self.cine.banner):
            b.set_part("untrained", w)
        if hasattr(self, "model_label"):
            name = pkg.meta.get("name", pkg.path.stem) if pkg is not None else "?"
            self.model_label.setText(f"model: {name}")
            self.model_label.setToolTip(pkg.describe() if pkg is not None else "")

    def report_header(self) -> dict:
        """What an exam report says about the model (no patient data)."""
        pkg = getattr(self.scorer, "package", None)
        warn = [w for w in (getattr(self.scorer, "warning", None),) if w]
        note = pkg.training_warning() if pkg is not None else None
        if note:
            warn.append(note)
        if self.live._src_synthetic:
            warn.append("SYNTHETIC DEMO SOURCE")
        return {"model": pkg.describe() if pkg else "?", "warnings": warn}

    # ------------------------------------------------------------------ menus
    def _act(self, menu, text, slot, shortcut=None, checkable=False, tip=None) -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.WindowShortcut)
        a.setCheckable(checkable)
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        menu.addAction(a)
        self.addAction(a)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self.source_menu = m.addMenu("Live &source")
        self.source_menu.aboutToShow.connect(self._fill_source_menu)
        self._act(m, "Play a &file as live…", self.open_file_as_live)
        m.addSeparator()
        self._act(m, "&Open cine for review…", self.open_cine_dialog, "Ctrl+O")
        self.recent_menu = m.addMenu("&Recent files")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addSeparator()
        self._act(m, "&Quit", self.close, "Ctrl+Q")

        v = mb.addMenu("&Live")
        self.freeze_action = self._act(v, "&Freeze", self._freeze, "Space", checkable=True)
        self.heat_action = self._act(v, "&Heatmap", self._heat, "H", checkable=True)
        self.heat_action.setChecked(self.live.heat_item.isVisible())
        self._act(v, "&Snapshot", self.live.snapshot, "S")
        self.record_action = self._act(v, "&Record", self._record, "R", checkable=True)
        v.addSeparator()
        self.capture_action = self._act(v, "&Capture and next plane", self.live.capture_and_next,
                                        self.settings.get("keys/capture_next"))
        self.capture_action.setShortcutContext(Qt.ApplicationShortcut)  # whatever widget has focus (foot pedal)
        self.end_exam_action = self._act(v, "&End exam (report)", self.end_exam, self.settings.get("keys/end_exam"))
        self.end_exam_action.setShortcutContext(Qt.ApplicationShortcut)
        self._act(v, "&New sweep", self.live.new_sweep, "N")
        self._act(v, "Save &best frame", self.live.save_best, "B")
        self._act(v, "&Automatic ROI", self.live.auto_roi, "A")
        self._act(v, "Open captures &folder", self._open_output_dir)

        t = mb.addMenu("&Tools")
        ok, why = trainer_available()
        self.retrain_action = self._act(t, "&Retrain…", self.open_retrain, tip=why)
        self.retrain_action.setEnabled(ok)
        self._act(t, "&Model manager…", self.open_model_manager)
        gpu_ok, why = gpu_available()
        self.trt_action = self._act(t, "Build &TensorRT engine", self.build_tensorrt, tip=why)
        self.trt_action.setEnabled(gpu_ok)
        self._act(t, "&Benchmark current backend", self.benchmark_backend)
        t.addSeparator()
        self._act(t, "&Settings…", self.open_settings, "Ctrl+,")
        t.setToolTipsVisible(True)

        h = mb.addMenu("&Help")
        self._act(h, "&Keyboard shortcuts", self._shortcuts_help, "F1")
        self._act(h, "&About", self._about)

    # ------------------------------------------------------------------ live actions
    def start_source(self, spec: str | None = None) -> None:
        """Start a live source; it becomes "last used" only once it gives frames (LiveView.source_started)."""
        spec = spec or self.settings.get("source/last") or "demo"
        if spec != "demo" and not spec.startswith("device:") and not Path(spec).exists():
            self.statusBar().showMessage(f"last source {spec} is missing — starting the demo", 6000)
            spec = "demo"
        self.live.start(spec)
        self.tabs.setCurrentWidget(self.live)

    def _remember_source(self, spec: str) -> None:
        """The source that gives frames becomes "last used"; a file path only while recent files are
        remembered (a file name is often the patient's)."""
        if spec == "demo" or spec.startswith("device:") or self.settings.get("recent/enabled"):
            self.settings.set("source/last", spec)

    def end_exam(self):
        paths = self.live.end_exam()
        if paths:
            from .report_view import show_report

            self._report_view = show_report(self, paths[0].parent / "report.png")
        return paths

    def apply_keys(self):
        self.capture_action.setShortcut(QKeySequence(self.settings.get("keys/capture_next")))
        self.end_exam_action.setShortcut(QKeySequence(self.settings.get("keys/end_exam")))
        self.live.side.capture_btn.setText(f"Capture ({self.settings.get('keys/capture_next')})")

    def open_file_as_live(self):
        p, _ = QFileDialog.getOpenFileName(self, "Play a file as live", "", VIDEO_FILTER)
        if p:
            self.start_source(p)

    def _freeze(self):
        self.freeze_action.setChecked(self.live.toggle_freeze())

    def _heat(self):
        self.heat_action.setChecked(self.live.toggle_heatmap())

    def _record(self):
        self.record_action.setChecked(self.live.toggle_record())

    def _open_output_dir(self):
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.settings.output_dir())))

    def _live_status(self, text: str):
        if self.tabs.currentWidget() is self.live:
            self.status_label.setText(text)
            self.status_label.setToolTip(text)

    def _cine_message(self, t: str):
        self.statusBar().showMessage(t, 4000)
        if self.tabs.currentWidget() is self.cine:
            self.status_label.setText(self.cine.status_text())

    def _tab_changed(self, i):
        on_cine = self.tabs.widget(i) is self.cine
        self.live.set_paused(on_cine)  # no live scoring, capturing or saving behind the cine tab
        if on_cine:
            self.status_label.setText(self.cine.status_text())

    # ------------------------------------------------------------------ cine
    def open_cine_dialog(self):
        p, _ = QFileDialog.getOpenFileName(self, "Open cine for review", "", VIDEO_FILTER)
        if p:
            self.open_cine(p)

    def open_cine(self, path: str) -> bool:
        self.tabs.setCurrentWidget(self.cine)
        return self.cine.open(path)

    def _cine_opened(self, path: str):
        self.settings.add_recent(path)

    def dragEnterEvent(self, e):
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dropEvent(self, e):
        urls = [u.toLocalFile() for u in e.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_cine(urls[0])

    # ------------------------------------------------------------------ tools
    def open_retrain(self):
        from .retrain import RetrainDialog

        d = RetrainDialog(self.settings, self.active_model_path(), parent=self)
        d.model_accepted.connect(lambda _p: self.reload_model())
        d.show()
        self._retrain_dialog = d
        return d

    def open_model_manager(self):
        from .models import ModelManager

        d = ModelManager(self.settings, parent=self)
        d.active_changed.connect(lambda _p: self.reload_model())
        d.show()
        self._model_manager = d
        return d

    def build_tensorrt(self):
        """Build (or load from cache) the TensorRT engine in a background thread, then switch to it."""
        from engine import scorers

        from .tools import run_async

        path = self.active_model_path()

        def done(r):
            if isinstance(r, Exception):
                dialogs.problem(self, "TensorRT", "The TensorRT engine could not be built for this GPU; "
                                "scoring goes on with the current backend.", r)
                return
            self.backend = "tensorrt"
            self.settings.set("scoring/backend", "tensorrt")
            self.scorer = r
            self.live.set_scorer(r)
            self._update_model_banner()
            dialogs.info(self, "TensorRT", "TensorRT engine ready (cached for the next start).")

        return run_async(self, "TensorRT", "Building the TensorRT engine for this GPU (cached afterwards) …",
                         lambda: scorers.make_scorer("tensorrt", path), done)

    def benchmark_backend(self):
        from .tools import run_benchmark

        return run_benchmark(self, self.scorer)

    def open_settings(self):
        from .tools import SettingsDialog

        d = SettingsDialog(self.settings, self)
        if d.exec():
            theme.apply(self.settings.get("ui/theme"))
            self.apply_keys()
            self.live.gauge.smoothing_s = self.settings.get("gauge/smoothing_s")
            self.live.apply_thresholds(self.settings.get("thresholds/good"), self.settings.get("thresholds/acceptable"))
            new_backend = self.settings.get("scoring/backend")
            if new_backend != self.backend:
                self.backend = new_backend
                self.reload_model()

    def _shortcuts_help(self):
        QMessageBox.information(self, "Keyboard shortcuts",
                                "Space  freeze / unfreeze\nH  heatmap on / off\nS  snapshot\nR  record on / off\n"
                                "N  new sweep\nB  save best frame\nA  automatic ROI (drag the box to set it by hand)\n"
                                f"{self.settings.get('keys/capture_next')}  capture and next plane (any focus; a foot pedal)\n"
                                f"{self.settings.get('keys/end_exam')}  end exam: best frame per plane + report\n"
                                "Ctrl+O  open cine for review\nCine review: ←/→ step, Home/End first/last, P play/pause, L loop")

    def _about(self):
        pkg = getattr(self.scorer, "package", None)
        box = QMessageBox(QMessageBox.Information, "About FUIQA Scan Assistant",
                          "FUIQA Scan Assistant — fetal ultrasound image quality, 0–100 "
                          "(≥ 80 standard, 60–79 acceptable, < 60 non-standard).\n\n"
                          f"Model: {pkg.meta.get('name', pkg.path.stem) if pkg else '?'}\n"
                          f"Trained on: {_training_words(pkg)}\n"
                          f"Scoring backend: {self.scorer.backend}\n\nDecision support only; not a diagnostic device.",
                          QMessageBox.Ok, self)
        box.setDetailedText(f"{pkg.describe() if pkg else '?'}\n{self.scorer.reason}")  # technical words: behind Details
        dialogs.shown.append((box.windowTitle(), box.text(), box.detailedText()))
        box.open()
        self._about_box = box

    def closeEvent(self, e):
        if self.settings.get("best/autosave") and self.live.exam.exam.best:
            self.live.end_exam()  # the exam's final best frame per plane + report, once
        self.live.stop()
        self.cine.stop()
        self.settings.sync()
        super().closeEvent(e)


def _training_words(pkg) -> str:
    """What the About box says the model learnt from (the model file's own record)."""
    if pkg is None:
        return "?"
    td = pkg.meta.get("training_data")
    if isinstance(td, dict) and td.get("long"):
        return td["long"] + (f" Data: {td['attribution']}" if td.get("attribution") else "")
    if pkg.synthetic:
        return "synthetic images only (never a real scan)"
    return pkg.training_note or "not recorded in the model file"
