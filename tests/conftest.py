import os
import sys
from pathlib import Path

import pytest

# Qt must never need a display in tests (pytest-qt's qapp would abort the run without one).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")

#: a folder whose ``tensorrt`` package refuses to import: put first on PYTHONPATH, it hides any
#: installed (or fake) TensorRT from the subprocesses the tests start, as sys.modules does in-process
_HIDE_DIR = Path(__file__).resolve().parent / "_hidden_modules"


@pytest.fixture(autouse=True)
def machine_independent(request, monkeypatch):
    """Every test sees the same machine: no TensorRT (unless marked ``gpu``), no ``FUIQA_DEBUG``.

    Tests that want TensorRT install their own fake (test_tensorrt.install), which overrides this
    for the test's duration; tests that want FUIQA_DEBUG set it themselves.
    """
    monkeypatch.delenv("FUIQA_DEBUG", raising=False)
    if request.node.get_closest_marker("gpu") is None:
        monkeypatch.setitem(sys.modules, "tensorrt", None)  # `import tensorrt` -> ImportError
        old = os.environ.get("PYTHONPATH")
        monkeypatch.setenv("PYTHONPATH", str(_HIDE_DIR) + (os.pathsep + old if old else ""))


@pytest.fixture(autouse=True)
def no_real_capture_devices(request, monkeypatch):
    """GUI tests never open the machine's /dev/video* nodes: device enumeration finds none
    (a test that needs cards patches ``engine.sources.list_devices`` with its own fake)."""
    if "gui" not in request.module.__name__.split(".")[-1]:  # test_gui_*.py, test_holes_gui.py
        return
    import cv2

    from engine import sources

    monkeypatch.setattr(sources, "list_devices", lambda *a, **k: [])
    real_capture = cv2.VideoCapture

    def capture(*a, **k):  # files still open; a device index or node behaves as "nothing plugged in"
        target = a[0] if a else k.get("index", k.get("filename"))
        if isinstance(target, int) or str(target).startswith("/dev/video"):
            raise sources.SourceError(f"capture device {target} could not be opened (tests open no real device)")
        return real_capture(*a, **k)

    monkeypatch.setattr(cv2, "VideoCapture", capture)


#: the longest any test subprocess may run (the real trainer on a tiny set takes about a minute)
SUBPROCESS_TIMEOUT_S = 600


@pytest.fixture(autouse=True)
def subprocess_deadline(monkeypatch):
    """A subprocess.run without a timeout gets one: a hung child fails the test instead of the run."""
    import subprocess

    real = subprocess.run

    def run(*a, **kw):
        kw.setdefault("timeout", SUBPROCESS_TIMEOUT_S)
        if kw["timeout"] is None:
            kw["timeout"] = SUBPROCESS_TIMEOUT_S
        return real(*a, **kw)

    monkeypatch.setattr(subprocess, "run", run)
