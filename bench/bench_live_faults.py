"""Live-pipeline fault timings: how long from a fault to the GUI being told, and from the fault's end
to frames flowing again. Faults: pulled cable (reads raise SignalLost), unplugged device (reopen
fails until replugged), blocking read (a read that hangs, as OpenCV's V4L2 read can for 10 s),
black "no signal" frames from the card.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_live_faults.py [--repeat 5] [--json bench/results/live_faults.json]

Runs app.workers.CaptureWorker on a scripted fake source (60 frames/s) with its default settings
(watchdog 0.5 s, retry every 1 s); prints a table (median and max seconds) and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


class ScriptedSource:
    name = "scripted card"
    live = True
    synthetic = True
    frame_count = None
    fps = 60.0

    def __init__(self):
        from engine_helpers import real_frames

        self.img = real_frames()[0]
        self.mode = "ok"  # ok | lost | unplugged | block | black
        self.gate = threading.Event()
        self.i = 0

    def read(self):
        from engine import sources

        time.sleep(1 / 60)
        if self.mode == "block":
            self.gate.wait(10)
        if self.mode in ("lost", "unplugged"):
            raise sources.SignalLost("scripted: no frames")
        self.i += 1
        return sources.Frame(self.i, self.i / 60, np.zeros_like(self.img) if self.mode == "black" else self.img)

    def reopen(self):
        from engine import sources

        if self.mode == "unplugged":
            raise sources.SignalLost("scripted: device gone")

    def close(self):
        self.gate.set()


def run(repeat: int) -> dict:
    from PySide6.QtCore import QCoreApplication

    from app.workers import CaptureWorker, WorkerSignals

    app = QCoreApplication.instance() or QCoreApplication([])
    src = ScriptedSource()
    sig = WorkerSignals()
    events: list = []
    sig.signal_lost.connect(lambda m: events.append(("lost", time.perf_counter())))
    sig.signal_regained.connect(lambda: events.append(("back", time.perf_counter())))
    sig.health_changed.connect(lambda s, m: events.append((s, time.perf_counter())))
    w = CaptureWorker(lambda: src, sig, pace=False)
    w.start()

    def wait_for(kind, since, timeout=15.0):
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            app.processEvents()
            for k, t in events:
                if k == kind and t >= since:
                    return t - since
            time.sleep(0.002)
        return float("nan")

    def frames_after(since, timeout=15.0):
        n0 = w.captured
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            app.processEvents()
            if w.captured > n0:
                return time.perf_counter() - since
            time.sleep(0.002)
        return float("nan")

    wait_for("ok", 0, 0.5)
    time.sleep(0.3)
    faults = {"pulled cable": ("lost", "lost", "back"), "unplugged device": ("unplugged", "lost", "back"),
              "blocking read": ("block", "stale", "ok"), "black frames": ("black", "no signal", "ok")}
    out = {}
    for name, (mode, told, back) in faults.items():
        shown, recovered = [], []
        for _ in range(repeat):
            src.gate.clear()
            t0 = time.perf_counter()
            src.mode = mode
            shown.append(wait_for(told, t0))
            t1 = time.perf_counter()
            src.mode = "ok"
            src.gate.set()
            recovered.append(wait_for(back, t1))
            frames_after(time.perf_counter())
            time.sleep(0.2)
        out[name] = {"shown_s": shown, "recovered_s": recovered}
    w.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "live_faults.json"))
    a = ap.parse_args()
    res = run(a.repeat)
    print(f"{'fault':<18} {'shown (median / max s)':>24} {'recovered (median / max s)':>28}")
    for k, v in res.items():
        s, r = np.array(v["shown_s"]), np.array(v["recovered_s"])
        print(f"{k:<18} {np.median(s):>12.3f} / {s.max():.3f} {np.median(r):>16.3f} / {r.max():.3f}")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps({"repeat": a.repeat, "faults": res}, indent=2))
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
