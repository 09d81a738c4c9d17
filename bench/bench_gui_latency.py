"""GUI latency benchmark: grab → drawn p50/p95 at 30 and 60 fps input, dropped frames, GUI stalls.

Runs the real live view (capture thread, scoring thread with the default model on ONNX Runtime, the
GUI drawing on its own thread) fed by a paced synthetic 800×600 source, for each input rate.
"grab → drawn" is measured from the moment the capture thread has the frame to the moment the image
item paints it. A GUI stall is a gap of more than 50 ms between ticks of a 10 ms timer on the GUI
thread. Targets: p95 ≤ 25 ms and no stalls.

The plane and checklist panel, the exam strip and automatic capture are on, in the dark theme. The
shipped default model has no plane / criteria heads yet, so by default (``--panel-outputs``) the
scorer's result is given plane and checklist outputs that change every frame (a seeded cycle over
head / abdomen / femur), so the panel redraws its checklist on every result, as with a model with heads.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_latency.py [--seconds 10] [--out bench/gui_latency.json]

Prints a table and writes JSON. Numbers depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class PacedSynthetic:
    """800×600 BGR frames of the synthetic demo sweep, decoded up front and cycled; paced by the
    capture worker at ``fps``."""

    live = False  # paced by the capture worker (like a file played as live)
    synthetic = True
    frame_count = None

    def __init__(self, fps: float, n: int = 48):
        import cv2

        from engine.sources import open_source

        self.fps = fps
        self.name = f"synthetic {fps:.0f} fps"
        with open_source("demo") as d:
            self.frames = [cv2.resize(d.read().image, (800, 600)) for _ in range(n)]
        self.i = 0

    def read(self):
        from engine.sources import Frame

        img = self.frames[self.i % len(self.frames)]
        self.i += 1
        return Frame(self.i - 1, (self.i - 1) / self.fps, img)

    def seek(self, i):
        self.i = i

    def close(self):
        pass


class PanelOutputs:
    """Wraps a scorer: its ScoreResult gets plane / criteria / OOD outputs that change every frame."""

    def __init__(self, inner):
        self.inner = inner
        self.backend, self.reason, self.warning = inner.backend, inner.reason, inner.warning
        self.input_size = inner.input_size
        self.package = getattr(inner, "package", None)
        self.rng = np.random.default_rng(0)
        self.n = 0

    def score(self, frames, rois=None):
        from engine.result import CRITERIA, PLANES

        r = self.inner.score(frames, rois)
        k = len(r)
        probs = np.zeros((k, len(PLANES)), np.float32)
        probs[:, 1 + (self.n // 15) % 3] = 1.0  # head / abdomen / femur, a new one every 15 frames
        self.n += k
        r.plane_probs = probs
        r.criteria = self.rng.random((k, len(CRITERIA))).astype(np.float32)
        r.ood_score, r.ood_threshold = self.rng.random(k).astype(np.float32), 0.9
        return r


def run_one(app, fps: float, seconds: float, backend: str, panel_outputs: bool = True) -> dict:
    from PySide6.QtCore import QElapsedTimer, QTimer

    from app.live import LiveView
    from app.settings import Settings
    from engine.scorers import make_scorer

    kw = {"threads": 1, "spinning": False} if backend in ("auto", "ort") else {}
    scorer = make_scorer(backend, None, **kw)  # as the app does (app/main_window.py)
    if panel_outputs:
        scorer = PanelOutputs(scorer)
    from app import theme

    theme.apply("dark")
    view = LiveView(Settings(), lambda: scorer)
    view.resize(1280, 800)
    view.show()
    src = PacedSynthetic(fps)
    gaps: list[float] = []
    et = QElapsedTimer()
    et.start()
    last = [et.nsecsElapsed()]

    def tick():
        now = et.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    t = QTimer()
    t.setInterval(10)
    t.timeout.connect(tick)
    view.start("bench", opener=lambda: src)
    # warm-up (model session, first paints) is not measured
    t_end = time.perf_counter() + 1.5
    while time.perf_counter() < t_end:
        app.processEvents()
        time.sleep(0.001)
    view.image_item.latencies.clear()
    p = view.pipeline
    c0, s0, d0, dd0, drawn0 = p.capture.captured, p.scoring.scored, p.dropped, p.capture.display_slot.dropped, view.frames_drawn
    last[0] = et.nsecsElapsed()
    t.start()
    t_end = time.perf_counter() + seconds
    loop = __import__("PySide6.QtCore", fromlist=["QEventLoop"]).QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    t.stop()
    lat = np.asarray(view.image_item.latencies, np.float64)
    captured = p.capture.captured - c0
    res = {
        "input_fps": fps,
        "seconds": seconds,
        "backend": scorer.backend,
        "captured": captured,
        "scored": p.scoring.scored - s0,
        "drawn": view.frames_drawn - drawn0,
        "dropped_by_scorer": p.dropped - d0,
        "dropped_by_display": p.capture.display_slot.dropped - dd0,
        "captured_fps": captured / seconds,
        "scored_fps": (p.scoring.scored - s0) / seconds,
        "latency_p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
        "latency_p95_ms": float(np.percentile(lat, 95)) if len(lat) else None,
        "latency_max_ms": float(lat.max()) if len(lat) else None,
        "gui_stalls_over_50ms": int(sum(g > 50 for g in gaps)),
        "gui_max_gap_ms": float(max(gaps)) if gaps else None,
        "panel_outputs": panel_outputs,
        "panel_plane_shown": view.panel.plane_label.text(),
        "auto_captures": view.exam.captures,
    }
    view.stop()
    view.close()
    view.deleteLater()
    app.processEvents()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rates", default="30,60")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--out", default=str(ROOT / "bench" / "gui_latency.json"))
    ap.add_argument("--no-panel-outputs", dest="panel_outputs", action="store_false",
                    help="score with the model as it is (the default model has no plane head: the panel shows "
                         "'not assessed')")
    a = ap.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = tempfile.mkdtemp(prefix="fuiqa-bench-")
    os.environ["FUIQA_SETTINGS"] = os.path.join(tmp, "s.ini")
    os.environ["FUIQA_DATA_DIR"] = tmp
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    rows = [run_one(app, float(r), a.seconds, a.backend, a.panel_outputs) for r in a.rates.split(",")]
    hdr = f"{'input':>6} {'capt/s':>7} {'score/s':>8} {'drawn':>6} {'drop(score)':>11} {'drop(disp)':>10} " \
          f"{'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'stalls>50ms':>11} {'max gap':>8}"
    print(f"GUI latency, grab → drawn ({platform.machine()}, {os.cpu_count()} CPUs, QT_QPA_PLATFORM="
          f"{os.environ.get('QT_QPA_PLATFORM')}, backend {rows[0]['backend']}, {a.seconds:.0f} s each, "
          f"load average {os.getloadavg()[0]:.1f}, panel outputs {'on' if a.panel_outputs else 'off'})")
    print(hdr)
    for r in rows:
        print(f"{r['input_fps']:>6.0f} {r['captured_fps']:>7.1f} {r['scored_fps']:>8.1f} {r['drawn']:>6d} "
              f"{r['dropped_by_scorer']:>11d} {r['dropped_by_display']:>10d} {r['latency_p50_ms']:>7.1f} "
              f"{r['latency_p95_ms']:>7.1f} {r['latency_max_ms']:>7.1f} {r['gui_stalls_over_50ms']:>11d} "
              f"{r['gui_max_gap_ms']:>8.1f}")
    ok = all(r["latency_p95_ms"] is not None and r["latency_p95_ms"] <= 25 and r["gui_stalls_over_50ms"] == 0 for r in rows)
    print("targets (p95 ≤ 25 ms, no stalls):", "MET" if ok else "NOT MET")
    out = {"rows": rows, "targets_met": ok, "platform": os.environ.get("QT_QPA_PLATFORM"), "cpus": os.cpu_count(),
           "load_average_1min": os.getloadavg()[0],
           "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
