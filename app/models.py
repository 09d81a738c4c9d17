"""Tools ▸ Model manager: installed models (user models folder + the shipped default), metadata,
metrics; choose the active one; restore the previous one."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QLabel, QMessageBox, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from .settings import Settings


def installed_models(settings: Settings) -> list[dict]:
    """Every model: the shipped default plus the store (user models folder). Dicts with path,
    package (None when broken), error, broken, default, active. A corrupt file is a broken entry,
    never an exception."""
    from engine import modelstore
    from engine.modelpack import default_model_path, load

    dp = default_model_path()
    try:
        first = {"path": str(dp), "package": load(dp), "error": None, "broken": False}
    except Exception as e:  # noqa: BLE001
        first = {"path": str(dp), "package": None, "error": str(e), "broken": True}
    active = settings.get("scoring/model")
    out = []
    for m in [first] + modelstore.scan(settings.models_dir()):
        is_default = m["path"] == str(dp)
        out.append({**m, "default": is_default, "active": (m["path"] == active) or (is_default and not active)})
    return out


def activate(settings: Settings, path: str | None) -> str:
    """Make ``path`` the active model: copied into the store (atomic, never over another model) and
    pinned by SHA-256; ``None``/the shipped default clears the choice. The previous choice is kept
    for Restore. Returns the stored path ("" for the default). Raises ModelError."""
    from engine import modelstore
    from engine.modelpack import default_model_path

    if not path or Path(path).resolve() == default_model_path().resolve():
        new, sha = "", ""
    else:
        stored, sha = modelstore.install(path, settings.models_dir())
        new = str(stored)
    cur = settings.get("scoring/model") or ""
    if new != cur:
        settings.set("scoring/previous_model", cur)
        settings.set("scoring/previous_model_sha256", settings.get("scoring/model_sha256") or "")
    settings.set("scoring/model", new)
    settings.set("scoring/model_sha256", sha)
    settings.sync()
    return new


def check_active(settings: Settings, path: str | None) -> None:
    """Raise ModelError when ``path`` is the pinned active model and its bytes changed."""
    from engine import modelstore

    if path and path == (settings.get("scoring/model") or None):
        sha = settings.get("scoring/model_sha256") or None
        if sha:
            modelstore.load_pinned(path, sha)


class ModelManager(QDialog):
    active_changed = Signal(str)

    COLS = ["", "name", "trained", "training data", "test SRCC", "test PLCC", "created", "file"]

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Model manager")
        self.settings = settings
        self.table = QTableWidget(0, len(self.COLS))
        self.table.setHorizontalHeaderLabels(self.COLS)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setSelectionMode(QTableWidget.SingleSelection)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.table.itemSelectionChanged.connect(self._selected)
        self.use_btn = QPushButton("Make active")
        self.use_btn.clicked.connect(lambda: self.make_active(self.selected_path()))
        self.restore_btn = QPushButton("Restore previous")
        self.restore_btn.clicked.connect(self.restore_previous)
        self.add_btn = QPushButton("Add model file…")
        self.add_btn.clicked.connect(self._add)
        self.folder = QLabel(f"user models folder: {settings.models_dir()}")
        b = QHBoxLayout()
        b.addWidget(self.add_btn)
        b.addStretch(1)
        b.addWidget(self.restore_btn)
        b.addWidget(self.use_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.details)
        lay.addWidget(self.folder)
        lay.addLayout(b)
        self.resize(980, 420)
        self.refresh()

    def refresh(self):
        self.models = installed_models(self.settings)
        self.table.setRowCount(len(self.models))
        for r, m in enumerate(self.models):
            try:
                vals = self._row(m)
            except Exception as e:  # noqa: BLE001 - odd metadata: show the file as broken, keep the dialog
                m.update(package=None, broken=True, error=f"unreadable metadata ({e})")
                vals = self._row(m)
            for c, v in enumerate(vals):
                it = QTableWidgetItem(v)
                it.setData(Qt.UserRole, m["path"])
                self.table.setItem(r, c, it)
        self.table.resizeColumnsToContents()
        prev = self.settings.get("scoring/previous_model")
        self.restore_btn.setEnabled(bool(prev) or bool(self.settings.get("scoring/model")))
        self.restore_btn.setToolTip(f"go back to {prev or 'the shipped default'}")

    @staticmethod
    def _row(m: dict) -> list[str]:
        pkg = m["package"]
        meta = pkg.meta if pkg else {}
        met = meta.get("metrics") or {}

        def num(k):
            return f"{float(met[k]):.3f}" if isinstance(met, dict) and k in met else "—"

        return ["●" if m["active"] else "",
                (pkg.name if pkg else Path(m["path"]).name) + (" (shipped default)" if m["default"] else ""),
                ("yes" if pkg.trained else "NO (untrained)") if pkg else "BROKEN",
                ("SYNTHETIC" if pkg.synthetic else (str(meta.get("data_hash") or "")[:10] or "—")) if pkg else m["error"],
                num("srcc"), num("plcc"), str(meta.get("created", "")), m["path"]]

    def selected_path(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()]["path"] if rows else None

    def _selected(self):
        p = self.selected_path()
        m = next((m for m in self.models if m["path"] == p), None)
        if m and m["package"]:
            self.details.setText(m["package"].describe())
        elif m:
            self.details.setText(m["error"] or "")

    def make_active(self, path: str | None) -> bool:
        if not path:
            return False
        m = next((m for m in self.models if m["path"] == path), None)
        if m is None or m["package"] is None:
            QMessageBox.warning(self, "Model manager", f"This model cannot be used:\n{m['error'] if m else path}")
            return False
        from engine.modelpack import ModelError

        cur = self.settings.get("scoring/model") or ""
        try:
            new = activate(self.settings, None if m["default"] else path)
        except ModelError as e:
            QMessageBox.warning(self, "Model manager", str(e))
            return False
        self.refresh()
        if new != cur:
            self.active_changed.emit(new or path)
        return True

    def restore_previous(self) -> str:
        s = self.settings
        prev, prev_sha = s.get("scoring/previous_model") or "", s.get("scoring/previous_model_sha256") or ""
        cur, cur_sha = s.get("scoring/model") or "", s.get("scoring/model_sha256") or ""
        s.set("scoring/model", prev)
        s.set("scoring/model_sha256", prev_sha)
        s.set("scoring/previous_model", cur)
        s.set("scoring/previous_model_sha256", cur_sha)
        self.refresh()
        self.active_changed.emit(prev)
        return prev

    def _add(self):
        p, _ = QFileDialog.getOpenFileName(self, "Add a model", "", "FUIQA model (*.fuiqa)")
        if not p:
            return
        self.add_model(p)

    def add_model(self, p: str) -> Path | None:
        """Copy a model file into the store (validated, atomic, never over a same-named model)."""
        from engine import modelstore
        from engine.modelpack import ModelError

        try:
            dst, _ = modelstore.install(p, self.settings.models_dir())
        except (ModelError, OSError) as e:
            QMessageBox.warning(self, "Model manager", str(e))
            return None
        self.refresh()
        return dst
