#!/usr/bin/env python
"""Mutation check: break the code on purpose, one small change at a time, and see whether the tests
notice. A mutant that *survives* (the tests still pass) marks a line no test really checks.

Two kinds of mutants:

* **operator mutants**, generated from the source tokens of chosen functions of the core modules
  (``+``↔``-``, ``*``↔``/``, ``<``↔``<=``, ``==``↔``!=``, ``and``↔``or``, ``True``↔``False``,
  ``min``↔``max``, a number n → n+1 (int) or 2n (float), ``+=``↔``-=``); strings and comments are
  never touched;
* **targeted mutants** (``TARGETED`` below): the breakages a probe found that the suite let through
  (``score --roi`` ignored, ``fuiqa roi`` giving the whole frame, letterbox padding kept, BGR read as
  RGB, ...), kept here so that they stay caught.

Each mutant runs in a private copy of the working tree (``git ls-files``), so the tree itself is
never modified; the copy's tests run with ``pytest -x`` on the test files listed for that module,
under a time limit (a mutant that hangs counts as caught). Slow: not part of CI. Usage::

    nice -n 10 .venv/bin/python tools/mutate.py                    # everything (see docs/testing.md)
    .venv/bin/python tools/mutate.py --list                        # the mutants, nothing run
    .venv/bin/python tools/mutate.py --module engine/preprocess.py --sample 20 --seed 1
    .venv/bin/python tools/mutate.py --targeted-only --json mutate.json

It prints one line per mutant (``caught`` / ``SURVIVED`` / ``stale``) and a table of survival rates.
"""
from __future__ import annotations

import argparse
import ast
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: module -> (functions whose lines are mutated, or None for the whole module; tests that guard it)
MODULES: dict[str, tuple[list[str] | None, list[str]]] = {
    "engine/preprocess.py": (None, ["tests/test_holes_preprocess.py", "tests/test_holes_model_pin.py",
                                    "tests/test_model_core.py::test_preprocess_formats_agree",
                                    "tests/test_model_core.py::test_preprocess_letterbox_keeps_aspect_and_pads",
                                    "tests/test_model_core.py::test_preprocess_roi_is_clipped_and_batch_matches_single",
                                    "tests/test_model_core.py::test_heatmap_maps_back_onto_roi",
                                    "tests/test_scorers.py"]),
    "engine/scorers.py": (["_is_single_roi", "_roi_box", "normalize_inputs", "Scorer._batch", "Scorer.preprocess",
                           "Scorer.score", "Scorer.score_one", "_concat", "OrtScorer.score_tensor",
                           "TorchScorer.__init__", "TorchScorer.score_tensor"],
                          ["tests/test_holes_model_pin.py", "tests/test_holes_scorer.py", "tests/test_scorers.py",
                           "tests/test_holes_cli.py"]),
    "engine/roi.py": (["parse_roi"], ["tests/test_holes_cli.py", "tests/test_roi.py"]),
    "engine/roi_signal.py": (["_to_uint8", "roi_signal"],
                             ["tests/test_holes_cli.py::test_roi_box_is_the_fan_not_the_frame", "tests/test_roi.py"]),
    "engine/roi_find.py": (["_classify", "_finish", "find_roi"],
                           ["tests/test_holes_cli.py::test_roi_box_is_the_fan_not_the_frame",
                            "tests/test_holes_cli.py::test_roi_frame_option_reads_that_frame", "tests/test_roi.py"]),
    "train/losses.py": (["pearson", "soft_rank", "hard_rank", "GCCLoss.forward", "NormInNormLoss.forward",
                         "MSELoss.forward", "L1Loss.forward"],
                        ["tests/test_holes_metrics.py", "tests/test_losses.py"]),
    "train/metrics.py": (["logistic4", "_as_arrays", "_pearson", "fit_logistic", "map_predictions", "compute",
                          "bootstrap_ci"],
                         ["tests/test_holes_metrics.py", "tests/test_metrics.py"]),
}

