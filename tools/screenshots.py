"""Screenshots for docs/ (run by tools/screenshots.sh, under Xvfb or offscreen): the live view with its
panel and exam strip, cine review, the exam report and the retrain dialog, all in the dark theme.

The live view and cine review run the real program on the built-in SYNTHETIC demo with the shipped
default model. The exam is the demo's: the head is captured by the key (the model's plane head names it) and
abdomen / femur stay "to do". The panel screenshot uses a test double for the model's outputs (see below). The
retrain dialog is shown after a replayed progress log (tools/retrain_replay.jsonl: the JSON lines a
real `fuiqa train` run printed), not a run made here — training would take minutes on this machine.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main(out: Path, size=(1280, 720)) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.main_window import MainWindow

    out.mkdir(parents=True, exist_ok=True)
    win = MainWindow()
    win.resize(*size)
    win.show()
    win.start_source("demo")
    live = win.live
    best = {"res": None}

    def keep_best():
        r = live.last_result
        if r is not None and (best["res"] is None or r.score > best["res"].score):
            best["res"] = r

    t = QTimer()
    t.timeout.connect(keep_best)
    t.start(40)
    # the first 5.5 s of the demo sweep show its head passes: the head is captured (automatically if it
    # holds a standard score, else with the key on the best frame seen); abdomen and femur stay "to do"
    # — the report says so
    wait(4000)
    if "head" not in live.exam.exam.best:
        live.exam.exam.target = "head"
        live.exam.capture_and_next(best["res"])
    wait(1500)
    ok = win.grab().save(str(out / "screenshot_live.png"))
    print("live", ok, live.counts())
    paths = win.end_exam()
    wait(800)
    rv = getattr(win, "_report_view", None)
    if rv is not None:
        rv.resize(900, 900)
        wait(300)
        rv.grab().save(str(out / "screenshot_report_preview.png"))
        rv.close()
    if paths:
        import shutil

        shutil.copy(paths[0].parent / "report.png", out / "exam_report.png")
    done = {"ok": False}
    win.cine.scoring_done.connect(lambda ok_: done.update(ok=True))
    win.open_cine(str(ROOT / "assets/demo/demo_sweep.mp4"))
    for _ in range(300):
        if done["ok"]:
            break
        wait(100)
    b = win.cine.best_indices(1)
    if b:
        win.cine.seek(b[0])
        win.cine.best_list.setCurrentRow(0)
    wait(500)
    win.grab().save(str(out / "screenshot_cine.png"))
    win.cine.export_report(out / "cine_report.png")
    win.tabs.setCurrentWidget(win.live)
    d = win.open_retrain()
    d.data_edit.setText("/data/site_labelled")
    replay = ROOT / "tools/retrain_replay.jsonl"
    d.data = "/data/site_labelled"
    for line in (replay.read_text().splitlines() if replay.exists() else []):
        d._train_line(line)
    ev = ROOT / "tools/retrain_replay_eval.json"
    if ev.exists():
        d.eval_results = json.loads(ev.read_text())
        d._show_compare()
    d.resize(900, 720)
    wait(400)
    d.grab().save(str(out / "screenshot_retrain.png"))
    d.close()
    # the panel with the out-of-distribution warning, which the shipped model does not raise on the demo:
    # a test double (tests/test_gui_fakes.PlaneScorer) gives a head plane, its checklist with CSP and third
    # ventricle missing, and the flag — values set by hand, to show the layout only (docs/gui.md says so)
    sys.path.insert(0, str(ROOT / "tests"))
    from test_gui_fakes import PlaneScorer

    met = ["skull", "midline", "thalami", "plane", "zoom", "settings", "structures"]
    win.scorer = PlaneScorer("head", 84.0, met=met, ood=True)
    win.live.exam.finish({})  # a fresh exam for this picture
    win.start_source("demo")
    wait(3000)
    win.grab().save(str(out / "screenshot_live_panel.png"))
    win.close()
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
