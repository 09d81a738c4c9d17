"""The architecture rules of docs/INTERFACES.md, as tests (each in a fresh interpreter, so nothing the
test run already imported can hide a violation):

* ``engine/`` never imports Qt (PySide6, shiboken6, pyqtgraph);
* the scoring path (engine without engine.model) and ``app/`` import no torch: the installer bundle
  leaves torch out and scores with ONNX Runtime; torch is for retraining, in a separate process;
* ``fuiqa roi`` loads neither torch nor Qt (app/cli.py);
* ``train/`` reuses engine's preprocessing, never a copy.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6")
TORCH = ("torch", "torchvision")

ENGINE_MODULES = ["engine", "engine.roi", "engine.modelpack", "engine.preprocess", "engine.scorers",
                  "engine.sources", "engine.cli", "engine.export", "engine.tensorrt", "engine.bench"]


def loaded_after(code: str) -> set[str]:
    """Top-level packages in sys.modules after running ``code`` in a fresh interpreter."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, sys
        print("MODULES=" + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
    """)
    import tempfile

    d = tempfile.mkdtemp(prefix="fuiqa_arch_")  # settings and data of the child never touch the user's
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FUIQA_SETTINGS=os.path.join(d, "settings.ini"),
               FUIQA_DATA_DIR=os.path.join(d, "data"))
    p = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    line = [l for l in p.stdout.splitlines() if l.startswith("MODULES=")][-1]
    return set(json.loads(line.removeprefix("MODULES=")))


def test_the_check_sees_an_import():
    """The probe is not vacuous: importing engine.model does load torch."""
    assert "torch" in loaded_after("import engine.model")


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_module_imports_no_qt_and_no_torch(module):
    mods = loaded_after(f"import {module}")
    assert not mods & set(QT), f"{module} imports Qt: {sorted(mods & set(QT))}"
    assert not mods & set(TORCH), f"{module} imports torch: {sorted(mods & set(TORCH))}"


def test_ort_scoring_end_to_end_needs_no_torch_and_no_qt():
    mods = loaded_after("""
        import numpy as np
        from engine.roi import find_roi
        from engine.scorers import make_scorer
        frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8)
        s = make_scorer("ort")
        r = s.score([frame], find_roi(frame))
        assert r.scores.shape == (1,)
    """)
    assert not mods & set(QT + TORCH), sorted(mods & set(QT + TORCH))


def test_fuiqa_roi_loads_neither_torch_nor_qt(tmp_path):
    import cv2
    import numpy as np

    img = tmp_path / "f.png"
    cv2.imwrite(str(img), np.random.default_rng(0).integers(0, 255, (120, 160), np.uint8))
    mods = loaded_after(f"""
        from app.cli import main
        assert main(["roi", {str(img)!r}]) == 0
    """)
    assert not mods & set(QT + TORCH), sorted(mods & set(QT + TORCH))


def test_app_imports_torch_only_for_retraining():
    """Every app module, and a main window scoring the demo, run without torch."""
    app_modules = sorted(p.stem for p in (ROOT / "app").glob("*.py") if p.stem not in ("__main__", "frozen_main"))
    mods = loaded_after(f"""
        import importlib
        for m in {app_modules!r}:
            importlib.import_module("app." + m)
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from app.main_window import MainWindow
        w = MainWindow(backend="ort")
        frame = __import__("numpy").zeros((240, 320), "uint8")
        assert w.scorer.score([frame]).scores.shape == (1,)
        w.close()
    """)
    assert "PySide6" in mods  # the window really was built
    assert not mods & set(TORCH), sorted(mods & set(TORCH))


def test_train_reuses_engine_preprocessing():
    import engine.preprocess
    import train.prepared

    # the trainer's cached inputs are made by the scoring path's preprocess, with its normalisation
    assert train.prepared.preprocess is engine.preprocess.preprocess
    assert (train.prepared.MEAN, train.prepared.STD) == (engine.preprocess.MEAN, engine.preprocess.STD)