OPS = {"+": "-", "-": "+", "*": "/", "/": "*", "//": "/", "**": "*", "<": "<=", "<=": "<", ">": ">=", ">=": ">",
       "==": "!=", "!=": "==", "+=": "-=", "-=": "+=", "*=": "/=", "/=": "*="}
NAMES = {"True": "False", "False": "True", "and": "or", "or": "and", "min": "max", "max": "min"}


@dataclass
class Mutant:
    id: str
    file: str
    line: int  # 1-based, of the original text
    old: str  # text replaced (exactly once in the file)
    new: str
    tests: list[str]
    note: str = ""


# ----------------------------------------------------------------------------- targeted mutants
#: (id, file, old, new, tests, what it breaks)
TARGETED = [
    ("T-score-roi-ignored", "engine/cli.py", "                        roi = roi_spec\n",
     "                        roi = None\n", ["tests/test_holes_cli.py", "tests/test_cli_engine.py"],
     "fuiqa score --roi x,y,w,h ignored"),
    ("T-roi-whole-frame", "engine/cli.py", "    x, y, w, h = (int(v) for v in r.box)\n",
     "    x, y, w, h = 0, 0, f.image.shape[1], f.image.shape[0]\n",
     ["tests/test_holes_cli.py", "tests/test_cli_engine.py"], "fuiqa roi prints the whole frame"),
    ("T-roi-frame-ignored", "engine/cli.py", "        if args.frame:\n", "        if False:\n",
     ["tests/test_holes_cli.py"], "fuiqa roi --frame N ignored"),
    ("T-heatmap-keeps-padding", "engine/preprocess.py",
     "    inner = up[geo.oy : geo.oy + geo.nh, geo.ox : geo.ox + geo.nw]\n", "    inner = up\n",
     ["tests/test_holes_preprocess.py", "tests/test_model_core.py"], "heatmap_to_frame keeps the letterbox padding"),
    ("T-bgr-as-rgb", "engine/preprocess.py",
     'code = cv2.COLOR_BGR2GRAY if color == "bgr" else cv2.COLOR_RGB2GRAY',
     'code = cv2.COLOR_RGB2GRAY if color == "bgr" else cv2.COLOR_BGR2GRAY',
     ["tests/test_holes_preprocess.py", "tests/test_model_core.py"], "BGR frames read as RGB"),
    ("T-color-rgb-ignored", "engine/preprocess.py",
     'code = cv2.COLOR_BGR2GRAY if color == "bgr" else cv2.COLOR_RGB2GRAY', "code = cv2.COLOR_BGR2GRAY",
     ["tests/test_holes_preprocess.py"], 'preprocess(color="rgb") ignored'),
    ("T-synthetic-banner-gone", "app/main_window.py", "        if not w and pkg is not None and pkg.synthetic:\n",
     "        if False:\n", ["tests/test_holes_gui.py"], "no MODEL TRAINED ON SYNTHETIC DATA banner"),
    ("T-debug-ignored", "engine/cli.py", '            if os.environ.get("FUIQA_DEBUG"):\n',
     "            if False:\n", ["tests/test_holes_cli.py"], "FUIQA_DEBUG=1 no longer shows the traceback"),
    ("T-trt-menu-always-on", "app/main_window.py", "        self.trt_action.setEnabled(gpu_ok)\n",
     "        self.trt_action.setEnabled(True)\n", ["tests/test_gui_retrain.py", "tests/test_holes_gui.py"],
     "Tools ▸ TensorRT enabled without TensorRT"),
    ("T-ort-torch-drift", "engine/scorers.py", "        return ScoreResult(s.float().cpu().numpy(),",
     "        return ScoreResult(s.float().cpu().numpy() + 0.01,", ["tests/test_scorers.py"],
     "torch scores 0.01 points off ORT (the old 0.5-point tolerance let it through)"),
    ("T-synth-gain-ignored", "train/synth/quality.py", "gain_db=float(gsign * 28.0 * s[\"gain\"]",
     "gain_db=float(gsign * 0.0 * s[\"gain\"]", ["tests/test_synth_pixels.py"], "gain factor does not change the image"),
    ("T-synth-defocus-ignored", "train/synth/quality.py", 'psf_scale=1.0 + 4.0 * s["defocus"]',
     "psf_scale=1.0", ["tests/test_synth_pixels.py"], "defocus does not blur"),
    ("T-synth-shadow-ignored", "train/synth/quality.py", '        acq.shadow_width = float(s["shadow"] * 0.9 * 2 * hx * scale)\n',
     "        acq.shadow_width = 0.0\n", ["tests/test_synth_pixels.py"], "no shadow band"),
    ("T-synth-noise-ignored", "train/synth/quality.py", '        noise=s["noise"],\n', "        noise=0.0,\n",
     ["tests/test_synth_pixels.py"], "noise factor adds no noise"),
    ("T-synth-dr-ignored", "train/synth/quality.py", 'dr_db=float(60.0 * 1.9 ** (dsign * s["dynamic_range"]))',
     "dr_db=60.0", ["tests/test_synth_pixels.py"], "dynamic range does not change contrast"),
    ("T-synth-motion-ignored", "train/synth/quality.py", 'motion_mm=5.0 * s["motion"]', "motion_mm=0.0",
     ["tests/test_synth_pixels.py"], "motion does not blur"),
    ("T-synth-zoom-ignored", "train/synth/quality.py", '    fill *= rng.uniform(0.93, 1.07)\n',
     "    fill = 0.68 * rng.uniform(0.93, 1.07)\n", ["tests/test_synth_pixels.py"], "zoom does not magnify"),
]


