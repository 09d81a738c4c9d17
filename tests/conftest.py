import os

# Qt must never need a display in tests (pytest-qt's qapp would abort the run without one).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")
