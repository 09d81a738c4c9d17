"""Tools ▸ Model manager: installed models (user models folder + the shipped default), metadata,
metrics; choose the active one; restore the previous one."""
from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QLabel, QMessageBox, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from .settings import Settings


def installed_models(settings: Settings) -> list[dict]:
    """Every loadable model: dicts with path, package (or None) and error."""
    from engine.modelpack import ModelError, default_model_path, load

    paths = [default_model_path()]
    md = settings.models_dir()
    paths += sorted(md.glob("*.fuiqa")) + sorted(md.glob("*/model.fuiqa"))
    active = settings.get("scoring/model")
    out = []
    for p in paths:
        try:
            pkg, err = load(p), None
        except ModelError as e:
            pkg, err = None, str(e)
        is_default = p == default_model_path()
        out.append({"path": str(p), "package": pkg, "error": err, "default": is_default,
                    "active": (str(p) == active) or (is_default and not active)})
    return out


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
            pkg = m["package"]
            meta = pkg.meta if pkg else {}
            met = meta.get("metrics") or {}
            vals = ["●" if m["active"] else "",
                    (pkg.name if pkg else Path(m["path"]).name) + (" (shipped default)" if m["default"] else ""),
                    ("yes" if pkg.trained else "NO (untrained)") if pkg else "unreadable",
                    ("SYNTHETIC" if pkg.synthetic else (str(meta.get("data_hash") or "")[:10] or "—")) if pkg else m["error"],
                    f"{met['srcc']:.3f}" if "srcc" in met else "—",
                    f"{met['plcc']:.3f}" if "plcc" in met else "—",
                    str(meta.get("created", "")),
                    m["path"]]
            for c, v in enumerate(vals):
                it = QTableWidgetItem(v)
                it.setData(Qt.UserRole, m["path"])
                self.table.setItem(r, c, it)
        self.table.resizeColumnsToContents()
        prev = self.settings.get("scoring/previous_model")
        self.restore_btn.setEnabled(bool(prev) or bool(self.settings.get("scoring/model")))
        self.restore_btn.setToolTip(f"go back to {prev or 'the shipped default'}")

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
        cur = self.settings.get("scoring/model") or ""
        new = "" if m["default"] else path
        if new == cur:
            return True
        self.settings.set("scoring/previous_model", cur)
        self.settings.set("scoring/model", new)
        self.refresh()
        self.active_changed.emit(path)
        return True

    def restore_previous(self) -> str:
        prev = self.settings.get("scoring/previous_model") or ""
        cur = self.settings.get("scoring/model") or ""
        self.settings.set("scoring/model", prev)
        self.settings.set("scoring/previous_model", cur)
        self.refresh()
        self.active_changed.emit(prev)
        return prev

    def _add(self):
        p, _ = QFileDialog.getOpenFileName(self, "Add a model", "", "FUIQA model (*.fuiqa)")
        if not p:
            return
        from engine.modelpack import ModelError, load

        try:
            load(p)
        except ModelError as e:
            QMessageBox.warning(self, "Model manager", str(e))
            return
        dst = self.settings.models_dir() / Path(p).name
        if Path(p).resolve() != dst.resolve():
            shutil.copy2(p, dst)
        self.refresh()