# ----------------------------------------------------------------------------- operator mutants


def _function_lines(tree: ast.Module, names: list[str] | None) -> set[int]:
    """Line numbers of the bodies (without docstrings) of the named functions (``Class.method``)."""
    lines: set[int] = set()

    def add(fn):
        body = fn.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        for node in body:
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if names is None or node.name in names:
                add(node)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        names is None or f"{node.name}.{sub.name}" in names):
                    add(sub)
        elif names is None and isinstance(node, (ast.Assign, ast.AnnAssign)):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def operator_mutants(rel: str, funcs: list[str] | None, tests: list[str]) -> list[Mutant]:
    src = (ROOT / rel).read_text()
    lines = _function_lines(ast.parse(src), funcs)
    text_lines = src.splitlines(keepends=True)
    out = []
    toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
    for k, t in enumerate(toks):
        (row, col), (erow, ecol) = t.start, t.end
        if row not in lines or row != erow:
            continue
        new = None
        if t.type == tokenize.OP and t.string in OPS:
            new = OPS[t.string]
            if t.string == "*" and k + 1 < len(toks) and toks[k + 1].string in (",", ")"):
                continue  # keyword-only marker / star-args, not arithmetic
            if t.string in ("*", "**") and k > 0 and toks[k - 1].string in ("(", ","):
                continue  # *args / **kwargs
        elif t.type == tokenize.NAME and t.string in NAMES:
            new = NAMES[t.string]
        elif t.type == tokenize.NUMBER:
            try:
                v = ast.literal_eval(t.string)
            except (ValueError, SyntaxError):
                continue
            if isinstance(v, bool) or isinstance(v, complex):
                continue
            new = repr(v + 1) if isinstance(v, int) else repr(v * 2 if v != 0 else 1.0)
        if new is None:
            continue
        line = text_lines[row - 1]
        mutated = line[:col] + new + line[ecol:]
        # the mutated line plus enough of its neighbours to make the replacement unique in the file
        old_ctx, new_ctx = line, mutated
        lo, hi = row - 1, row
        while src.count(old_ctx) != 1 and (lo > 0 or hi < len(text_lines)):
            lo, hi = max(0, lo - 1), min(len(text_lines), hi + 1)
            old_ctx = "".join(text_lines[lo:hi])
            new_ctx = "".join(text_lines[lo:row - 1]) + mutated + "".join(text_lines[row:hi])
        out.append(Mutant(f"{rel}:{row}:{col}:{t.string}->{new}", rel, row, old_ctx, new_ctx, tests,
                          line.strip()))
    return out


