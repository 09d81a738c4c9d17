"""Pictures for checking a SYNTHETIC set by eye: a contact sheet (images sorted by label, the label
under each) and a sweep's label curve (with thumbnails), drawn with OpenCV.

    .venv/bin/python -m train.synth.report SET_DIR --sheet docs/synth_contact_sheet.png \
        --curve docs/synth_sweep_curve.png [--sweep sweep_000]
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX


def _band_colour(v: float) -> tuple[int, int, int]:
    return (80, 200, 80) if v >= 80 else ((0, 200, 255) if v >= 60 else (80, 80, 255))


def contact_sheet(root, out_png, *, n: int = 50, cols: int = 10, tile: int = 128, title: str | None = None) -> Path:
    """``n`` images spread evenly over the label range, sorted by mos, label and missing criteria under each."""
    root = Path(root)
    rows = list(csv.DictReader(open(root / "labels.csv", newline="")))
    rows.sort(key=lambda r: float(r["mos"]))
    idx = np.unique(np.linspace(0, len(rows) - 1, min(n, len(rows))).round().astype(int))
    pick = [rows[i] for i in idx]
    th = tile + 34
    nrow = int(np.ceil(len(pick) / cols))
    head = 30
    sheet = np.full((head + nrow * th, cols * tile, 3), 24, np.uint8)
    cv2.putText(sheet, title or f"SYNTHETIC - {root.name}: {len(rows)} images, {len(pick)} shown, sorted by label "
                "(mos +- std; green >= 80 standard, amber 60-79, red < 60); second line: unmet criteria",
                (6, 20), FONT, 0.42, (0, 220, 255), 1, cv2.LINE_AA)
    for k, r in enumerate(pick):
        img = cv2.imread(str(root / "images" / r["name"]), cv2.IMREAD_COLOR)
        img = cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA)
        y, x = head + (k // cols) * th, (k % cols) * tile
        sheet[y:y + tile, x:x + tile] = img
        mos = float(r["mos"])
        cv2.rectangle(sheet, (x, y), (x + tile - 1, y + tile - 1), _band_colour(mos), 1)
        cv2.putText(sheet, f"{mos:.0f}+-{float(r['std']):.0f} {r['plane'][:3]}", (x + 3, y + tile + 13), FONT, 0.42,
                    _band_colour(mos), 1, cv2.LINE_AA)
        miss = r.get("missing", "")
        note = ",".join(m[:5] for m in miss.split(";") if m) if miss else ""
        sev = [(float(r[c]), c[2:]) for c in r if c.startswith("s_") and float(r[c] or 0) >= 0.3]
        worst = ",".join(f[:6] for _, f in sorted(sev, reverse=True)[:2])
        cv2.putText(sheet, (worst or "-") + (" |" + note if note else ""), (x + 3, y + tile + 27), FONT, 0.3,
                    (200, 200, 200), 1, cv2.LINE_AA)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_png), sheet)
    return out_png


def sweep_curve(csv_path, video_path, out_png, *, width: int = 1000, height: int = 520, thumbs: int = 6) -> Path:
    """Per-frame mos (with the raters' std band) and noise-free score over time, thumbnails above."""
    rows = list(csv.DictReader(open(csv_path, newline="")))
    mos = np.array([float(r["mos"]) for r in rows])
    std = np.array([float(r["std"]) for r in rows])
    q = np.array([float(r["q_true"]) for r in rows])
    n = len(rows)
    cap = cv2.VideoCapture(str(video_path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    img = np.full((height, width, 3), 255, np.uint8)
    tw = (width - 80) // thumbs
    pick = np.linspace(0, n - 1, thumbs).round().astype(int)
    for k, i in enumerate(pick):
        if i < len(frames):
            t = cv2.resize(frames[i], (tw - 6, tw - 6), interpolation=cv2.INTER_AREA)
            x = 60 + k * tw
            img[8:8 + tw - 6, x:x + tw - 6] = t
            cv2.putText(img, f"frame {i}: {mos[i]:.0f}", (x, tw + 12), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    top, bot, left, right = tw + 30, height - 40, 60, width - 20

    def px(i, v):
        return int(left + (right - left) * i / max(1, n - 1)), int(bot - (bot - top) * v / 100.0)

    for v, c in ((80, (80, 180, 80)), (60, (0, 170, 255))):
        cv2.line(img, px(0, v), px(n - 1, v), c, 1)
        cv2.putText(img, str(v), (left - 28, px(0, v)[1] + 4), FONT, 0.4, c, 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (right, bot), (0, 0, 0), 1)
    for v in (0, 100):
        cv2.putText(img, str(v), (left - 32, px(0, v)[1] + 4), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    band = [px(i, min(100, mos[i] + std[i])) for i in range(n)] + [px(i, max(0, mos[i] - std[i])) for i in range(n)][::-1]
    over = img.copy()
    cv2.fillPoly(over, [np.array(band, np.int32)], (235, 200, 160))
    img[:] = cv2.addWeighted(over, 0.6, img, 0.4, 0)
    cv2.polylines(img, [np.array([px(i, q[i]) for i in range(n)], np.int32)], False, (120, 120, 120), 1, cv2.LINE_AA)
    cv2.polylines(img, [np.array([px(i, mos[i]) for i in range(n)], np.int32)], False, (160, 60, 0), 2, cv2.LINE_AA)
    planes = "+".join(dict.fromkeys(r["plane"] for r in rows))
    cv2.putText(img, f"SYNTHETIC sweep {Path(csv_path).stem} ({planes}): mos (blue, band = rater std), "
                "noise-free score (grey) per frame; 25 fps", (left, height - 14), FONT, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_png), img)
    return out_png


def histogram_text(root, bins: int = 10) -> str:
    rows = list(csv.DictReader(open(Path(root) / "labels.csv", newline="")))
    mos = np.array([float(r["mos"]) for r in rows])
    h, e = np.histogram(mos, bins=bins, range=(0, 100))
    lines = ["| mos | images | |", "| --- | ---: | --- |"]
    for k in range(bins):
        lines.append(f"| {e[k]:.0f}-{e[k + 1]:.0f} | {h[k]} | {'#' * int(round(60 * h[k] / max(1, h.max())))} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--sheet")
    ap.add_argument("--curve")
    ap.add_argument("--sweep", default="sweep_000")
    ap.add_argument("--n", type=int, default=50)
    a = ap.parse_args(argv)
    root = Path(a.root)
    if a.sheet:
        print("wrote", contact_sheet(root, a.sheet, n=a.n))
    if a.curve:
        s = root / "sweeps" / a.sweep
        print("wrote", sweep_curve(s.with_suffix(".csv"), s.with_suffix(".mp4"), a.curve))
    print(histogram_text(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
