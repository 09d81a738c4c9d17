"""Ablation of MQF, CMX and GCC on synthetic data (what each component adds to a baseline).

    .venv/bin/python bench/ablation.py [--work /tmp/fuiqa_ablation] [--seeds 5] [--sizes 200,1000]
                                       [--epochs-small 10] [--epochs-large 3] [--out docs]

Data (made with ``fuiqa synth``, each set with its own generator seed, so no image is shared):
  * a training pool of max(sizes) images (generator seed 101); a run with n images takes a seeded
    random subset of n (the subset changes with the run seed);
  * a validation set (seed 202) used only for early stopping / best-epoch choice;
  * a fixed test set (seed 303) used only for the reported numbers — nothing is tuned on it.

Variants (each component added to the baseline on its own, then all together):
  baseline  fusion last, MSE, no mixing
  +MQF      fusion mqf,  MSE, no mixing
  +CMX      fusion last, MSE, CMX
  +GCC      fusion last, GCC, no mixing
  full      fusion mqf,  GCC, CMX

Every run trains the real-time model with train.trainer.fit on cached inputs (the same code path as
``fuiqa train``) and is scored on the test set (PLCC after the 4-parameter logistic, SRCC, KRCC, RMSE
after the mapping). Results are written after every run (docs/ablation.json, partial until complete),
then the table (docs/ablation.md) and plot (docs/ablation.png).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "baseline": {"fusion": "last", "loss": "mse", "mixing": "none"},
    "+MQF": {"fusion": "mqf", "loss": "mse", "mixing": "none"},
    "+CMX": {"fusion": "last", "loss": "mse", "mixing": "cmx"},
    "+GCC": {"fusion": "last", "loss": "gcc", "mixing": "none"},
    "full": {"fusion": "mqf", "loss": "gcc", "mixing": "cmx"},
}
KEYS = ("plcc", "srcc", "krcc", "rmse")

# Why does CMX not help? Variants of +CMX judged on the VALIDATION set only (best-epoch val SRCC), so
# nothing is chosen on the test set. `--diagnostic cmx` runs them on the small set.
CMX_DIAG = {
    "stratified only": {"fusion": "last", "loss": "mse", "mixing": "cmx", "mix_share": 0.0},
    "cmx mild": {"fusion": "last", "loss": "mse", "mixing": "cmx", "mix_share": 0.25, "alpha": 0.2, "p_within": 1.0},
}


def synth(out: Path, n: int, seed: int) -> Path:
    if (out / "labels.csv").exists():
        return out
    cmd = [sys.executable, "-m", "app.cli", "synth", str(out), "--n", str(n), "--seed", str(seed), "--sweeps", "0"]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def load_split(root: Path, size: int):
    from train.data import load_labelled
    from train.trainer import prepare_items

    ds = load_labelled(root)
    return prepare_items(ds.items, size), ds


def subset(split, idx):
    from train.trainer import Split

    return Split(split.x[idx], split.y[idx], [split.names[i] for i in idx])


def summarise(runs: list[dict]) -> dict:
    out = {}
    for r in runs:
        out.setdefault(str(r["n_train"]), {}).setdefault(r["variant"], []).append(r)
    table = {}
    for n, by in out.items():
        table[n] = {}
        for v, rs in by.items():
            table[n][v] = {k: {"mean": float(np.mean([r[k] for r in rs])), "std": float(np.std([r[k] for r in rs], ddof=1)) if len(rs) > 1 else 0.0}
                           for k in KEYS}
            table[n][v]["seeds"] = len(rs)
            table[n][v]["seconds_mean"] = float(np.mean([r["seconds"] for r in rs]))
    return table


def write_report(out_dir: Path, payload: dict, complete: bool) -> None:
    from engine.modelpack import atomic_write_bytes

    table = payload["table"]
    atomic_write_bytes(out_dir / "ablation.json", json.dumps(payload, indent=1).encode())
    lines = ["# Ablation: MQF, CMX, GCC on synthetic data", ""]
    if not complete:
        lines += ["**PARTIAL RESULTS** — the run did not finish all seeds/variants; counts per cell are shown.", ""]
    s = payload["settings"]
    lines += [f"Real-time model (rt, 128×128), trained with `train.trainer.fit` (same path as `fuiqa train`). "
              f"Test set: {s['n_test']} synthetic images (generator seed {s['seed_test']}), validation "
              f"{s['n_val']} (seed {s['seed_val']}, early stopping only), training pool seed {s['seed_pool']}. "
              f"Epochs: {s['epochs']}; batch {s['batch_size']}; seeds per cell: {s['seeds']}. "
              f"Metrics on the test set, mean ± std over seeds (PLCC/RMSE after the 4-parameter logistic).", ""]
    for n in sorted(table, key=int):
        lines += [f"## {n} training images", "", "| variant | PLCC | SRCC | KRCC | RMSE | seeds | s/run |", "|---|---|---|---|---|---|---|"]
        for v in VARIANTS:
            if v not in table[n]:
                continue
            c = table[n][v]
            cells = [f"{c[k]['mean']:.4f} ± {c[k]['std']:.4f}" if k != "rmse" else f"{c[k]['mean']:.2f} ± {c[k]['std']:.2f}" for k in KEYS]
            lines.append(f"| {v} | " + " | ".join(cells) + f" | {c['seeds']} | {c['seconds_mean']:.0f} |")
        lines.append("")
        # paired by seed (same training subset, same initial seed): variant − baseline
        runs = [r for r in payload["runs"] if str(r["n_train"]) == n]
        base = {r["seed"]: r for r in runs if r["variant"] == "baseline"}
        rows = []
        for v in VARIANTS:
            if v == "baseline":
                continue
            pairs = [(r, base[r["seed"]]) for r in runs if r["variant"] == v and r["seed"] in base]
            if not pairs:
                continue
            d = {k: np.array([a[k] - b[k] for a, b in pairs]) for k in ("srcc", "plcc")}
            wins = int(sum(x > 0 for x in d["srcc"]))
            rows.append(f"| {v} | {d['srcc'].mean():+.4f} ± {d['srcc'].std(ddof=1) if len(pairs) > 1 else 0:.4f} | "
                        f"{d['plcc'].mean():+.4f} ± {d['plcc'].std(ddof=1) if len(pairs) > 1 else 0:.4f} | {wins}/{len(pairs)} |")
        if rows:
            lines += [f"Paired by seed against the baseline ({n} images): difference, mean ± std over seeds, and "
                      "in how many seeds the variant's SRCC beat the baseline's.", "",
                      "| variant | ΔSRCC | ΔPLCC | SRCC wins |", "|---|---|---|---|", *rows, ""]
    atomic_write_bytes(out_dir / "ablation.md", ("\n".join(lines) + "\n" + payload.get("notes", "")).encode())
    try:
        plot(out_dir / "ablation.png", payload)
    except Exception as e:  # noqa: BLE001 - the table matters more than the picture
        print("plot failed:", e, file=sys.stderr)


def plot(path: Path, payload: dict) -> None:
    """A dot-and-whisker plot (mean ± std, every seed as a dot) drawn with OpenCV (no matplotlib here)."""
    import cv2

    runs = payload["runs"]
    sizes = sorted({r["n_train"] for r in runs})
    metrics = ("srcc", "plcc")
    W, H, pad = 520 * len(metrics), 60 + 220 * len(sizes), 60
    img = np.full((H, W, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, "Ablation on synthetic data (test set; dots = seeds, bar = mean +- std)", (20, 30), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    colors = [(120, 120, 120), (200, 120, 30), (40, 160, 40), (30, 30, 200), (150, 40, 150)]
    for si, n in enumerate(sizes):
        for mi, k in enumerate(metrics):
            x0, y0 = 20 + mi * 520, 60 + si * 220
            w, h = 480, 180
            vals_all = [r[k] for r in runs if r["n_train"] == n]
            if not vals_all:
                continue
            lo, hi = min(vals_all), max(vals_all)
            lo, hi = lo - 0.05 * (hi - lo + 1e-3), hi + 0.05 * (hi - lo + 1e-3)
            cv2.rectangle(img, (x0 + pad, y0), (x0 + w, y0 + h - 30), (0, 0, 0), 1)
            cv2.putText(img, f"{k.upper()}  n_train={n}", (x0 + pad, y0 - 6), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            for t in np.linspace(lo, hi, 4):
                yy = int(y0 + (h - 30) * (1 - (t - lo) / (hi - lo)))
                cv2.putText(img, f"{t:.3f}", (x0, yy + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
            for vi, v in enumerate(VARIANTS):
                vs = [r[k] for r in runs if r["n_train"] == n and r["variant"] == v]
                xx = int(x0 + pad + (vi + 0.5) * (w - pad) / len(VARIANTS))
                cv2.putText(img, v, (xx - 28, y0 + h - 10), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
                if not vs:
                    continue
                ys = lambda t: int(y0 + (h - 30) * (1 - (t - lo) / (hi - lo)))  # noqa: E731
                for j, t in enumerate(vs):
                    cv2.circle(img, (xx - 10 + 5 * (j % 5), ys(t)), 3, colors[vi], -1, cv2.LINE_AA)
                m, s = float(np.mean(vs)), float(np.std(vs))
                cv2.line(img, (xx + 16, ys(m - s)), (xx + 16, ys(m + s)), colors[vi], 2)
                cv2.line(img, (xx + 10, ys(m)), (xx + 22, ys(m)), colors[vi], 2)
    cv2.imwrite(str(path), img)


def diagnostic(args, pool, val, test, S, out_dir: Path, work: Path) -> int:
    from engine.modelpack import atomic_write_bytes
    from train.trainer import Prepared, TrainConfig, fit

    n = min(int(s) for s in args.sizes.split(","))
    path = out_dir / "ablation_cmx.json"
    runs = json.loads(path.read_text())["runs"] if path.exists() else []
    done = {(r["variant"], r["seed"]) for r in runs}
    for seed in range(args.diag_seeds):
        idx = np.random.default_rng([seed, n]).choice(len(pool), n, replace=False)
        data = Prepared(subset(pool, np.sort(idx)), val, test, S, synthetic=True)
        for v, over in CMX_DIAG.items():
            if (v, seed) in done:
                continue
            cfg = TrainConfig(**over, epochs=args.epochs_small, batch_size=args.batch_size, seed=seed,
                              patience=max(3, args.epochs_small), eval_boot=0, num_threads=args.threads,
                              bn_recal=args.bn_recal)
            t = time.time()
            r = fit(data, work / "diag" / f"{v.replace(' ', '_')}_{seed}", cfg, resume=False, write_model=False)
            runs.append({"variant": v, "seed": seed, "n_train": n, "config": over, "val_srcc": r.best_val_srcc,
                         "best_epoch": r.best_epoch, "seconds": round(time.time() - t, 1)})
            print(f"diag {v:<16} seed {seed}: val SRCC {r.best_val_srcc:.4f} ({runs[-1]['seconds']} s)", flush=True)
            atomic_write_bytes(path, json.dumps({"note": "validation-set SRCC (best epoch); the test set is not used",
                                                 "epochs": args.epochs_small, "runs": runs}, indent=1).encode())
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/fuiqa_ablation", help="where the synthetic sets and runs go")
    ap.add_argument("--out", default=str(ROOT / "docs"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--sizes", default="200,1000")
    ap.add_argument("--epochs-small", type=int, default=6, help="epochs for the 200-image set")
    ap.add_argument("--epochs-large", type=int, default=2, help="epochs for the largest set")
    ap.add_argument("--n-val", type=int, default=150)
    ap.add_argument("--n-test", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bn-recal", type=int, default=256)
    ap.add_argument("--diagnostic", choices=["cmx"], help="run the CMX diagnostic (validation set only)")
    ap.add_argument("--diag-seeds", type=int, default=3)
    ap.add_argument("--report-only", action="store_true", help="rewrite the table and plot from docs/ablation.json")
    ap.add_argument("--notes", help="a markdown file appended to docs/ablation.md (the analysis)")
    args = ap.parse_args(argv)

    if args.report_only:
        payload = json.loads((Path(args.out) / "ablation.json").read_text())
        if args.notes:
            payload["notes"] = Path(args.notes).read_text()
        write_report(Path(args.out), payload, payload.get("complete", False))
        return 0

    import torch

    from engine.model import arch
    from train.trainer import Prepared, TrainConfig, fit

    torch.set_num_threads(args.threads)
    work, out_dir = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    variants = args.variants.split(",")
    seeds = dict(seed_pool=101, seed_val=202, seed_test=303)
    pool_dir = synth(work / "pool", max(sizes), seeds["seed_pool"])
    val_dir = synth(work / "val", args.n_val, seeds["seed_val"])
    test_dir = synth(work / "test", args.n_test, seeds["seed_test"])
    S = arch("rt").input_size
    t0 = time.time()
    pool, pool_ds = load_split(pool_dir, S)
    val, _ = load_split(val_dir, S)
    test, _ = load_split(test_dir, S)
    print(f"prepared {len(pool)} + {len(val)} + {len(test)} images in {time.time() - t0:.0f} s", flush=True)

    if args.diagnostic:
        return diagnostic(args, pool, val, test, S, out_dir, work)

    epochs = {n: (args.epochs_large if n == max(sizes) and len(sizes) > 1 else args.epochs_small) for n in sizes}
    settings = {"n_test": len(test), "n_val": len(val), "n_pool": len(pool), **seeds, "seeds": args.seeds,
                "epochs": {str(n): e for n, e in epochs.items()}, "batch_size": args.batch_size, "sizes": sizes,
                "variants": {v: VARIANTS[v] for v in variants}, "threads": args.threads, "bn_recal": args.bn_recal}
    res_path = out_dir / "ablation.json"
    runs = []
    if res_path.exists():  # resume a partial ablation with the same settings
        old = json.loads(res_path.read_text())
        same = lambda a, b: {k: v for k, v in a.items() if k != "threads"} == {k: v for k, v in b.items() if k != "threads"}  # noqa: E731
        if same(old.get("settings", {}), settings):
            runs = old.get("runs", [])
            print(f"resuming: {len(runs)} runs already done", flush=True)
    done = {(r["n_train"], r["variant"], r["seed"]) for r in runs}
    total = len(sizes) * len(variants) * args.seeds
    for n in sizes:  # the small set first: if time runs out, it is the complete one
        for seed in range(args.seeds):
            idx = np.random.default_rng([seed, n]).choice(len(pool), n, replace=False) if n < len(pool) else np.arange(len(pool))
            data = Prepared(subset(pool, np.sort(idx)), val, test, S, synthetic=True)
            for v in variants:
                if (n, v, seed) in done:
                    continue
                cfg = TrainConfig(**VARIANTS[v], epochs=epochs[n], batch_size=args.batch_size, seed=seed,
                                  patience=max(3, epochs[n]), eval_boot=0, num_threads=args.threads,
                                  bn_recal=args.bn_recal)
                t = time.time()
                r = fit(data, work / "runs" / f"{n}_{v}_{seed}", cfg, resume=False, write_model=False)
                rec = {"n_train": n, "variant": v, "seed": seed, **{k: float(r.metrics[k]) for k in KEYS},
                       "plcc_raw": float(r.metrics["plcc_raw"]), "rmse_raw": float(r.metrics["rmse_raw"]),
                       "best_epoch": r.best_epoch, "val_srcc": r.best_val_srcc, "seconds": round(time.time() - t, 1)}
                runs.append(rec)
                print(f"[{len(runs)}/{total}] n={n} {v:<9} seed {seed}: SRCC {rec['srcc']:.4f} PLCC {rec['plcc']:.4f} "
                      f"RMSE {rec['rmse']:.2f} (best epoch {rec['best_epoch']}, {rec['seconds']} s)", flush=True)
                payload = {"settings": settings, "runs": runs, "table": summarise(runs), "complete": len(runs) == total}
                write_report(out_dir, payload, payload["complete"])
    print(f"done in {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
