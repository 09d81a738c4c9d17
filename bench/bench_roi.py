"""ROI finder and tracker: timing, and contact sheets of the hand-marked cases.

    .venv/bin/python bench/bench_roi.py [--repeat 30] [--json bench/results/roi.json] [--sheet docs/roi_cases.png]
        [--synth-sheet docs/roi_synthetic.png] [--vendor-sheet docs/roi_vendor.png]

Prints a table (ms per call, single-threaded OpenCV, CPU time of the calling thread and wall time,
median and p95) and writes JSON: a fresh detection (find_roi) per 1080p frame on every real capture
letterboxed to 1920x1080 as a capture card delivers it (and HC18 fetal frames, when present) and on
the 1080p vendor-like screens as captured, with the median and p95 over all those layouts; the
same at the captures' own sizes; and the tracked path (RoiTracker.update on the frames of a sweep
once the box is locked). The sheets show each real
scanner capture (and HC18 fetal frames with fluid, when present) / each vendor-like layout with the
found ROI (yellow outline, green tint) and the hand-marked boxes that must be inside (green) or
outside (red) it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from engine.roi import RoiTracker, find_roi, find_roi_stack  # noqa: E402
from roi_cases import (CASES, HC18_DIR, HC18_FLUID, SYNTH_CURVED_DARK_FLANKS, case_path, coverage,  # noqa: E402
                       first_frame)
from train.synth.screen import VENDOR_LAYOUTS, vendor_screen, vendor_sweep  # noqa: E402


#: one capture of each distinct real screen (jpeg2k / US1_J2KR are US1_UNCR's screen, palette_color
#: a crop of OBXXXX1A's)
REAL_SCREENS = ("OBXXXX1A", "rgb_color", "US1_UNCR", "ybr_color", "color3d_jpeg_baseline", "gdcm-US-ALOKA-16",
                "JPGLosslessP14SV1")


def letterbox(im, W: int = 1920, H: int = 1080):
    """What a capture card delivers from a smaller screen: scaled (bilinear) to fit W×H, black bars, BGR."""
    if im.ndim == 2:
        im = cv2.cvtColor(im, cv2.COLOR_GRAY2BGR)
    h, w = im.shape[:2]
    k = min(W / w, H / h)
    nw, nh = int(round(w * k)), int(round(h * k))
    out = np.zeros((H, W, 3), np.uint8)
    x0, y0 = (W - nw) // 2, (H - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(im, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out


def frames_1080p():
    """1080p layouts for a fresh detection: real screens letterboxed, HC18 frames, vendor screens."""
    out = {}
    for name in REAL_SCREENS:
        im = first_frame(CASES[name])
        out[f"{name} {im.shape[1]}x{im.shape[0]} letterboxed"] = letterbox(im)
    if os.path.isdir(HC18_DIR):
        for name in HC18_FLUID[:2]:
            im = cv2.imread(os.path.join(HC18_DIR, name))
            out[f"HC18 {name[:6]} {im.shape[1]}x{im.shape[0]} letterboxed"] = letterbox(im)
    for name in VENDOR_LAYOUTS:
        out[f"vendor {name} (captured)"] = vendor_screen(name, seed=5, capture=True).image
    return out


def frames_native():
    """The real captures at their own sizes (what a recording holds)."""
    return {f"{n} {im.shape[1]}x{im.shape[0]}": im for n, im in
            ((n, first_frame(CASES[n])) for n in ("color3d_jpeg_baseline", "JPGLosslessP14SV1", "US1_UNCR"))}


def time_fresh(frames, repeat):
    """Per layout: CPU and wall ms of find_roi (p50, p95), and every sample for the pooled figures."""
    rows, cpu_all, wall_all = [], [], []
    for name, f in frames.items():
        find_roi(f)
        ts, cs = [], []
        for _ in range(repeat):
            c, t = time.thread_time(), time.perf_counter()
            r = find_roi(f)
            ts.append((time.perf_counter() - t) * 1000)
            cs.append((time.thread_time() - c) * 1000)
        cpu_all += cs
        wall_all += ts
        rows.append({"frame": name, "shape": list(f.shape), "cpu_p50_ms": round(float(np.median(cs)), 2),
                     "cpu_p95_ms": round(float(np.percentile(cs, 95)), 2), "p50_ms": round(float(np.median(ts)), 2),
                     "p95_ms": round(float(np.percentile(ts, 95)), 2), "kind": r.kind, "box": list(r.box)})
    summary = {"layouts": len(rows), "samples": len(cpu_all),
               "cpu_p50_ms": round(float(np.median(cpu_all)), 2), "cpu_p95_ms": round(float(np.percentile(cpu_all, 95)), 2),
               "p50_ms": round(float(np.median(wall_all)), 2), "p95_ms": round(float(np.percentile(wall_all, 95)), 2),
               "worst_layout_cpu_p50_ms": max(r["cpu_p50_ms"] for r in rows)}
    return rows, summary


def time_tracker(repeat):
    """Per-frame cost of RoiTracker.update on a 1080p sweep once locked (no periodic re-check), and
    with the default re-check every 5 s at 30 frames a second (amortised)."""
    v = vendor_screen("obstetric_zoom", seed=5, capture=True)
    frames = list(vendor_sweep(v, 60))
    rows = []
    for label, every in (("tracked 1080p, locked", 0.0), ("tracked 1080p, re-check every 5 s @30 fps", 5.0)):
        t = RoiTracker(verify_every_s=every)
        k = 0
        for f in frames[:3]:
            t.update(f, now=k / 30)
            k += 1
        ts, cs = [], []
        for _ in range(max(1, repeat * 10 // len(frames))):
            for f in frames:
                c0, t0 = time.thread_time(), time.perf_counter()
                t.update(f, now=k / 30)
                ts.append((time.perf_counter() - t0) * 1000)
                cs.append((time.thread_time() - c0) * 1000)
                k += 1
        rows.append({"frame": label, "shape": list(v.image.shape), "p50_ms": round(float(np.median(ts)), 3),
                     "p95_ms": round(float(np.percentile(ts, 95)), 3), "mean_ms": round(float(np.mean(ts)), 3),
                     "cpu_p50_ms": round(float(np.median(cs)), 3), "cpu_mean_ms": round(float(np.mean(cs)), 3),
                     "kind": t.result.kind, "state": t.state, "detections": t.detections, "frames": k})
    return rows


def _tile(im, r, inside, outside, label, size=(480, 360)):
    vis = im.copy() if im.ndim == 3 else cv2.cvtColor(im, cv2.COLOR_GRAY2BGR)
    vis[r.mask] = (0.7 * vis[r.mask] + 0.3 * np.array([0, 200, 0])).astype(np.uint8)
    th = max(2, int(round(vis.shape[1] / 400)))
    cv2.polylines(vis, [r.polygon.reshape(-1, 1, 2)], True, (0, 255, 255), th)
    for b in inside:
        cv2.rectangle(vis, tuple(map(int, b[:2])), (int(b[0] + b[2]), int(b[1] + b[3])), (0, 255, 0), th)
    for b in outside:
        cv2.rectangle(vis, tuple(map(int, b[:2])), (int(b[0] + b[2]), int(b[1] + b[3])), (0, 0, 255), th)
    k = min(size[0] / vis.shape[1], (size[1] - 26) / vis.shape[0])
    vis = cv2.resize(vis, (int(vis.shape[1] * k), int(vis.shape[0] * k)), interpolation=cv2.INTER_AREA)
    out = np.zeros((size[1], size[0], 3), np.uint8)
    out[:vis.shape[0], :vis.shape[1]] = vis
    cv2.rectangle(out, (0, size[1] - 26), (size[0], size[1]), (40, 40, 40), -1)
    cv2.putText(out, label, (6, size[1] - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 255) if "FAIL" in label else (255, 255, 255), 1, cv2.LINE_AA)
    return out


def sheet(path: Path) -> None:
    tiles = []
    for name, case in CASES.items():
        im = first_frame(case)
        r = find_roi(im)
        ok = all(coverage(r.mask, b) >= 0.97 for b in case["inside"]) and \
            all(coverage(r.mask, b) <= 0.02 for b in case["outside"])
        tiles.append(_tile(im, r, case["inside"], case["outside"],
                           f"{name[:24]}  {r.kind} {r.confidence:.2f}  {'PASS' if ok else 'FAIL'}"))
    if os.path.isdir(HC18_DIR):  # real fetal head frames with amniotic fluid (cropped to the image)
        for name in HC18_FLUID:
            im = cv2.imread(os.path.join(HC18_DIR, name))
            r = find_roi(im)
            tiles.append(_tile(im, r, [], [], f"HC18 {name[:6]}  {r.kind} {r.confidence:.2f}"))
    # the 120-frame SonoSite loop through find_roi_stack (16 frames)
    from engine.sources import open_source

    with open_source(case_path(CASES["color3d_jpeg_baseline"])) as src:
        frames = [f.image for f, _ in zip(src, range(16))]
    r = find_roi_stack(frames)
    tiles.append(_tile(np.max(np.stack(frames), 0), r, [], [], f"find_roi_stack, 16 frames: {r.kind} {r.confidence:.2f}"))
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i:i + 3]) for i in range(0, len(tiles), 3)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows))
    print(f"contact sheet: {path}")


def vendor_sheet(path: Path) -> None:
    """find_roi on each vendor-like layout, clean and as captured (noise + JPEG), 1080p."""
    tiles = []
    for capture in (False, True):
        for name in VENDOR_LAYOUTS:
            v = vendor_screen(name, seed=3, capture=capture)
            r = find_roi(v.image)
            ok = all(coverage(r.mask, b) >= 0.97 for b in v.inside) and \
                all(coverage(r.mask, b) <= 0.02 for b in v.outside) and r.box[1] > v.header_bottom
            iou = (r.mask & v.mask).sum() / (r.mask | v.mask).sum()
            tiles.append(_tile(v.image, r, v.inside, v.outside,
                               f"{name}{' captured' if capture else ''}  IoU {iou:.3f}  {'PASS' if ok else 'FAIL'}"))
    rows = [np.hstack(tiles[i:i + 3]) for i in range(0, len(tiles), 3)]
    cv2.imwrite(str(path), np.vstack(rows))
    print(f"vendor sheet: {path}")


def synth_sheet(path: Path, n: int = 8) -> None:
    """find_roi on screens from the synthetic generator (train.synth), for a look; the hand-marked
    one (a curved fan with dark flanks, tests/roi_cases.py) with its boxes and PASS/FAIL."""
    from train.synth.dataset import render_item

    tiles = []
    for i in range(n):
        plane = ["head", "abdomen", "femur"][i % 3]
        img, _ = render_item(plane, 1, i, size=[480, 480, 720, 360][i % 4], screen=True)
        r = find_roi(img)
        vis = img.copy()
        cv2.polylines(vis, [r.polygon.reshape(-1, 1, 2)], True, (0, 255, 255), 2)
        c = SYNTH_CURVED_DARK_FLANKS
        note = ""
        if (plane, i, img.shape[0]) == (c["plane"], c["index"], c["size"]) and c["seed"] == 1:
            for boxes, col in ((c["inside"], (0, 255, 0)), (c["outside"], (0, 0, 255))):
                for x, y, w, h in boxes:
                    cv2.rectangle(vis, (x, y), (x + w, y + h), col, 1)
            ok = all(coverage(r.mask, b) >= 0.97 for b in c["inside"]) and \
                all(coverage(r.mask, b) <= 0.02 for b in c["outside"])
            note = "  marked: PASS" if ok else "  marked: FAIL"
        vis = cv2.resize(vis, (480, 360), interpolation=cv2.INTER_AREA)
        cv2.putText(vis, f"{plane} {img.shape[1]}x{img.shape[0]} {r.kind} {r.confidence:.2f}{note}", (6, 353),
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
    ap.add_argument("--vendor-sheet", type=Path, default=None)
    a = ap.parse_args(argv)
    cv2.setNumThreads(a.threads)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    hdr = f"{'frame':46s} {'cpu p50':>8s} {'cpu p95':>8s} {'wall p50':>8s} {'wall p95':>8s}  kind"
    print(f"fresh detection (find_roi), ms per frame, {a.threads} OpenCV thread(s), {a.repeat} calls each")
    out = {}
    for title, frames in (("1080p", frames_1080p()), ("native", frames_native())):
        rows, summ = time_fresh(frames, a.repeat)
        print(hdr if title == "1080p" else f"-- the real captures at their own sizes")
        for r in rows:
            print(f"{r['frame']:46s} {r['cpu_p50_ms']:8.2f} {r['cpu_p95_ms']:8.2f} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f}  {r['kind']}")
        label = f"all {summ['layouts']} {title} layouts ({summ['samples']} calls)"
        print(f"{label:46s} {summ['cpu_p50_ms']:8.2f} {summ['cpu_p95_ms']:8.2f} {summ['p50_ms']:8.2f} {summ['p95_ms']:8.2f}"
              f"  worst layout's CPU p50 {summ['worst_layout_cpu_p50_ms']:.2f}")
        out[title] = {"layouts": rows, "summary": summ}
    tracked = time_tracker(a.repeat)
    print(f"tracked path (RoiTracker.update), ms per frame")
    for row in tracked:
        print(f"{row['frame']:46s} {row['cpu_p50_ms']:8.3f} {'':8s} {row['p50_ms']:8.3f} {row['p95_ms']:8.3f}  mean "
              f"{row['mean_ms']:.3f} ms (cpu {row['cpu_mean_ms']:.3f}), {row['detections']} detections in "
              f"{row['frames']} frames")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if load is not None:
        print(f"load average {load0:.1f} -> {load:.1f} on {os.cpu_count()} cores (CPU time is the calling thread's)")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({"opencv_threads": a.threads, "repeat": a.repeat, "load_average": [load0, load],
                                      "cpus": os.cpu_count(), "fresh_1080p": out["1080p"],
                                      "fresh_native": out["native"], "tracked": tracked}, indent=2))
    if a.sheet:
        sheet(a.sheet)
    if a.synth_sheet:
        synth_sheet(a.synth_sheet)
    if a.vendor_sheet:
        vendor_sheet(a.vendor_sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
