"""Tools ▸ Retrain: run the trainer in a separate process (QProcess), show progress and curves, compare.

The trainer is ``python -m app.cli train DATA --out DIR --progress-jsonl`` (JSON lines on stdout).
At the end the new model and the current one are both evaluated with ``fuiqa eval MODEL DATA
--split test --json`` on the same test split; the new model becomes active only when the user
accepts, and the previous one is remembered so it can be restored. Cancelling (or a crash) never
touches the active model: the trainer writes its package atomically and only on success.
This module never imports torch.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QProcess, Signal
from PySide6.QtWidgets import (QDialog, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QMessageBox, QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from .recorder import stamp
from .retrain_options import (ARCHS, LOSSES, METRIC_WORDS, METRICS, MIXINGS, SMALL_TEST, combo,  # noqa: F401
                              default_trainer_cmd, fmt)
from .settings import Settings


class RetrainDialog(QDialog):
    model_accepted = Signal(str)
    state_changed = Signal(str)  # "idle" | "training" | "evaluating" | "compare" | "cancelled" | "failed" | "accepted"

    def __init__(self, settings: Settings, current_model: str | None, parent=None, trainer_cmd: list[str] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Retrain the quality model")
        self.settings = settings
        self.current_model = current_model  # None: the shipped default
        self.cmd = trainer_cmd or default_trainer_cmd()
        self.proc: QProcess | None = None
        self.state = "idle"
        self.events: list[dict] = []
        self._epochs: list[dict] = []
        self.new_model: str | None = None
        self.eval_results: dict[str, dict] = {}
        self._buf = b""
        self._eval_queue: list[tuple[str, str]] = []
        self._build()
        self.resize(900, 700)

    # ------------------------------------------------------------------ layout
    def _build(self):
        self.data_edit = QLineEdit(self.settings.get("paths/train_data") or "")
        self.data_edit.setPlaceholderText("folder with labels.csv (name,mos[,std][,split]) and the images")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 500)
        self.epochs.setValue(30)
        self.batch = QSpinBox()
        self.batch.setRange(2, 512)
        self.batch.setValue(32)
        self.loss = combo(LOSSES)
        self.mixing = combo(MIXINGS)
        self.arch = combo(ARCHS)
        self.seed = QSpinBox()
        self.seed.setRange(0, 10**6)
        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.data_edit, 1)
        row.addWidget(browse)
        form.addRow("Labelled data", row)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch)
        form.addRow("How training compares with the labels", self.loss)
        form.addRow("Mixing of training images", self.mixing)
        form.addRow("Model size", self.arch)
        form.addRow("Random seed (same seed, same result)", self.seed)

        self.start_btn = QPushButton("Start training")
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.status = QLabel("Choose a labelled folder and press Start. The program stays usable while it trains.")
        self.status.setWordWrap(True)
        self.loss_plot = pg.PlotWidget(title="training loss")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen((240, 180, 40), width=2), symbol="o", symbolSize=5)
        self.val_plot = pg.PlotWidget(title="held-out agreement: SRCC (blue), PLCC (green)")
        self.val_plot.setYRange(-0.1, 1.05)
        self.srcc_curve = self.val_plot.plot([], [], pen=pg.mkPen((80, 160, 255), width=2), symbol="o", symbolSize=5)
        self.plcc_curve = self.val_plot.plot([], [], pen=pg.mkPen((60, 200, 90), width=2), symbol="t", symbolSize=5)
        for p in (self.loss_plot, self.val_plot):
            p.setLabel("bottom", "epoch")
            p.setMinimumHeight(150)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.val_plot)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["test split", "current model", "new model"])
        self.table.setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setMaximumHeight(220)
        self.accept_btn = QPushButton("Use the new model")
        self.accept_btn.setVisible(False)
        self.accept_btn.clicked.connect(self.accept_new)
        self.keep_btn = QPushButton("Keep the current model")
        self.keep_btn.setVisible(False)
        self.keep_btn.clicked.connect(self.keep_current)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(500)
        self.log.setMaximumHeight(70)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        b = QHBoxLayout()
        b.addWidget(self.start_btn)
        b.addWidget(self.cancel_btn)
        b.addWidget(self.progress, 1)
        lay.addLayout(b)
        lay.addWidget(self.status)
        lay.addLayout(plots, 1)
        lay.addWidget(self.table)
        b2 = QHBoxLayout()
        b2.addStretch(1)
        b2.addWidget(self.keep_btn)
        b2.addWidget(self.accept_btn)
        lay.addLayout(b2)
        lay.addWidget(self.log)

    def _browse(self):
        d = QFileDialog.getExistingDirectory(self, "Labelled data folder", self.data_edit.text())
        if d:
            self.data_edit.setText(d)

    def _set_state(self, s: str):
        self.state = s
        self.state_changed.emit(s)

    # ------------------------------------------------------------------ training
    def start(self, data: str | None = None) -> bool:
        data = data or self.data_edit.text().strip()
        if not data or not (Path(data) / "labels.csv").exists():
            QMessageBox.warning(self, "Retrain", f"{data or '(no folder)'} has no labels.csv.\n\n"
                                "Choose a folder with labels.csv (columns name,mos[,std][,split]) and the images.")
            return False
        self.data = data
        self.data_edit.setText(data)
        self.settings.set("paths/train_data", data)
        self.out_dir = self.settings.models_dir() / f"model_{stamp()}"
        args = ["train", data, "--out", str(self.out_dir), "--progress-jsonl", "--epochs", str(self.epochs.value()),
                "--batch-size", str(self.batch.value()), "--loss", self.loss.currentData(),
                "--mixing", self.mixing.currentData(), "--model", self.arch.currentData(), "--seed", str(self.seed.value())]
        self.events.clear()
        self._epochs: list[dict] = []
        self.new_model = None
        self.early_stop = None
        self._cancelled = False
        self.eval_results = {}
        self.table.setVisible(False)
        self.accept_btn.setVisible(False)
        self.keep_btn.setVisible(False)
        self.loss_curve.setData([], [])
        self.srcc_curve.setData([], [])
        self.plcc_curve.setData([], [])
        self.progress.setRange(0, 0)
        self._run(args, self._train_line, self._train_finished)
        self.start_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.status.setText(f"training… (output: {self.out_dir})")
        self._set_state("training")
        return True

    def _run(self, args, on_line, on_finished):
        self._buf = b""
        p = QProcess(self)
        p.setProgram(self.cmd[0])
        p.setArguments(self.cmd[1:] + args)
        p.setWorkingDirectory(str(Path(__file__).resolve().parent.parent))
        p.readyReadStandardOutput.connect(lambda: self._read(p, on_line))
        p.readyReadStandardError.connect(lambda: self._log(bytes(p.readAllStandardError()).decode(errors="replace")))
        p.finished.connect(lambda code, status: on_finished(code, status))
        p.errorOccurred.connect(self._process_error)
        self.proc = p
        self._log("$ " + " ".join([Path(self.cmd[0]).name] + self.cmd[1:] + args))
        p.start()

    def _process_error(self, err):
        if getattr(self, "_cancelled", False):
            return  # a cancelled run ends by being stopped: that is not an error worth a log line
        words = {QProcess.FailedToStart: "the trainer could not be started", QProcess.Crashed: "the trainer stopped unexpectedly"}
        self._log(words.get(err, "the trainer process reported a problem"))

    def _log(self, text: str):
        for line in text.rstrip().splitlines()[-20:]:
            self.log.appendPlainText(line)

    def _read(self, p, on_line):
        self._buf += bytes(p.readAllStandardOutput())
        *lines, self._buf = self._buf.split(b"\n")
        for ln in lines:
            on_line(ln.decode(errors="replace").strip())

    def _train_line(self, line: str):
        if not line.startswith("{"):
            if line:
                self._log(line)
            return
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            self._log(line)
            return
        self.events.append(ev)
        kind = ev.get("event")
        if kind == "start":
            self._steps_per_epoch = int(ev.get("steps_per_epoch") or 1)
            self.progress.setRange(0, int(ev.get("epochs", 1)) * self._steps_per_epoch)
            self._patience = (ev.get("config") or {}).get("patience")
            self._n_test = ev.get("n_test")
            self.status.setText(f"training on {ev.get('n_train', '?')} images ({ev.get('n_val', '?')} held out to "
                                f"watch progress, {ev.get('n_test', '?')} kept for the final test), "
                                f"up to {ev.get('epochs')} passes over the data")
        elif kind == "prepare":
            self.status.setText(f"preparing {ev.get('split')}: {ev.get('done')} / {ev.get('total')}")
        elif kind == "step":
            spe = int(ev.get("steps") or getattr(self, "_steps_per_epoch", 1))
            self.progress.setValue((int(ev["epoch"]) - 1) * spe + int(ev["step"]))
        elif kind == "epoch":
            self._epochs.append(ev)
            x = [e["epoch"] for e in self._epochs]
            self.loss_curve.setData(x, [e["train_loss"] for e in self._epochs])
            vals = [e["val_srcc"] for e in self._epochs] + [e["val_plcc"] for e in self._epochs]
            self.srcc_curve.setData(x, [e["val_srcc"] for e in self._epochs])
            self.plcc_curve.setData(x, [e["val_plcc"] for e in self._epochs])
            self.val_plot.setYRange(min(-0.1, min(vals) - 0.05), max(1.05, max(vals) + 0.05))  # nothing clipped
            self.status.setText(f"epoch {ev['epoch']} of {ev['epochs']}: training loss {ev['train_loss']:.4f}, "
                                f"held-out SRCC {ev['val_srcc']:.3f}, PLCC {ev['val_plcc']:.3f}")
        elif kind == "done":
            self.new_model = ev.get("model")
            self.progress.setValue(self.progress.maximum())  # early stopping ends before the last step
            self.early_stop = self._early_stop_text()
        elif kind == "error":
            self._log("error: " + str(ev.get("message")))
            self.status.setText("error: " + str(ev.get("message")))

    def _early_stop_text(self) -> str | None:
        """Why the run ended before its last epoch (early stopping), in words; None if it ran them all."""
        if not self._epochs:
            return None
        last = self._epochs[-1]
        if int(last["epoch"]) >= int(last.get("epochs", last["epoch"])):
            return None
        best = last.get("best_epoch", "?")
        pat = getattr(self, "_patience", None)
        return (f"Stopped early at epoch {last['epoch']} of {last['epochs']}: the held-out agreement (SRCC) had not "
                f"improved for {pat or 'several'} epochs since epoch {best}, so more training was unlikely to help. "
                f"The model from epoch {best} is kept.")

    def cancel(self):
        """Stop the trainer: SIGTERM (it stops after the current step, writes no model), then kill."""
        if self.proc is None or self.proc.state() == QProcess.NotRunning:
            return
        self._cancelled = True
        self.status.setText("cancelling…")
        self.proc.terminate()
        if not self.proc.waitForFinished(5000):
            self.proc.kill()
            self.proc.waitForFinished(2000)

    def _train_finished(self, code, status):
        self.cancel_btn.setEnabled(False)
        self.start_btn.setEnabled(True)
        self.progress.setRange(0, 1)
        if getattr(self, "_cancelled", False):
            self._cancelled = False
            self.progress.setValue(0)
            removed = self._remove_run_folder()
            self.status.setText("cancelled — the active model is unchanged"
                                + ("; the cancelled run's folder was removed" if removed else ""))
            self._log("cancelled by the user")
            self._set_state("cancelled")
            return
        if code != 0 or status != QProcess.NormalExit or not self.new_model or not Path(self.new_model).exists():
            self.progress.setValue(0)
            msg = next((e.get("message") for e in reversed(self.events) if e.get("event") == "error"), None)
            self.status.setText(f"training failed (exit {code}){': ' + msg if msg else ''} — the active model is unchanged")
            self._set_state("failed")
            return
        self.progress.setValue(1)
        self.status.setText("training done; evaluating the current and the new model on the same test split…")
        self._set_state("evaluating")
        from engine.modelpack import default_model_path

        cur = self.current_model or str(default_model_path())
        self._eval_queue = [("current", cur), ("new", self.new_model)]
        self._next_eval()

    def _remove_run_folder(self) -> bool:
        """A cancelled run leaves nothing behind (its checkpoint folder); never touches another folder."""
        d = getattr(self, "out_dir", None)
        if d is None or not Path(d).exists() or Path(d).parent != self.settings.models_dir():
            return False
        shutil.rmtree(d, ignore_errors=True)
        return not Path(d).exists()

    # ------------------------------------------------------------------ comparison
    def _next_eval(self):
        if not self._eval_queue:
            self._show_compare()
            return
        which, model = self._eval_queue.pop(0)
        self._eval_out = b""
        self._eval_which = which

        def on_line(line, self=self):
            self._eval_out += (line + "\n").encode()

        def on_done(code, status, which=which):
            try:
                text = self._eval_out.decode() + self._buf.decode(errors="replace")
                self.eval_results[which] = json.loads(text[text.index("{"):])
            except (ValueError, json.JSONDecodeError):
                self.eval_results[which] = {"error": f"eval exit {code}"}
            self._next_eval()

        # both models on the new model's test split: the same images, none of which the new model trained on
        self._run(["eval", model, self.data, "--split", "test", "--split-from", self.new_model, "--json", "--boot", "200"],
                  on_line, on_done)

    def _show_compare(self):
        cur, new = self.eval_results.get("current", {}), self.eval_results.get("new", {})
        rows = [m for m in METRICS if m in cur or m in new] + ["n", "trained", "synthetic_training_data"]
        words = {"n": "test images", "trained": "trained", "synthetic_training_data": "trained on synthetic data"}
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(["on the same test images", "current model (95 % interval)",
                                              "new model (95 % interval)"])
        for r, m in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(METRIC_WORDS.get(m, words.get(m, m))))
            for c, d in ((1, cur), (2, new)):
                v = d.get(m, "not evaluated" if "error" in d else "—")
                self.table.setItem(r, c, QTableWidgetItem(fmt(v, (d.get("ci95") or {}).get(m))))
        self.table.setMinimumHeight(min(240, 26 + 22 * len(rows) + 4))
        self.table.setVisible(True)
        better = new.get("srcc", -1) >= cur.get("srcc", -1) if "srcc" in new else False
        text = "The new model " + ("matches or beats" if better else "does NOT beat") + \
            " the current one on SRCC (the same test images). Use it?"
        n = new.get("n", cur.get("n"))
        if isinstance(n, int) and n < SMALL_TEST:
            text = (f"⚠ Only {n} test images: the intervals are wide and a difference may be chance. " + text)
        if getattr(self, "early_stop", None):
            text = self.early_stop + "\n" + text
        self.status.setText(text)
        self.accept_btn.setVisible(True)
        self.keep_btn.setVisible(True)
        self._set_state("compare")

    def accept_new(self):
        """Make the new model active; the previous one is remembered (Model manager ▸ Restore)."""
        if not self.new_model:
            return
        from engine.modelpack import ModelError

        from .models import activate

        try:  # copied into the model store and pinned: a later run into the same folder cannot swap it
            self.new_model = activate(self.settings, self.new_model) or self.new_model
        except ModelError as e:
            self.status.setText(f"cannot make the new model active: {e}")
            return
        self.accept_btn.setEnabled(False)
        self.status.setText(f"active model: {self.new_model} (the previous one can be restored in the Model manager)")
        self._set_state("accepted")
        self.model_accepted.emit(self.new_model)

    def keep_current(self):
        self.status.setText("kept the current model; the new one stays in the models folder")
        self.accept_btn.setVisible(False)
        self.keep_btn.setVisible(False)
        self._set_state("kept")

    def closeEvent(self, e):
        if self.proc is not None and self.proc.state() != QProcess.NotRunning:
            self.cancel()
        super().closeEvent(e)
