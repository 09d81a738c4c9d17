"""Contact sheet of the heatmap (points lost, as the GUI draws it) on SYNTHETIC frames: a clean
standard plane, an acoustic shadow and a lift-off per plane, for two models side by side.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/heatmap_sheet.py OLD.fuiqa NEW.fuiqa OUT.png [OLD_NAME NEW_NAME]
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    a = argv or sys.argv[1:]
    old, new, out = a[0], a[1], Path(a[2])
    from app.heat import blend, loss_map
    from engine import modelpack
    from engine.preprocess import heatmap_to_frame
    from engine.roi import find_roi
    from engine.scorers import make_scorer
    from train import synth

    names = a[3:5] if len(a) >= 5 else [modelpack.load(p).name for p in (old, new)]
    scs = [(n, make_scorer("ort", modelpack.load(p), threads=1)) for n, p in zip(names, (old, new))]
    cells = []
    for plane in ("head", "abdomen", "femur"):
        clean = {f: 0.0 for f in synth.factors_for(plane)}
        for what, sev in (("clean", {}), ("shadow", {"shadow": 0.8}), ("lift-off", {"liftoff": 0.6})):
            s = synth.render_sample(plane, 9300, len(cells), severity={**clean, **sev}, realism=1.0)
            img = s.image if s.image.ndim == 3 else cv2.cvtColor(s.image, cv2.COLOR_GRAY2BGR)
            box = find_roi(img).box
            row = []
            for name, sc in scs:
                r = sc.score([img], box)[0]
                patch, roi = heatmap_to_frame(loss_map(r), box, img.shape, sc.input_size)
                v = blend(img, patch, roi)
                cv2.putText(v, f"{name}: {r.score:.0f} {r.plane_label}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                            (255, 255, 255), 1, cv2.LINE_AA)
                row.append(v)
            lab = np.hstack([img] + row)
            cv2.putText(lab, f"SYNTHETIC {plane}, {what} (label {s.mos:.0f})", (4, lab.shape[0] - 6),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.42, (80, 220, 255), 1, cv2.LINE_AA)
            cells.append(lab)
    sheet = np.vstack([np.hstack(cells[i:i + 3]) for i in range(0, len(cells), 3)])
    cv2.imwrite(str(out), sheet)
    print(f"wrote {out} {sheet.shape[1]}x{sheet.shape[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
