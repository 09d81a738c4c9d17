"""Paired, full-factorial ablation of MQF, GCC and CMX on label-skewed synthetic data (and, with --task hc18,
on real HC18 frames with real-frame degradations: bench/ablation_data.py), at a fixed budget
of optimiser steps.

    .venv/bin/python bench/ablation.py --pilot             # 1. how many steps reach the plateau
    .venv/bin/python bench/ablation.py --steps N            # 2. the study (resumable), docs/ablation.*
    .venv/bin/python bench/ablation.py --tiny --out /tmp/x  # an end-to-end check in a few minutes

Design (fixed before running; the report repeats it):
  * cells: fusion {last, mqf} × loss {mse, gcc} × mixing {none, cmx} — all 8, trained with
    train.trainer.fit (the `fuiqa train` path; CMX as in train/mixing.py, GCC with the scale-free τ);
  * seeds: ≥ 5; within a seed every cell gets the same training subset and the same initial seed
    (paired), across seeds both change;
  * data (made once with `fuiqa synth`, each set its own generator seed, preprocessed once to a cache
    under --work): a training pool (seed 101) from which each seed draws a small subset (--n-train,
    default 300) with skewed labels like real FUIQA sets (bench/synthsets.SKEW: 15 % < 60, 70 % 60–79,
    15 % ≥ 80); a validation set (seed 202, same skew) used only to pick the best epoch; a large fixed
    test set (seed 303, same skew) used only for the reported numbers — nothing is tuned on it;
  * budget: every run makes the same number of optimiser steps (--steps, rounded up to whole epochs;
    batches per epoch do not depend on the cell), no early stopping; the budget comes from the pilot
    (--pilot: the two extreme cells on 2 seeds at 3× the budget, validation SRCC per epoch);
  * analysis, per seed (the pairing unit): main effect of a factor = mean test SRCC (and PLCC) of the 4
    cells with it − the 4 without; CMX×GCC interaction = (CMX effect under GCC) − (CMX effect under
    MSE), averaged over fusion; simple effects of CMX and GCC under each other's levels. Intervals:
    95 % t-interval over seeds, and a two-level bootstrap (seeds and test images resampled together,
    same test indices for every cell) for SRCC.

Decision rule (written before the study is run): a component HELPS if its main effect on test SRCC is
> 0 in at least 80 % of the seeds (4 of 5) AND both 95 % intervals exclude 0; it HURTS by the mirror
rule; otherwise the effect is NOT DETECTED at this budget. The same rule reads the interaction
(> 0: CMX helps more with GCC than with MSE) and the simple effects ("where it helps").
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ablation_data import bands, datasets, train_subset  # noqa: E402
from bench.synthsets import subset  # noqa: E402

FACTORS = {"fusion": ("last", "mqf"), "loss": ("mse", "gcc"), "mixing": ("none", "cmx")}
CELLS = {"·".join(c): dict(zip(FACTORS, c)) for c in itertools.product(*FACTORS.values())}
KEYS = ("plcc", "srcc", "krcc", "rmse")
TINY = dict(pool_n=300, val_pool_n=120, test_pool_n=200, n_train=64, n_val=40, n_test=120, steps=24, seeds=2,
            batch_size=16, pilot_steps=48)

_DATA: dict = {}


# --------------------------------------------------------------------------------------------------
# one run (in a worker process: one torch thread each)


def run_one(args_d: dict, cell: str, seed: int, steps: int) -> dict:
    import torch

    from engine.model import build_model
    from train.mixing import n_batches
    from train.trainer import Prepared, TrainConfig, fit, predict

    args = argparse.Namespace(**args_d)
    torch.set_num_threads(1)
    if not _DATA:
        _DATA.update(datasets(args))
    d = _DATA
    tr = subset(d["pool"], train_subset(d["pool"], args.n_train, seed))
    data = Prepared(tr, d["val"], d["test"], d["size"], f"ablation-{seed}", synthetic=d.get("synthetic", True))
    epochs = max(1, math.ceil(steps / n_batches(len(tr), args.batch_size)))
    cfg = TrainConfig(**CELLS[cell], epochs=epochs, batch_size=args.batch_size, seed=seed, patience=epochs + 1,
                      eval_boot=0, num_threads=1, input_size=args.input_size)
    task = getattr(args, "task", "synth")
    out = Path(args.work) / "runs" / (f"{cell}_{seed}_{steps}" if task == "synth" else f"{task}_{cell}_{seed}_{steps}")
    t = time.time()
    r = fit(data, out, cfg, resume=False, write_model=False)
    ck = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)
    model = build_model("rt", cfg.fusion, cfg.input_size)
    model.load_state_dict(ck["best"]["state"])
    pred = predict(model, d["test"].x, torch.device("cpu"))
    np.save(out / "test_pred.npy", pred)
    return {"cell": cell, **CELLS[cell], "seed": seed, **{k: float(r.metrics[k]) for k in KEYS},
            "steps": epochs * n_batches(len(tr), args.batch_size), "epochs": epochs, "best_epoch": r.best_epoch,
            "val_srcc": r.best_val_srcc, "val_curve": [h["val_srcc"] for h in r.history], "pred": str(out / "test_pred.npy"),
            "seconds": round(time.time() - t, 1)}


def run_all(args, jobs, steps: int, on_result) -> None:
    if args.workers <= 1:
        for cell, seed in jobs:
            on_result(run_one(vars(args), cell, seed, steps))
        return
    import multiprocessing as mp

    with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as ex:
        futs = [ex.submit(run_one, vars(args), cell, seed, steps) for cell, seed in jobs]
        for f in as_completed(futs):
            on_result(f.result())


# --------------------------------------------------------------------------------------------------
# analysis


def contrasts() -> dict:
    """name -> weights over CELLS (per seed: Σ w·metric). With a factor held fixed (``--fix``) the
    remaining cells form a smaller full factorial and the fixed factor has no main effect."""
    def w(fn):
        return {c: fn(f) for c, f in CELLS.items()}

    half = len(CELLS) / 2  # cells at each level of a varying factor
    varying = [k for k in FACTORS if len({f[k] for f in CELLS.values()}) == 2]
    hi = lambda f, k: 1.0 if f[k] == FACTORS[k][1] else 0.0  # noqa: E731
    main = {f"{k} ({FACTORS[k][1]} vs {FACTORS[k][0]})": w(lambda f, k=k: (2 * hi(f, k) - 1) / half) for k in varying}
    inter = {"CMX×GCC interaction": w(lambda f: 2 * (2 * hi(f, "mixing") - 1) * (2 * hi(f, "loss") - 1) / half)}
    simple = {}
    for lvl in ("gcc", "mse"):
        simple[f"CMX under {lvl}"] = w(lambda f, lvl=lvl: 2 * (2 * hi(f, "mixing") - 1) / half if f["loss"] == lvl else 0.0)
    for lvl in ("cmx", "none"):
        simple[f"GCC under mixing {lvl}"] = w(lambda f, lvl=lvl: 2 * (2 * hi(f, "loss") - 1) / half if f["mixing"] == lvl else 0.0)
    return {**main, **inter, **simple}


def fix_cells(spec: str | None) -> None:
    """``--fix fusion=mqf``: run only the cells at that level (rebinds CELLS for this process)."""
    global CELLS
    if not spec:
        return
    k, _, v = spec.partition("=")
    if k not in FACTORS or v not in FACTORS[k]:
        raise SystemExit(f"--fix {spec!r}: need FACTOR=LEVEL with FACTOR in {list(FACTORS)} and one of its levels")
    CELLS = {c: f for c, f in CELLS.items() if f[k] == v}


def verdict(per_seed: np.ndarray, ci_t, ci_boot) -> str:
    share = 0.8
    pos, neg = np.mean(per_seed > 0), np.mean(per_seed < 0)
    # both intervals must exclude 0: the lower of the two lower bounds above it (or the higher upper below)
    lo = min(ci_t[0], ci_boot[0]) if ci_boot else ci_t[0]
    hi = max(ci_t[1], ci_boot[1]) if ci_boot else ci_t[1]
    if pos >= share and lo > 0:
        return "HELPS"
    if neg >= share and hi < 0:
        return "HURTS"
    return "not detected"


def _resample(rng, n: int, groups) -> np.ndarray:
    """Bootstrap test indices: images, or whole groups (a frame and its degradations) when given."""
    if groups is None:
        return rng.integers(0, n, n)
    names, inv = np.unique(np.asarray(groups), return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(len(names))]
    return np.concatenate([members[g] for g in rng.integers(0, len(names), len(names))])


def analyse(runs: list[dict], test_y: np.ndarray, n_boot: int = 1000, seed: int = 0, groups=None) -> dict:
    from scipy import stats

    seeds = sorted({r["seed"] for r in runs if all((c, r["seed"]) in {(q["cell"], q["seed"]) for q in runs} for c in CELLS)})
    if not seeds:
        return {"seeds": [], "effects": {}}
    by = {(r["cell"], r["seed"]): r for r in runs}
    preds = {(c, s): np.load(by[(c, s)]["pred"]) for c in CELLS for s in seeds}
    effects = {}
    rng = np.random.default_rng(seed)
    boot_idx = [(rng.integers(0, len(seeds), len(seeds)), _resample(rng, len(test_y), groups)) for _ in range(n_boot)]
    for name, w in contrasts().items():
        res = {}
        for k in ("srcc", "plcc"):
            e = np.array([sum(w[c] * by[(c, s)][k] for c in CELLS) for s in seeds])
            m = float(e.mean())
            if len(e) > 1:
                h = float(stats.t.ppf(0.975, len(e) - 1) * e.std(ddof=1) / np.sqrt(len(e)))
                ci_t = (m - h, m + h)
            else:
                ci_t = (float("nan"), float("nan"))
            res[k] = {"mean": m, "per_seed": e.tolist(), "wins": int(np.sum(e > 0)), "ci_t": ci_t}
        # two-level bootstrap on SRCC: seeds and test images resampled together
        vals = []
        for si, ti in boot_idx:
            yb = stats.rankdata(test_y[ti])
            tot = 0.0
            for s in np.asarray(seeds)[si]:
                for c in CELLS:
                    if w[c]:
                        tot += w[c] * np.corrcoef(stats.rankdata(preds[(c, s)][ti]), yb)[0, 1]
            vals.append(tot / len(si))
        res["srcc"]["ci_boot"] = (float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5)))
        res["verdict"] = verdict(np.array(res["srcc"]["per_seed"]), res["srcc"]["ci_t"], res["srcc"]["ci_boot"]) if len(seeds) > 1 else "too few seeds"
        effects[name] = res
    return {"seeds": seeds, "effects": effects}


def write_report(out_dir: Path, stem: str, payload: dict) -> None:
    from engine.modelpack import atomic_write_bytes

    atomic_write_bytes(out_dir / f"{stem}.json", json.dumps(payload, indent=1, default=float).encode())
    s, runs, an = payload["settings"], payload["runs"], payload["analysis"]
    L = ["# Ablation: MQF × GCC × CMX, paired, at a fixed step budget", ""]
    if not payload["complete"]:
        L += ["**PARTIAL RESULTS** — not every cell × seed has run; effects use only complete seeds.", ""]
    L += [f"Real-time model ({s['size']} px), `train.trainer.fit`. Task: {s['about']}. Training: {s['n_train']} "
          f"images per seed, label bands <60 / 60–79 / ≥80 ≈ {s['train_bands']}; test bands {s['test_bands']}. "
          f"Budget: {s['steps']} optimiser steps per run (batch {s['batch_size']}), no early stopping. "
          f"Seeds: {an.get('seeds')}.", "", "## Design and decision rule (fixed before running)", "",
          __doc__.split("Design (fixed before running; the report repeats it):")[1].strip(), "",
          "## Cells (test set, mean ± sd over seeds)", "", "| cell (fusion·loss·mixing) | SRCC | PLCC | RMSE | best epoch | seeds |",
          "|---|---|---|---|---|---|"]
    for c in CELLS:
        rs = [r for r in runs if r["cell"] == c]
        if rs:
            f = lambda k: f"{np.mean([r[k] for r in rs]):.4f} ± {np.std([r[k] for r in rs], ddof=1) if len(rs) > 1 else 0:.4f}"  # noqa: E731
            L.append(f"| {c} | {f('srcc')} | {f('plcc')} | {f('rmse')} | {np.mean([r['best_epoch'] for r in rs]):.0f} | {len(rs)} |")
    L += ["", "## Effects (paired by seed)", "", "| effect | ΔSRCC | 95 % t (seeds) | 95 % bootstrap (seeds × images) | wins | ΔPLCC | verdict |",
          "|---|---|---|---|---|---|---|"]
    for name, e in an.get("effects", {}).items():
        sr, pl = e["srcc"], e["plcc"]
        L.append(f"| {name} | {sr['mean']:+.4f} | [{sr['ci_t'][0]:+.4f}, {sr['ci_t'][1]:+.4f}] | "
                 f"[{sr['ci_boot'][0]:+.4f}, {sr['ci_boot'][1]:+.4f}] | {sr['wins']}/{len(sr['per_seed'])} | {pl['mean']:+.4f} | {e['verdict']} |")
    if an.get("effects"):
        try:
            plot_effects(out_dir / f"{stem}.png", an["effects"])
            L += ["", f"![effects]({stem}.png)"]
        except Exception as e:  # noqa: BLE001 - the table matters more than the picture
            print("plot failed:", e, file=sys.stderr)
    atomic_write_bytes(out_dir / f"{stem}.md", ("\n".join(L) + "\n" + payload.get("notes", "")).encode())


def plot_effects(path: Path, effects: dict) -> None:
    """ΔSRCC per effect: dots = seeds, thick bar = 95 % t-interval, thin bar = seeds × images bootstrap."""
    import cv2

    names = list(effects)
    vals = [v for e in effects.values() for v in (*e["srcc"]["per_seed"], *e["srcc"]["ci_boot"])
            if np.isfinite(v)] + [v for e in effects.values() for v in e["srcc"]["ci_t"] if np.isfinite(v)] + [0.0]
    lo, hi = min(vals), max(vals)
    lo, hi = lo - 0.05 * (hi - lo + 1e-3), hi + 0.05 * (hi - lo + 1e-3)
    W, row, left = 900, 34, 250
    img = np.full((60 + row * len(names), W, 3), 255, np.uint8)
    X = lambda v: int(left + (W - left - 20) * (v - lo) / (hi - lo))  # noqa: E731
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, "test SRCC effect (dots: seeds; thick: 95% t; thin: seeds x images bootstrap)", (10, 22), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.line(img, (X(0), 34), (X(0), img.shape[0] - 10), (150, 150, 150), 1)
    for i, n in enumerate(names):
        y = 50 + row * i
        e = effects[n]["srcc"]
        cv2.putText(img, n[:34], (8, y + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        if all(np.isfinite(e["ci_boot"])):
            cv2.line(img, (X(e["ci_boot"][0]), y + 7), (X(e["ci_boot"][1]), y + 7), (200, 120, 30), 2)
        if all(np.isfinite(e["ci_t"])):
            cv2.line(img, (X(max(lo, e["ci_t"][0])), y), (X(min(hi, e["ci_t"][1])), y), (40, 40, 200), 3)
        for v in e["per_seed"]:
            cv2.circle(img, (X(v), y - 8), 3, (40, 140, 40), -1, cv2.LINE_AA)
        cv2.circle(img, (X(e["mean"]), y), 5, (0, 0, 0), -1, cv2.LINE_AA)
    for t in np.linspace(lo, hi, 5):
        cv2.putText(img, f"{t:+.3f}", (X(t) - 20, img.shape[0] - 2), font, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), img)


def pilot(args, d) -> int:
    from engine.modelpack import atomic_write_bytes

    cells = ["last·mse·none", "mqf·gcc·cmx"]
    runs = []
    run_all(args, [(c, s) for c in cells for s in range(2)], args.pilot_steps, runs.append)
    lines = ["| cell | seed | steps | epochs | best epoch | best val SRCC |", "|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["cell"], r["seed"])):
        lines.append(f"| {r['cell']} | {r['seed']} | {r['steps']} | {r['epochs']} | {r['best_epoch']} | {r['val_srcc']:.4f} |")
    lines += ["", "| cell | seed | plateau step (smoothed val SRCC first within 0.01 of its best) | val SRCC at 10 %, 20 %, … 100 % of the steps |",
              "|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["cell"], r["seed"])):
        c = np.asarray(r["val_curve"])
        sm = np.convolve(c, np.ones(3) / 3, mode="same") if len(c) >= 3 else c
        first = int(np.argmax(sm >= sm.max() - 0.01)) + 1
        spe = r["steps"] / max(1, r["epochs"])
        at = [c[min(len(c) - 1, int(round(q * len(c))) - 1)] for q in np.linspace(0.1, 1, 10)]
        lines.append(f"| {r['cell']} | {r['seed']} | {first * spe:.0f} of {r['steps']} | {' '.join(f'{v:.3f}' for v in at)} |")
    text = "\n".join(lines)
    print(text)
    atomic_write_bytes(Path(args.out) / ("ablation_pilot.json" if args.task == "synth" else f"ablation_{args.task}_pilot.json"), json.dumps({"runs": runs, "table_md": text}, indent=1).encode())
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/fuiqa_ablation2")
    ap.add_argument("--out", default=str(ROOT / "docs"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1500, help="optimiser steps per run (from the pilot)")
    ap.add_argument("--pilot", action="store_true")
    ap.add_argument("--pilot-steps", type=int, default=4500)
    ap.add_argument("--n-train", type=int, default=300)
    ap.add_argument("--n-val", type=int, default=200)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--pool-n", type=int, default=3000, help="synthetic images the training subsets come from")
    ap.add_argument("--val-pool-n", type=int, default=1600)
    ap.add_argument("--test-pool-n", type=int, default=7000, help="enough for n-test with 70 %% in 60-79")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--input-size", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="processes, one torch thread each")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--task", choices=("synth", "hc18"), default="synth",
                    help="synth: skewed synthetic sets; hc18: real HC18 frames with real-frame degradations")
    ap.add_argument("--fix", default=None, metavar="FACTOR=LEVEL",
                    help="hold one factor at a level (e.g. fusion=mqf): the other two form a 2x2 full factorial")
    ap.add_argument("--report-only", action="store_true", help="re-analyse the finished runs and rewrite the report")
    ap.add_argument("--tiny", action="store_true", help="a few-minute end-to-end check (not a result)")
    args = ap.parse_args(argv)
    if args.tiny:
        for k, v in TINY.items():
            setattr(args, k, v)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    d = datasets(args)
    print(f"data ready in {time.time() - t0:.0f} s: test {len(d['test'])} bands {bands(d['test'].y)}", flush=True)
    if args.pilot:
        return pilot(args, d)
    tr0 = subset(d["pool"], train_subset(d["pool"], args.n_train, 0))
    fix_cells(args.fix)
    settings = {k: getattr(args, k) for k in ("task", "fix", "seeds", "steps", "n_train", "n_val", "n_test", "pool_n", "batch_size", "input_size")}
    settings.update(size=d["size"], about=d["about"], train_bands=[round(b, 2) for b in bands(tr0.y)],
                    test_bands=[round(b, 2) for b in bands(d["test"].y)])
    stem = "ablation" if args.task == "synth" else f"ablation_{args.task}"
    res_path = out_dir / f"{stem}.json"
    runs = []
    if res_path.exists():
        old = json.loads(res_path.read_text())
        if old.get("settings") == settings and "analysis" in old:
            runs = old["runs"]
            print(f"resuming: {len(runs)} runs done", flush=True)
    done = {(r["cell"], r["seed"]) for r in runs}
    jobs = [(c, s) for s in range(args.seeds) for c in CELLS if (c, s) not in done]
    total = len(CELLS) * args.seeds

    state = {"analysis": {"seeds": [], "effects": {}}}

    def on_result(r):
        runs.append(r)
        print(f"[{len(runs)}/{total}] {r['cell']:<14} seed {r['seed']}: SRCC {r['srcc']:.4f} PLCC {r['plcc']:.4f} "
              f"({r['steps']} steps, best epoch {r['best_epoch']}/{r['epochs']}, {r['seconds']} s)", flush=True)
        complete = len(runs) == total
        if complete or sum(q["seed"] == r["seed"] for q in runs) == len(CELLS):  # a seed is complete: re-analyse
            state["analysis"] = analyse(runs, d["test"].y, args.boot if complete else 200, groups=d["test"].groups)
        write_report(out_dir, stem, {"settings": settings, "runs": runs, "complete": complete, "analysis": state["analysis"]})

    if args.report_only:
        if jobs:
            raise SystemExit(f"--report-only: {len(jobs)} runs still missing")
        complete = True
        state["analysis"] = analyse(runs, d["test"].y, args.boot, groups=d["test"].groups)
        write_report(out_dir, stem, {"settings": settings, "runs": runs, "complete": complete, "analysis": state["analysis"]})
        print(f"re-analysed {len(runs)} runs; {out_dir / (stem + '.md')}")
        return 0
    run_all(args, jobs, args.steps, on_result)
    print(f"done in {time.time() - t0:.0f} s; {out_dir / (stem + '.md')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
