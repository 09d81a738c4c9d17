"""Tools ▸ Retrain: the dialog's choices (loss, mixing, model), the comparison's metric names and how a
value with its interval is written. No Qt widgets but the combo box helper; never imports torch."""
from __future__ import annotations

import sys

from PySide6.QtWidgets import QComboBox

METRICS = ("srcc", "plcc", "krcc", "rmse")
METRIC_WORDS = {"srcc": "SRCC", "plcc": "PLCC", "krcc": "KRCC", "rmse": "RMSE"}
#: below this many test images the comparison is mostly chance: say so
SMALL_TEST = 30
LOSSES = (("gcc", "GCC — correlation with the labels (recommended)"), ("mse", "Squared error"),
          ("l1", "Absolute error"), ("nin", "Norm-in-norm"))
#: first entry = the default: no mixing (docs/ablation.md: CMX not shown to help, a third slower)
MIXINGS = (("none", "None — the images as they are (recommended)"), ("cmx", "CMX — mix similar images (slower)"),
           ("mixup", "Mix-up"), ("cmixup", "C-Mixup"))
ARCHS = (("rt", "Fast — real time on a CPU (recommended)"), ("gpu", "Larger — needs a GPU to score live"))


def combo(items) -> QComboBox:
    c = QComboBox()
    for key, words in items:
        c.addItem(words, key)
    return c


def fmt(v, ci=None) -> str:
    """0.8123 (0.74–0.88): the value with its 95 % interval where the evaluation gave one."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if not isinstance(v, float):
        return str(v)
    t = f"{v:.3f}"
    if ci and len(ci) == 2 and all(isinstance(x, (int, float)) for x in ci):
        t += f"  ({ci[0]:.2f}–{ci[1]:.2f})"
    return t


def default_trainer_cmd() -> list[str]:
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: the executable is the fuiqa CLI
        return [sys.executable]
    return [sys.executable, "-m", "app.cli"]
