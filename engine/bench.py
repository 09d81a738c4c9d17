"""Engine benchmark: preprocessing + scoring per backend on the same weights (``fuiqa bench``).

Measures, in one run:

* preprocessing alone of a 1920×1080 BGR frame (crop to the ROI, gray, letterbox, normalise);
* per backend (ONNX Runtime, torch eager, TensorRT where present) and batch size (1 and 16):
  end to end (preprocessing of 1080p frames included) frames/s and p50/p95 latency per call, and
  the model alone (frames/s, achieved GFLOP/s beside the model's GFLOPs per frame).

Prints a table and, with ``--json PATH``, writes the numbers as JSON. Timing lives here, never in
tests. The machine is shared and noisy: run it a few times and read the spread.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

#: a typical scanner-screen ROI inside a 1920×1080 capture
ROI_1080 = (360, 110, 1200, 860)


def synthetic_frame_1080(seed: int = 0) -> np.ndarray:
    """A 1920×1080 BGR 'screen capture': speckle fan on black with some text-like blocks."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((1080, 1920, 3), np.uint8)
    sp = (rng.rayleigh(40, (860, 1200)).clip(0, 255)).astype(np.uint8)
    mask = np.zeros((860, 1200), np.uint8)
    cv2.ellipse(mask, (600, 0), (840, 840), 0, 45, 135, 255, -1)
    sp[mask == 0] = 0
    img[110:970, 360:1560] = sp[:, :, None]
    cv2.putText(img, "GE LOGIQ  OB 2/3  MI 0.9", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (230, 230, 230), 2)
    return img


