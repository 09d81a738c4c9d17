"""Subcommands of ``fuiqa`` that belong to the engine (registered by app/cli.py).

    fuiqa score INPUT [--out scores.csv] [--heatmaps DIR] [--backend auto|ort|torch|tensorrt]
                      [--model PATH] [--roi auto|full|x,y,w,h] [--batch N]
    fuiqa roi IMAGE [--frame N]                     -> JSON {"x","y","w","h","kind","confidence"}
    fuiqa bench [--json PATH] [--backends ort,torch,tensorrt] [--seconds S]
    fuiqa export MODEL [--onnx OUT] [--fp16-onnx OUT] [--tensorrt] [--cache DIR] [--precision fp16|fp32]

Errors a user can cause (missing/corrupt input or model, bad ROI, unavailable backend) print one
line on stderr and exit with status 2, without a traceback (``FUIQA_DEBUG=1`` shows it).
"""
from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path

EXIT_USAGE = 2
BANNER = "!" * 78


def register(sub) -> None:
    """Add this package's subcommands to ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser("score", help="score every frame of a video, DICOM, image or folder (CSV, heatmaps)")
    p.add_argument("input", help="video (.mp4/.avi/...), DICOM, image, folder of images, or 'demo'")
    p.add_argument("--out", default=None, help="CSV to write (source,frame,time_s,score,status,band,plane,...); default: src_<hash>_scores.csv")
    p.add_argument("--heatmaps", default=None, metavar="DIR", help="write one PNG per frame: heatmap blended over the ROI")
    p.add_argument("--backend", default="auto", choices=["auto", "ort", "torch", "tensorrt"])
    p.add_argument("--model", default=None, help="model file (.fuiqa); default: the shipped default model")
    p.add_argument("--roi", default="auto", help="auto (found once on the first frames), full, or x,y,w,h")
    p.add_argument("--batch", type=int, default=8, help="frames scored per call (default 8)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip frames/images that cannot be read or scored (each one is listed) instead of stopping")
    p.add_argument("--keep-names", action="store_true",
                   help="name sources by their file names in the CSV and heatmaps (default: a short hash; "
                        "file names often carry the patient's name)")
    p.add_argument("--label", default=None,
                   help="name the source by this label in the CSV, heatmaps and default CSV name (a folder's "
                        "images become LABEL_0000, LABEL_0001, ...)")
    p.add_argument("--max-pixels", type=float, default=None, metavar="MP",
                   help="refuse frames larger than this many megapixels, from the file header (default 100)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("roi", help="find the ultrasound image region in a frame; prints JSON x,y,w,h")
    p.add_argument("image", help="image, DICOM or video")
    p.add_argument("--frame", type=int, default=0, help="frame of a multi-frame input (default 0)")
    p.set_defaults(func=cmd_roi)

    p = sub.add_parser("bench", help="benchmark preprocessing + scoring per backend (table + JSON)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the results as JSON here")
    p.add_argument("--backends", default="ort,torch,tensorrt", help="comma list of ort,torch,tensorrt (missing ones are skipped)")
    p.add_argument("--model", default=None, help="model file (.fuiqa); default: the shipped default model")
    p.add_argument("--seconds", type=float, default=3.0, help="time per measurement, over all rounds (default 3 s)")
    p.add_argument("--batches", default="1,16", help="batch sizes (default 1,16)")
    p.add_argument("--threads", default=None, help="ONNX Runtime thread counts to compare, e.g. 1,2")
    p.add_argument("--torch-threads", type=int, default=None, help="torch threads (default: ONNX Runtime's default)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best is reported with the spread")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("export", help="export a model's ONNX graph or build its TensorRT engine (cached)")
    p.add_argument("model", help="model file (.fuiqa)")
    p.add_argument("--onnx", default=None, metavar="OUT", help="write the float32 ONNX graph here")
    p.add_argument("--fp16-onnx", default=None, metavar="OUT", help="write the FP16 ONNX graph (float32 I/O) here")
    p.add_argument("--tensorrt", action="store_true", help="build (or find) the TensorRT engine in the cache")
    p.add_argument("--cache", default=None, metavar="DIR", help="TensorRT engine cache folder (default ~/.cache/fuiqa/trt)")
    p.add_argument("--precision", default="fp16", choices=["fp16", "fp32"])
    p.add_argument("--rebuild", action="store_true", help="rebuild the TensorRT engine even if cached")
    p.set_defaults(func=cmd_export)


# ----------------------------------------------------------------------------- error handling


def _user_errors():
    from . import modelpack
    from .scorers import BackendUnavailable

    errs = [modelpack.ModelError, BackendUnavailable, ValueError, OSError]
    try:
        from .sources import SourceError

        errs.append(SourceError)
    except ImportError:
        pass
    return tuple(errs)


def clean_errors(fn):
    """Turn the errors a user can cause into one stderr line and exit status 2."""

    @functools.wraps(fn)
    def run(args):
        try:
            return fn(args)
        except _user_errors() as e:
            if os.environ.get("FUIQA_DEBUG"):
                raise
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if isinstance(e, OSError) and getattr(e, "filename", None) and str(e.filename) not in msg:
                msg = f"{e.filename}: {msg}"
            print(f"fuiqa {fn.__name__.removeprefix('cmd_')}: error: {msg}", file=sys.stderr)
            return EXIT_USAGE

    return run


def _loud(msg: str) -> None:
    print(f"{BANNER}\n!! {msg}\n{BANNER}", file=sys.stderr)


# ----------------------------------------------------------------------------- ROI


def parse_roi_arg(text: str):
    """``auto`` -> "auto"; ``full``/``none`` -> None; ``x,y,w,h`` -> tuple (ValueError otherwise)."""
    t = (text or "auto").strip().lower()
    if t == "auto":
        return "auto"
    if t in ("full", "none"):
        return None
    try:
        from .roi import parse_roi
    except ImportError:
        parse_roi = None
    if parse_roi is not None:
        box = tuple(int(v) for v in parse_roi(text))
    else:
        try:
            box = tuple(int(v) for v in text.split(","))
        except ValueError:
            box = ()
        if len(box) != 4:
            raise ValueError(f"--roi {text!r}: expected auto, full or x,y,w,h")
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"--roi {text!r}: width and height must be positive")
    return box


def find_roi_once(frames):
    """The ROI of a clip, found once on its first frames. -> (box, mask or None, kind, confidence)."""
    try:
        from . import roi as roi_mod
    except ImportError as e:
        print(f"note: ROI finder unavailable ({e}); scoring the whole frame", file=sys.stderr)
        return None, None, "full", 0.0
    res = None
    stack = getattr(roi_mod, "find_roi_stack", None)
    if stack is not None and len(frames) > 1:
        try:
            res = stack(list(frames))
        except TypeError:
            res = None
    if res is None:
        res = roi_mod.find_roi(frames[0])
    return tuple(int(v) for v in res.box), getattr(res, "mask", None), getattr(res, "kind", "?"), float(getattr(res, "confidence", 0.0))


# ----------------------------------------------------------------------------- heatmap image


def heatmap_overlay(frame, heatmap, roi, size: int, mask=None, score: float | None = None, alpha: float = 0.45,
                    label: str | None = None):
    """The frame (BGR) with the colour-mapped heatmap (0–100, red poor → green good) blended over the ROI."""
    import cv2
    import numpy as np

    from .preprocess import heatmap_to_frame

    img = frame if frame.ndim == 3 and frame.shape[2] == 3 else None
    if img is None:
        g = frame[:, :, 0] if frame.ndim == 3 else frame
        img = cv2.cvtColor(np.ascontiguousarray(g), cv2.COLOR_GRAY2BGR)
    else:
        img = img.copy()
    patch, (x, y, w, h) = heatmap_to_frame(heatmap, roi, img.shape, size)
    u8 = np.clip(patch * 2.55, 0, 255).astype(np.uint8)
    # 0 -> red, 50 -> yellow, 100 -> green: a clinical traffic-light scale
    lut = np.zeros((256, 1, 3), np.uint8)
    v = np.arange(256)
    lut[:, 0, 2] = np.clip(2 * (255 - v), 0, 255)  # R
    lut[:, 0, 1] = np.clip(2 * v, 0, 255)  # G
    col = cv2.LUT(cv2.cvtColor(u8, cv2.COLOR_GRAY2BGR), lut)
    region = img[y : y + h, x : x + w]
    blend = cv2.addWeighted(region, 1 - alpha, col, alpha, 0)
    if mask is not None and getattr(mask, "shape", None) == img.shape[:2]:
        m = mask[y : y + h, x : x + w]
        region[m] = blend[m]
    else:
        region[:] = blend
    cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), (255, 255, 255), 1)
    if score is not None:
        text = f"{score:.1f}" + (f"  {label}" if label else "")
        cv2.putText(img, text, (x + 6, y + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, text, (x + 6, y + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return img


# ----------------------------------------------------------------------------- score


def _progress(total, disable):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    long_input = total is None or total >= 50
    return tqdm(total=total, unit="frame", disable=True if (disable or not long_input) else None, file=sys.stderr,
                dynamic_ncols=True, leave=False)


@clean_errors
def cmd_score(args) -> int:
    import numpy as np

    from . import modelpack
    from .result import csv_cells
    from .score_run import (RoiPlan, RunLog, default_csv_name, one_line, read_batches, score_batch, scrub,
                            source_label, user_label)
    from .scorers import make_scorer
    from .sources import FolderSource, open_source, set_max_pixels

    if args.batch < 1:
        raise ValueError(f"--batch must be ≥ 1, not {args.batch}")
    if getattr(args, "max_pixels", None):
        set_max_pixels(int(args.max_pixels * 1e6))
    keep = bool(getattr(args, "keep_names", False))
    skip_bad = bool(getattr(args, "skip_bad", False))
    roi_spec = parse_roi_arg(args.roi)
    scorer = make_scorer(args.backend, args.model)
    warning = scorer.warning
    if warning:
        _loud(warning)
    print(f"model: {scorer.package.describe()}", file=sys.stderr)
    print(f"backend: {scorer.backend}: {scorer.reason}", file=sys.stderr)
    label = user_label(getattr(args, "label", None))
    src = open_source(args.input, **({"skip_bad": True} if skip_bad and Path(str(args.input)).is_dir() else {}))
    out = Path(args.out) if args.out else (Path(f"{label}_scores.csv") if label else default_csv_name(args.input, keep))
    hdir = Path(args.heatmaps) if args.heatmaps else None
    if hdir:
        hdir.mkdir(parents=True, exist_ok=True)
    log = RunLog()
    t0 = time.perf_counter()
    plan = RoiPlan(roi_spec, independent=isinstance(src, FolderSource))
    interrupted = False
    bar = _progress(src.frame_count, args.no_progress)
    file_of = getattr(src, "file_of", None)
    src_path = str(getattr(src, "path", args.input))
    names = [src_path] + [str(p) for p in getattr(src, "files", [])]
    base_label = label or source_label(src_path, keep)

    def label_of(f) -> str:
        if file_of:
            return f"{label}_{f.index:04d}" if label else source_label(file_of(f.index), keep, full=True)
        return base_label

    def write_heatmap(f, s, hm, roi):
        import cv2

        from .score_run import region_overlay

        img = region_overlay(f.image, hm, roi, scorer.input_size, float(s), label="UNTRAINED" if warning else None)
        ok, buf = cv2.imencode(".png", img)
        if ok:
            stem = Path(label_of(f)).stem if file_of else Path(base_label).stem
            modelpack.atomic_write_bytes(hdir / f"{stem}_{f.index:06d}.png", buf.tobytes())

    try:
        with src:
            for batch in read_batches(src, args.batch, log, skip_bad, lambda m: scrub(m, names, keep)):
                if plan.described is None:
                    plan.start([f.image for f in batch])
                    print(f"roi: {plan.described}", file=sys.stderr)
                for f, r, roi in score_batch(scorer, plan, batch, log, skip_bad, label_of):
                    s, hm = r.score, r.heatmap
                    log.rows.append((label_of(f), f.index, round(float(f.time_s), 4), round(float(s), 3), *csv_cells(r)))
                    if hdir:
                        write_heatmap(f, s, hm, roi)
                if bar is not None:
                    bar.update(len(batch))
    except KeyboardInterrupt:  # a live source runs until Ctrl-C: keep what was scored
        interrupted = True
    except _user_errors() as e:  # a later frame failed: keep the rows scored so far, mark the run
        log.failure = scrub(one_line(e), names, keep)
        print(f"fuiqa score: error: {one_line(e)}", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
        scorer.close()
    elapsed = time.perf_counter() - t0
    for msg in getattr(src, "warnings", []) or []:
        if msg in (getattr(src, "skipped", None) or []):
            continue  # already listed as skipped
        print(f"warning: {msg}", file=sys.stderr)
        if not file_of:
            log.damaged[base_label] = scrub(msg, names, keep)
    if not log.rows:
        if log.failure is not None:
            return EXIT_USAGE  # the error is printed; there is nothing to keep
        raise ValueError(f"{args.input}: no frames to score" + (f" ({len(log.skipped)} skipped)" if log.skipped else ""))
    modelpack.atomic_write_bytes(out, log.csv_bytes(warning))
    for line in log.summary_lines():
        print(line, file=sys.stderr)
    rows = log.rows
    scores = np.array([r[3] for r in rows])
    b = int(np.argmax(scores))
    what = "highest output (NOT quality: untrained model)" if warning else "best frame"
    print(f"{len(rows)} frames in {elapsed:.2f} s ({len(rows) / max(elapsed, 1e-9):.1f} frames/s, "
          f"{scorer.backend}); {what}: frame {rows[b][1]} at {rows[b][2]:.2f} s, score {rows[b][3]:.1f}; "
          f"mean {scores.mean():.1f}; wrote {out}" + (f" and {len(rows)} heatmaps in {hdir}" if hdir else ""))
    if warning:
        _loud(warning)
    if interrupted:
        print("interrupted: the frames scored so far were written", file=sys.stderr)
        return 130
    if log.incomplete:
        print(f"INCOMPLETE: {out} holds the {len(rows)} frame(s) scored before the error", file=sys.stderr)
        return EXIT_USAGE
    return 0


# ----------------------------------------------------------------------------- roi


@clean_errors
def cmd_roi(args) -> int:
    from .roi import find_roi
    from .sources import open_source

    with open_source(args.image) as src:
        if args.frame:
            try:
                src.seek(args.frame)
            except (NotImplementedError, IndexError) as e:
                raise ValueError(f"{args.image}: cannot go to frame {args.frame}: {e}") from None
        f = src.read()
    if f is None:
        raise ValueError(f"{args.image}: no frame {args.frame}")
    r = find_roi(f.image)
    x, y, w, h = (int(v) for v in r.box)
    print(json.dumps({"x": x, "y": y, "w": w, "h": h, "kind": r.kind, "confidence": round(float(r.confidence), 3)}))
    return 0


# ----------------------------------------------------------------------------- bench


@clean_errors
def cmd_bench(args) -> int:
    from .bench import main_args

    return main_args(args)


# ----------------------------------------------------------------------------- export


@clean_errors
def cmd_export(args) -> int:
    from . import modelpack

    pkg = modelpack.load(args.model)
    print(f"model: {pkg.describe()} (ONNX hash {pkg.model_hash[:16]})")
    did = False
    if args.onnx:
        modelpack.atomic_write_bytes(args.onnx, pkg.onnx)
        print(f"wrote {args.onnx} (float32 ONNX, dynamic batch)")
        did = True
    if args.fp16_onnx:
        from .export import onnx_to_fp16

        try:
            data = onnx_to_fp16(pkg.onnx)
        except ImportError as e:
            raise ValueError(f"FP16 conversion needs onnxconverter-common ({e})") from None
        modelpack.atomic_write_bytes(args.fp16_onnx, data)
        print(f"wrote {args.fp16_onnx} (FP16 ONNX, float32 I/O)")
        did = True
    if args.tensorrt:
        from .tensorrt import TensorRTScorer

        s = TensorRTScorer(pkg, cache_dir=args.cache, precision=args.precision, rebuild=args.rebuild)
        print(f"TensorRT engine {'built' if s.built_now else 'already cached'}: {s.engine_file}")
        s.close()
        did = True
    if not did:
        # no output asked for: prove the package's graph still runs and agrees with its weights
        if pkg.weights is not None:
            from .export import check_onnx_against_torch

            diff = check_onnx_against_torch(modelpack.torch_model(pkg), pkg.onnx)
            print(f"ONNX graph agrees with the torch weights (max score difference {diff:.4f} points)")
        print("nothing written (use --onnx OUT, --fp16-onnx OUT or --tensorrt)")
    return 0
