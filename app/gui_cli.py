"""``fuiqa gui`` (registered by app/cli.py): the desktop scanning assistant, also headless for checks."""
from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("gui", help="start the desktop scanning assistant",
                       description="Start the desktop scanning assistant. With --screenshot/--exit-after it runs "
                                   "for a while (also under QT_QPA_PLATFORM=offscreen), saves a screenshot, prints "
                                   "frames captured/scored/dropped and exits 0.")
    p.add_argument("--source", default=None, help="demo | PATH (video/DICOM played as if live) | device:N (default: last used)")
    p.add_argument("--cine", default=None, help="open this video/DICOM in cine review")
    p.add_argument("--tab", choices=["live", "cine"], default=None, help="tab to show (for screenshots)")
    p.add_argument("--screenshot", default=None, metavar="OUT.png", help="save a screenshot of the main window before exiting")
    p.add_argument("--exit-after", type=float, default=None, metavar="SECONDS", help="quit after this many seconds")
    p.add_argument("--backend", default=None, help="auto | ort | torch | tensorrt")
    p.add_argument("--model", default=None, help="a .fuiqa model file (default: the active one)")
    p.add_argument("--size", default="1280x800", help="window size WxH")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("FUIQA Scan Assistant")
    app.setOrganizationName("FUIQA")
    from .main_window import MainWindow

    win = MainWindow(backend=args.backend, model=args.model)
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
        win.resize(w, h)
    except ValueError:
        pass
    win.show()
    win.start_source(args.source)
    if args.cine:
        def show_best(ok):
            best = win.cine.best_indices(1) if ok else []
            if best:
                win.cine.seek(best[0])
                win.cine.best_list.setCurrentRow(0)

        win.cine.scoring_done.connect(show_best)
        win.open_cine(args.cine)
    if args.tab == "live":
        win.tabs.setCurrentWidget(win.live)
    elif args.tab == "cine":
        win.tabs.setCurrentWidget(win.cine)

    def finish():
        c = win.live.counts()
        if args.screenshot:
            from pathlib import Path

            Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
            ok = win.grab().save(args.screenshot)
            print(f"screenshot {'saved' if ok else 'FAILED'}: {args.screenshot}")
        if args.json:
            print(json.dumps(c))
        else:
            lat = (f", grab→drawn p50 {c['latency_p50_ms']:.1f} ms p95 {c['latency_p95_ms']:.1f} ms"
                   if c.get("latency_p50_ms") is not None else "")
            print(f"frames captured {c['captured']}, scored {c['scored']}, dropped {c['dropped']}, drawn {c['drawn']}{lat}"
                  f" (backend {win.scorer.backend})")
        win.close()
        app.quit()

    if args.exit_after is not None:
        QTimer.singleShot(int(args.exit_after * 1000), finish)
    app.exec()
    win.deleteLater()
    app.processEvents()
    sys.stdout.flush()
    return 0