def measure(fn, seconds: float = 1.5, min_iters: int = 15, max_iters: int = 20000, warmup: int = 5) -> np.ndarray:
    """Call ``fn`` repeatedly; -> per-call seconds (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        fn()
    ts = []
    end = time.perf_counter() + seconds
    while len(ts) < max_iters and (len(ts) < min_iters or time.perf_counter() < end):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return np.asarray(ts)


def _stats(ts: np.ndarray, batch: int) -> dict:
    return {
        "calls": int(len(ts)),
        "p50_ms": float(np.median(ts) * 1e3),
        "p95_ms": float(np.percentile(ts, 95) * 1e3),
        "frames_per_s": float(batch / np.mean(ts)),
    }


def _make(backend: str, pkg, threads=None):
    from .scorers import make_scorer

    kw = {}
    if backend == "ort" and threads:
        kw["threads"] = int(threads)
    if backend == "torch":
        kw["device"] = "cpu"
    if backend == "torch-cuda":  # FP16 autocast on the GPU
        backend, kw["device"] = "torch", "cuda"
    return make_scorer(backend, pkg, **kw)


def run(model=None, backends=("ort", "torch", "tensorrt"), batches=(1, 16), seconds: float = 1.5,
        ort_threads=None, torch_threads=None, rounds: int = 3, log=print) -> dict:
    from . import modelpack
    from .preprocess import preprocess
    from .scorers import BackendUnavailable

    pkg = model if isinstance(model, modelpack.ModelPackage) else modelpack.load(model or modelpack.default_model_path())
    gflops = pkg.meta.get("gflops")
    if gflops is None:
        from .model import count_flops

        gflops = count_flops(modelpack.torch_model(pkg))
    gflops = float(gflops)
    frame = synthetic_frame_1080()
    S = pkg.input_size
    out = np.empty((1, S, S), np.float32)
    pre = _stats(measure(lambda: preprocess(frame, ROI_1080, S, out=out), seconds), 1)
    log(f"preprocess 1920x1080 BGR -> {S}x{S}: p50 {pre['p50_ms']:.3f} ms, {pre['frames_per_s']:.0f} frames/s")

    try:
        import torch

        # same thread count as ONNX Runtime's default, so the comparison is like for like
        from .scorers import default_ort_threads

        torch.set_num_threads(int(torch_threads or default_ort_threads()))
        torch_threads = torch.get_num_threads()
    except ImportError:
        torch, torch_threads = None, None

    configs = []
    for b in backends:
        if b == "ort":
            for th in (ort_threads or [None]):
                configs.append(("ort", th))
        else:
            configs.append((b, None))
            if b == "torch" and torch is not None and torch.cuda.is_available():
                configs.append(("torch-cuda", None))
    results, skipped, scorers = [], {}, []
    for backend, th in configs:
        label = backend if th is None else f"{backend}/{th}t"
        try:
            scorers.append((label, _make(backend, pkg, th)))
        except (BackendUnavailable, ImportError) as e:
            skipped[label] = str(e)
            log(f"{label}: skipped ({e})")
    # interleaved rounds: every configuration is measured once per round, so a burst of load from
    # other processes hits all of them alike; each row keeps its best round and the spread
    rounds = max(1, int(rounds))
    per = {}
    for rnd in range(rounds):
        for label, scorer in scorers:
            for B in batches:
                frames = [frame] * B
                x = scorer.preprocess(frames, ROI_1080).copy()
                e2e = _stats(measure(lambda: scorer.score(frames, ROI_1080), seconds / rounds), B)
                mod = _stats(measure(lambda: scorer.score_tensor(x), seconds / rounds), B)
                per.setdefault((label, B), []).append((e2e, mod))
    for label, scorer in scorers:
        for B in batches:
            runs = per[(label, B)]
            e2e = max((r[0] for r in runs), key=lambda d: d["frames_per_s"])
            mod = max((r[1] for r in runs), key=lambda d: d["frames_per_s"])
            e2e["rounds_frames_per_s"] = [round(r[0]["frames_per_s"], 1) for r in runs]
            mod["rounds_frames_per_s"] = [round(r[1]["frames_per_s"], 1) for r in runs]
            row = {
                "backend": scorer.backend,
                "label": label,
                "detail": scorer.reason,
                "batch": B,
                "end_to_end": e2e,
                "model_only": mod,
                "gflops_per_frame": gflops,
                "achieved_gflop_per_s": gflops * mod["frames_per_s"],
            }
            if scorer.backend == "onnxruntime":
                row["threads"] = scorer.threads
            if scorer.backend == "torch":
                row["threads"] = torch_threads
            results.append(row)
            log(f"{label:10s} batch {B:3d}: end to end {e2e['frames_per_s']:8.1f} frames/s "
                f"(p50 {e2e['p50_ms']:.2f} ms, p95 {e2e['p95_ms']:.2f} ms); model alone {mod['frames_per_s']:8.1f} frames/s")
        scorer.close()

    def best(backend, B):
        rs = [r for r in results if r["backend"] == backend and r["batch"] == B and r["label"] != "torch-cuda"]
        return max(rs, key=lambda r: r["end_to_end"]["frames_per_s"]) if rs else None

    targets = {}
    o1, t1 = best("onnxruntime", 1), best("torch", 1)
    if o1:
        targets["ort_batch1_end_to_end_fps"] = o1["end_to_end"]["frames_per_s"]
        targets["ort_batch1_target_200fps_met"] = o1["end_to_end"]["frames_per_s"] >= 200
    if o1 and t1:
        sp = o1["end_to_end"]["frames_per_s"] / t1["end_to_end"]["frames_per_s"]
        targets["ort_vs_torch_batch1_speedup"] = sp
        targets["ort_vs_torch_target_3x_met"] = sp >= 3
        spm = o1["model_only"]["frames_per_s"] / t1["model_only"]["frames_per_s"]
        targets["ort_vs_torch_batch1_model_only_speedup"] = spm
    import onnxruntime as ort

    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(),
            "onnxruntime": ort.__version__,
            "torch": getattr(torch, "__version__", None),
            "torch_threads": torch_threads,
        },
        "model": {"name": pkg.name, "arch": pkg.meta["arch"].get("name"), "input_size": S, "gflops": gflops,
                  "hash": pkg.model_hash[:16], "trained": pkg.trained},
        "frame": {"shape": list(frame.shape), "roi": list(ROI_1080)},
        "seconds_per_measurement": seconds,
        "rounds": rounds,
        "preprocess": pre,
        "results": results,
        "skipped": skipped,
        "targets": targets,
    }


def table(res: dict) -> str:
    lines = []
    m = res["model"]
    lines.append(f"model {m['name']} ({m['arch']}, {m['input_size']}px, {m['gflops']:.4f} GFLOPs/frame); "
                 f"{res['machine']['cpus']} CPUs; load {res['machine']['load_avg']}")
    p = res["preprocess"]
    lines.append(f"preprocess alone (1920x1080 BGR): p50 {p['p50_ms']:.3f} ms, p95 {p['p95_ms']:.3f} ms, "
                 f"{p['frames_per_s']:.0f} frames/s")
    hdr = (f"| {'backend':10s} | batch | e2e frames/s | e2e p50 ms | e2e p95 ms | model frames/s | GFLOP/s "
           f"| e2e frames/s per round |")
    lines += [hdr, "|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|"]
    for r in res["results"]:
        e, mo = r["end_to_end"], r["model_only"]
        lines.append(f"| {r['label']:10s} | {r['batch']:5d} | {e['frames_per_s']:12.1f} | {e['p50_ms']:10.3f} | "
                     f"{e['p95_ms']:10.3f} | {mo['frames_per_s']:14.1f} | {r['achieved_gflop_per_s']:7.2f} "
                     f"| {' / '.join(f'{v:.0f}' for v in e.get('rounds_frames_per_s', []))} |")
    for k, v in res["skipped"].items():
        lines.append(f"{k}: skipped: {v}")
    t = res["targets"]
    if "ort_batch1_end_to_end_fps" in t:
        lines.append(f"target ≥ 200 frames/s end to end, ONNX Runtime batch 1: {t['ort_batch1_end_to_end_fps']:.0f} "
                     f"-> {'MET' if t['ort_batch1_target_200fps_met'] else 'NOT MET'}")
    if "ort_vs_torch_batch1_speedup" in t:
        lines.append(f"target ≥ 3x torch eager (batch 1, end to end): {t['ort_vs_torch_batch1_speedup']:.2f}x "
                     f"-> {'MET' if t['ort_vs_torch_target_3x_met'] else 'NOT MET'} "
                     f"(model alone {t['ort_vs_torch_batch1_model_only_speedup']:.2f}x)")
    return "\n".join(lines)


def main_args(args) -> int:
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("ort", "torch", "tensorrt"):
            raise ValueError(f"--backends: unknown backend {b!r} (ort, torch, tensorrt)")
    batches = [int(v) for v in str(args.batches).split(",") if v.strip()]
    if not batches or min(batches) < 1:
        raise ValueError(f"--batches {args.batches!r}: need positive integers")
    threads = [int(v) for v in args.threads.split(",")] if getattr(args, "threads", None) else None
    res = run(args.model, backends, batches, args.seconds, threads, getattr(args, "torch_threads", None),
              getattr(args, "rounds", 3),
              log=lambda m: print(m, file=sys.stderr))
    print(table(res))
    if args.json:
        from .modelpack import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(res, indent=2).encode())
        print(f"wrote {args.json}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench_engine", description=__doc__.splitlines()[0])
    p.add_argument("--json", default=None)
    p.add_argument("--backends", default="ort,torch,tensorrt")
    p.add_argument("--model", default=None)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--batches", default="1,16")
    p.add_argument("--threads", default=None)
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument("--rounds", type=int, default=3)
    return main_args(p.parse_args(argv))