def targeted_mutants() -> list[Mutant]:
    out = []
    for mid, rel, old, new, tests, note in TARGETED:
        src = (ROOT / rel).read_text()
        line = src[: src.find(old)].count("\n") + 1 if old in src else 0
        out.append(Mutant(mid, rel, line, old, new, tests, note))
    return out


# ----------------------------------------------------------------------------- running


def make_copy() -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True, timeout=60).stdout.decode().split("\0")
    dst = Path(tempfile.mkdtemp(prefix="fuiqa_mutate_"))
    for f in files:
        if not f or not (ROOT / f).is_file():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dst / f)
    return dst


def run_mutant(m: Mutant, copy: Path, timeout_s: float, python: str) -> tuple[str, float]:
    path = copy / m.file
    original = path.read_text()
    if original.count(m.old) != 1:
        return "stale", 0.0
    path.write_text(original.replace(m.old, m.new))
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1", QT_QPA_PLATFORM="offscreen")
    env.pop("FUIQA_DEBUG", None)
    t0 = time.perf_counter()
    try:
        p = subprocess.run([python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests], cwd=copy, env=env,
                           capture_output=True, text=True, timeout=timeout_s, start_new_session=True)
        # 0: all passed; 1: a test failed; 2: collection error (the mutant broke an import) - caught;
        # 3-5 (internal/usage error, nothing collected): the run proves nothing - reported as an error
        status = {0: "SURVIVED", 1: "caught", 2: "caught"}.get(p.returncode, f"error rc={p.returncode}")
    except subprocess.TimeoutExpired:
        status = "caught"  # hung: the tests' time limits would fail it too
    finally:
        path.write_text(original)
    return status, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", action="append", help="only these modules (repeatable), e.g. engine/preprocess.py")
    ap.add_argument("--targeted-only", action="store_true")
    ap.add_argument("--no-targeted", action="store_true")
    ap.add_argument("--sample", type=int, default=None, help="at most N operator mutants per module (random)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=None, help="comma list of mutant ids (or id prefixes)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant (default 300)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)

    mutants: list[Mutant] = []
    if not args.targeted_only:
        rng = random.Random(args.seed)
        for rel, (funcs, tests) in MODULES.items():
            if args.module and rel not in args.module:
                continue
            ms = operator_mutants(rel, funcs, tests)
            if args.sample is not None and len(ms) > args.sample:
                ms = sorted(rng.sample(ms, args.sample), key=lambda m: (m.line, m.id))
            mutants += ms
    if not args.no_targeted and not args.module:
        mutants += targeted_mutants()
    if args.only:
        keys = args.only.split(",")
        mutants = [m for m in mutants if any(m.id.startswith(k) for k in keys)]
    if args.list:
        for m in mutants:
            print(f"{m.id:60s} {m.note[:70]}")
        print(f"{len(mutants)} mutants")
        return 0

    copy = make_copy()
    results = []
    try:
        for k, m in enumerate(mutants, 1):
            status, dt = run_mutant(m, copy, args.timeout, sys.executable)
            results.append({**asdict(m), "status": status, "seconds": round(dt, 1)})
            print(f"[{k}/{len(mutants)}] {status:8s} {dt:6.1f}s  {m.id}  | {m.note[:80]}", flush=True)
    finally:
        shutil.rmtree(copy, ignore_errors=True)

    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault("targeted" if r["id"].startswith("T-") else r["file"], []).append(r)
    print(f"\n| {'set':24s} | mutants | caught | survived | stale | survival |")
    print(f"| {'-' * 24} | ------- | ------ | -------- | ----- | -------- |")
    for g, rs in groups.items():
        n_s = sum(r["status"] == "SURVIVED" for r in rs)
        n_c = sum(r["status"] == "caught" for r in rs)
        n_x = sum(r["status"] == "stale" for r in rs)
        rate = n_s / max(1, n_s + n_c)
        print(f"| {g:24s} | {len(rs):7d} | {n_c:6d} | {n_s:8d} | {n_x:5d} | {100 * rate:7.1f}% |")
    survivors = [r for r in results if r["status"] == "SURVIVED"]
    if survivors:
        print("\nsurvivors:")
        for r in survivors:
            print(f"  {r['id']}  | {r['note']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
