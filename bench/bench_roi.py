"""ROI finder: timing on 640x480 and 1920x1080 frames, and the contact sheet of the hand-marked cases.

    .venv/bin/python bench/bench_roi.py [--repeat 30] [--json bench/roi_bench.json] [--sheet docs/roi_cases.png]
        [--synth-sheet docs/roi_synthetic.png]

Prints a table (median and p95 ms per call, single-threaded OpenCV) and writes JSON. The sheet shows
each real scanner capture with the found ROI (yellow outline, red box) and the hand-marked boxes that
must be inside (green) or outside (red) it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from engine.roi import find_roi, find_roi_stack  # noqa: E402
from roi_cases import CASES, case_path, coverage, first_frame  # noqa: E402


def timeit(fn, repeat):
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return float(np.median(ts)), float(np.percentile(ts, 95))


def frames_for_timing():
    epiq = first_frame(CASES["JPGLosslessP14SV1"])
    big = np.zeros((1080, 1920, 3), np.uint8)
    big[:, 240:1680] = cv2.cvtColor(cv2.resize(epiq, (1440, 1080)), cv2.COLOR_GRAY2BGR)
    return {
        "640x480 colour (SonoSite)": first_frame(CASES["color3d_jpeg_baseline"]),
        "1024x768 gray (EPIQ)": epiq,
        "1920x1080 colour (EPIQ letterboxed)": big,
    }


def sheet(path: Path) -> None:
    tiles = []
    for name, case in CASES.items():
        im = first_frame(case)
        r = find_roi(im)
        vis = im.copy() if im.ndim == 3 else cv2.cvtColor(im, cv2.COLOR_GRAY2BGR)
        tint = vis.copy()
        tint[r.mask] = (0.7 * tint[r.mask] + 0.3 * np.array([0, 200, 0])).astype(np.uint8)
        vis = tint
        cv2.polylines(vis, [r.polygon.reshape(-1, 1, 2)], True, (0, 255, 255), 2)
        ok = all(coverage(r.mask, b) >= 0.97 for b in case["inside"]) and \
            all(coverage(r.mask, b) <= 0.02 for b in case["outside"])
        for b in case["inside"]:
            cv2.rectangle(vis, b[:2], (b[0] + b[2], b[1] + b[3]), (0, 255, 0), 2)
        for b in case["outside"]:
            cv2.rectangle(vis, b[:2], (b[0] + b[2], b[1] + b[3]), (0, 0, 255), 2)
        s = 480 / vis.shape[1]
        vis = cv2.resize(vis, (480, int(round(vis.shape[0] * s))), interpolation=cv2.INTER_AREA)
        vis = cv2.copyMakeBorder(vis, 0, 360 - vis.shape[0], 0, 0, cv2.BORDER_CONSTANT) if vis.shape[0] < 360 else vis[:360]
        label = f"{name[:24]}  {r.kind} {r.confidence:.2f}  {'PASS' if ok else 'FAIL'}"
        cv2.rectangle(vis, (0, 334), (480, 360), (40, 40, 40), -1)
        cv2.putText(vis, label, (6, 353), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255) if ok else (0, 0, 255), 1,
                    cv2.LINE_AA)
        tiles.append(vis)
    # the 120-frame SonoSite loop through find_roi_stack (16 frames)
    from engine.sources import open_source

    with open_source(case_path(CASES["color3d_jpeg_baseline"])) as src:
        frames = [f.image for f, _ in zip(src, range(16))]
    r = find_roi_stack(frames)
    vis = np.max(np.stack(frames), 0)
    cv2.polylines(vis, [r.polygon.reshape(-1, 1, 2)], True, (255, 0, 255), 2)
    vis = cv2.resize(vis, (480, 360), interpolation=cv2.INTER_AREA)
    cv2.rectangle(vis, (0, 334), (480, 360), (40, 40, 40), -1)
    cv2.putText(vis, f"find_roi_stack, 16 frames: {r.kind} {r.confidence:.2f}", (6, 353),
                cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    tiles.append(vis)
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + 3]) for i in range(0, len(tiles), 3)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows))
    print(f"contact sheet: {path}")


def synth_sheet(path: Path, n: int = 8) -> None:
    """find_roi on screens from the synthetic generator (train.synth), for a look."""
    from train.synth.dataset import render_item

    tiles = []
    for i in range(n):
        plane = ["head", "abdomen", "femur"][i % 3]
        img, _ = render_item(plane, 1, i, size=[480, 480, 720, 360][i % 4], screen=True)
        r = find_roi(img)
        vis = img.copy()
        cv2.polylines(vis, [r.polygon.reshape(-1, 1, 2)], True, (0, 255, 255), 2)
        vis = cv2.resize(vis, (480, 360), interpolation=cv2.INTER_AREA)
        cv2.putText(vis, f"{plane} {img.shape[1]}x{img.shape[0]} {r.kind} {r.confidence:.2f}", (6, 353),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(vis)
    rows = [np.hstack(tiles[i:i + 4]) for i in range(0, len(tiles) - len(tiles) % 4, 4)]
    cv2.imwrite(str(path), np.vstack(rows))
    print(f"synthetic sheet: {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (1: what one core gives)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None)
    ap.add_argument("--synth-sheet", type=Path, default=None)
    a = ap.parse_args(argv)
    cv2.setNumThreads(a.threads)
    rows = []
    print(f"{'frame':40s} {'p50 ms':>8s} {'p95 ms':>8s}  kind")
    for name, f in frames_for_timing().items():
        p50, p95 = timeit(lambda: find_roi(f), a.repeat)
        kind = find_roi(f).kind
        rows.append({"frame": name, "shape": list(f.shape), "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
                     "kind": kind})
        print(f"{name:40s} {p50:8.2f} {p95:8.2f}  {kind}")
    if a.json:
        a.json.write_text(json.dumps({"opencv_threads": a.threads, "results": rows}, indent=2))
    if a.sheet:
        sheet(a.sheet)
    if a.synth_sheet:
        synth_sheet(a.synth_sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
